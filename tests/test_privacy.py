"""Privacy operations through the front doors (issue #29): a planted customer erased over
HTTP with the `erase` scope, nothing of them left in the store's files or the server's log,
every read audited without personal data, a subject export and retention from the CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import Server, new_key, run_cxml

PLANTED = "CUST-ZEPHYR-7731"
SENTENCE = "the quokka-shaped router blinked magenta all weekend"
EMAIL = "zephyr.quill@example.org"
PHONE = "07700 900461"


def _files(folder: Path) -> None:
    customers = [
        {"customer_id": f"C{i}", "signup_date": "2025-01-05", "monthly_value": 20 + i}
        for i in range(6)
    ] + [{"customer_id": PLANTED, "signup_date": "2025-02-01", "monthly_value": 55}]
    pd.DataFrame(customers).to_csv(folder / "customers.csv", index=False)
    feedback = [
        {
            "feedback_id": f"F{i}",
            "customer_id": f"C{i % 6}",
            "created_at": f"2025-0{1 + i % 6}-15T10:00:00",
            "channel": "email" if i % 2 else "survey",
            "text": ["Great service, thanks", "Too expensive for what it is", "Slow support"][
                i % 3
            ],
            "nps": (i * 3) % 11,
        }
        for i in range(18)
    ] + [
        {
            "feedback_id": "FZ1",
            "customer_id": PLANTED,
            "created_at": "2025-03-02T08:00:00",
            "channel": "email",
            "text": f"{SENTENCE}. Write to {EMAIL} or call {PHONE}.",
            "nps": 2,
        }
    ]
    pd.DataFrame(feedback).to_csv(folder / "feedback.csv", index=False)


def _ok(args: list[str], folder: Path) -> str:
    done = run_cxml(args, folder)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_customer_erased_over_http_is_gone_and_every_read_is_audited(tmp_path: Path) -> None:
    _files(tmp_path)
    _ok(["ingest", "customers", "customers.csv"], tmp_path)
    _ok(["ingest", "feedback", "feedback.csv"], tmp_path)
    _ok(["train", "text"], tmp_path)  # MLflow runs whose artifacts quote comments
    _ok(["analyze", "--store"], tmp_path)
    quoted = b"".join(p.read_bytes() for p in tmp_path.rglob("sample_annotated.jsonl"))
    assert SENTENCE.encode() in quoted  # the search below can find them
    url = "sqlite:///cxml.db"
    keys = {s: new_key(tmp_path, url, s) for s in ("read", "admin", "erase", "pii")}
    server = Server(tmp_path, url, log_level="info")  # with request logging
    try:
        with httpx.Client(base_url=server.base, timeout=60) as api:

            def call(method: str, path: str, key: str, **options: object) -> httpx.Response:
                return api.request(method, path, headers={"X-API-Key": keys[key]}, **options)

            assert call("GET", f"/v1/customers/{PLANTED}", "read").status_code == 200
            exported = call("GET", f"/v1/customers/{PLANTED}/export", "pii")
            assert exported.status_code == 200, exported.text
            assert SENTENCE in exported.json()["feedback"][0]["text"]
            assert call("GET", f"/v1/customers/{PLANTED}/export", "read").status_code == 403
            assert call("DELETE", f"/v1/customers/{PLANTED}", "admin").status_code == 403
            erased = call("DELETE", f"/v1/customers/{PLANTED}", "erase")
            assert erased.status_code == 200, erased.text
            body = erased.json()
            assert body["counts"]["customers"] == 1 and body["counts"]["feedback"] == 1
            assert body["counts"]["feedback_analysis"] == 1 and not body["nothing_held"]
            again = call("DELETE", f"/v1/customers/{PLANTED}", "erase").json()
            assert again["nothing_held"] and again["customer_hash"] == body["customer_hash"]
            assert call("GET", f"/v1/customers/{PLANTED}", "read").status_code == 404
            assert call("GET", "/v1/customers/C1", "read").status_code == 200
            reads = call("GET", "/v1/audit", "admin", params={"kind": "read"}).json()["items"]
            actions = [r["action"] for r in reads]
            assert actions.count("customer.erased") == 2 and "export.subject" in actions
            assert actions.count("read.customer") >= 1
            assert PLANTED not in json.dumps(reads)  # reads of the erased customer keep no id
            admin_only = call("GET", "/v1/audit", "admin", params={"kind": "admin"}).json()
            assert all(
                not r["action"].startswith(("read.", "export.", "customer."))
                for r in admin_only["items"]
            )
    finally:
        server.stop()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cxml.db*"))
    everything = {
        p: p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file() and p.suffix != ".csv"  # the files ingested, a copy outside cxml
    }
    for planted in (SENTENCE, EMAIL, PHONE, PLANTED):
        holding = [str(p) for p, data in everything.items() if planted.encode() in data]
        assert not holding, (planted, holding)
    assert b"Too expensive for what it is" in stored  # everyone else is still there
    logged = b"".join(p.read_bytes() for p in tmp_path.glob("serve-*.log"))
    assert b"/v1/customers/{customer_id}/export" in logged  # requests were logged, as templates
    assert body["artifact_rows"] >= 1


def test_subject_export_and_retention_from_the_command_line(tmp_path: Path) -> None:
    _files(tmp_path)
    _ok(["ingest", "customers", "customers.csv"], tmp_path)
    _ok(["ingest", "feedback", "feedback.csv"], tmp_path)
    _ok(["export-subject", "--customer", PLANTED, "--out", "zephyr.json"], tmp_path)
    record = json.loads((tmp_path / "zephyr.json").read_text(encoding="utf-8"))
    assert record["customer"]["customer_id"] == PLANTED and EMAIL in record["feedback"][0]["text"]
    _ok(["export-subject", "--customer", "C1", "--out", "c1.zip"], tmp_path)
    with zipfile.ZipFile(tmp_path / "c1.zip") as archive:
        assert {"README.txt", "feedback.csv", "scores.csv"} <= set(archive.namelist())
        assert archive.read("feedback.csv").decode().count("Too expensive for what it is") == 3
    missing = run_cxml(["export-subject", "--customer", "NOPE", "--out", "x.json"], tmp_path)
    assert missing.returncode == 4 and "CX104" in missing.stderr

    said = _ok(["retention", "apply"], tmp_path)
    assert "no retention set" in said
    expired = json.loads(_ok(["retention", "apply", "--days", "email=30", "--json"], tmp_path))
    assert expired["expired"] == {"email": 10}
    timeline = json.loads(_ok(["timeline", PLANTED, "--json", "--pii"], tmp_path))
    text = timeline["timeline"][0]["text"]
    assert EMAIL not in text and "[EMAIL]" in text and SENTENCE in text
    audit = json.loads(_ok(["audit", "--kind", "read", "--json"], tmp_path))
    assert [r["action"] for r in audit][:1] == ["read.customer"]
    erased = _ok(["erase", "--customer", PLANTED, "--yes"], tmp_path)
    assert "erased CUST-ZEPHYR-7731: customers 1, feedback 1" in erased
    again = json.loads(_ok(["ingest", "feedback", "feedback.csv", "--json"], tmp_path))
    assert again["rejected"] == 1 and again["held"] == 0  # an old file does not bring them back
    refused = [json.loads(line) for line in _ok(["rejects", "--json"], tmp_path).splitlines()]
    mine = [r for r in refused if "erased on request" in r["reason"]]
    assert (
        len(mine) == 1 and SENTENCE not in json.dumps(refused) and PLANTED not in json.dumps(mine)
    )
    assert "may be loaded again" in _ok(["erase", "--allow-back", "--customer", PLANTED], tmp_path)
    _ok(["ingest", "customers", "customers.csv"], tmp_path)
    back = json.loads(_ok(["ingest", "feedback", "feedback.csv", "--json"], tmp_path))
    assert back["accepted"] == 1
    bad = run_cxml(["retention", "apply", "--days", "email"], tmp_path)
    assert bad.returncode == 2 and "CHANNEL=DAYS" in bad.stderr


def test_the_servers_housekeeping_applies_retention_and_escalates_when_configured(
    tmp_path: Path,
) -> None:
    from datetime import datetime

    from cxml.followups import open_follow_up
    from cxml.jobs.background import housekeeping
    from cxml.settings import Settings
    from cxml.store import Store

    _files(tmp_path)
    _ok(["ingest", "customers", "customers.csv"], tmp_path)
    _ok(["ingest", "feedback", "feedback.csv"], tmp_path)
    store = Store.open(f"sqlite:///{tmp_path}/cxml.db")
    try:
        opened = datetime(2026, 1, 1)
        open_follow_up(store, "C1", {"owner": "aiko"}, actor="k", now=opened)
        later = datetime(2026, 2, 1)
        plain = Settings(database_url=f"sqlite:///{tmp_path}/cxml.db")
        assert housekeeping(store, plain, now=later) == {}  # nothing configured: nothing done
        configured = plain.model_copy(
            update={"text_retention_days": {"email": 30}, "escalation_owner": "lead"}
        )
        assert housekeeping(store, configured, now=later) == {"escalated": 1, "expired_text": 10}
        assert housekeeping(store, configured, now=later) == {"escalated": 0, "expired_text": 0}
    finally:
        store.close()


def test_a_store_that_keeps_only_redacted_text_never_holds_the_raw_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXML_STORE_TEXT", "redacted")
    _files(tmp_path)
    feedback = pd.read_csv(tmp_path / "feedback.csv")
    held = feedback.iloc[[-1]].assign(feedback_id="FZ9", customer_id="NEWCOMER")
    pd.concat([feedback, held]).to_csv(tmp_path / "feedback.csv", index=False)
    _ok(["ingest", "customers", "customers.csv"], tmp_path)
    first = json.loads(_ok(["ingest", "feedback", "feedback.csv", "--json"], tmp_path))
    assert first["accepted"] == 19 and first["held"] == 1
    again = json.loads(_ok(["ingest", "feedback", "feedback.csv", "--json"], tmp_path))
    assert again["unchanged"] == 19  # hashed as sent: the same file again changes nothing
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cxml.db*"))
    for planted in (EMAIL, PHONE):
        assert planted.encode() not in stored, planted  # neither in feedback nor held rows
    assert SENTENCE.encode() in stored and b"[EMAIL]" in stored  # the words stay


def _plant_in_world(folder: Path) -> None:
    """The planted customer added to a generated world: a profile like another's and three
    comments that quote the sentence, the e-mail and the phone number."""
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    twin = customers.iloc[[1]].assign(customer_id=PLANTED, churn_date="")
    pd.concat([customers, twin]).to_csv(folder / "customers.csv", index=False)
    feedback = pd.read_csv(folder / "feedback.csv", dtype=str)
    planted = pd.DataFrame(
        {
            "feedback_id": ["FZ1", "FZ2", "FZ3"],
            "customer_id": [PLANTED] * 3,
            "created_at": ["2025-03-02T08:00:00", "2025-05-10T12:00:00", "2025-06-20T18:30:00"],
            "channel": ["email", "chat", "survey"],
            "text": [
                f"{SENTENCE}. Write to {EMAIL} or call {PHONE}.",
                f"Still broken: {SENTENCE}. I will switch provider.",
                f"Nobody called {PHONE} back about it.",
            ],
            "nps": ["", "", "2"],
        }
    )
    pd.concat([feedback, planted]).to_csv(folder / "feedback.csv", index=False)


def _held_anywhere(store_url: str, planted: tuple[str, ...]) -> dict[str, list[str]]:
    """Which of ``planted`` each of the store's tables still holds, read row by row as text."""
    from cxml.store import Store
    from cxml.store.tables import metadata

    store = Store.open(store_url)
    try:
        held: dict[str, list[str]] = {}
        for name in metadata.tables:
            text = store.table_frame(name).to_json(date_format="iso", force_ascii=False)
            found = [p for p in planted if p in text]
            if found:
                held[name] = found
        return held
    finally:
        store.close()


def _others(store_url: str) -> dict[str, pd.DataFrame]:
    from cxml.store import Store

    store = Store.open(store_url)
    try:
        frames = {
            name: store.table_frame(name)
            for name in ("customers", "feedback", "feedback_analysis", "scores", "latest_scores")
        }
    finally:
        store.close()
    planted_feedback = {"FZ1", "FZ2", "FZ3"}
    kept = {}
    for name, frame in frames.items():
        key = "customer_id" if "customer_id" in frame else "feedback_id"
        theirs = frame[key].isin([PLANTED, *planted_feedback])
        kept[name] = frame[~theirs].sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return kept


@pytest.mark.slow
def test_after_the_whole_flow_an_erased_customer_leaves_no_trace(
    database_url: str, tmp_path: Path
) -> None:
    """Issue #29's test: ingest, both models trained (MLflow on), scored, a follow-up recorded,
    the lists exported and the record read over HTTP with request logging; then erased. Nothing
    of the customer is left in the store (its rows; on SQLite its bytes, free pages included),
    MLflow's database and artifacts, or the server's log; everyone else is unchanged."""

    def ok(*args: str) -> str:
        done = run_cxml(list(args), tmp_path, database_url=database_url)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        return done.stdout

    ok("demo-data", "--customers", "300", "--seed", "5", "--out", "w", "--end", "2025-06-30")
    _plant_in_world(tmp_path / "w")
    ok("ingest", "customers", "w/customers.csv")
    ok("ingest", "feedback", "w/feedback.csv")
    ok("train", "text", "--taxonomy", "w/taxonomy.yaml")
    ok("analyze", "--store")
    ok("train", "churn", "--as-of", "2025-06-30")
    ok("score", "--as-of", "2025-06-30")
    planted = (SENTENCE, EMAIL, PHONE, PLANTED)
    assert set(_held_anywhere(database_url, planted)) >= {"feedback", "scores", "latest_scores"}
    keys = {s: new_key(tmp_path, database_url, s) for s in ("read", "act", "pii", "erase")}
    server = Server(tmp_path, database_url, log_level="info")
    try:
        with httpx.Client(base_url=server.base, timeout=120) as api:

            def call(
                method: str, path: str, key: str, accept: str = "application/json", **options: Any
            ) -> httpx.Response:
                headers = {"X-API-Key": keys[key], "Accept": accept}
                answer = api.request(method, path, headers=headers, **options)
                assert answer.status_code < 300, (path, answer.status_code, answer.text[:500])
                return answer

            story = call("GET", f"/v1/customers/{PLANTED}", "read").json()
            assert story["customer_id"] == PLANTED and story["score"] is not None
            note = f"Called back; they said {SENTENCE}"
            call("POST", f"/v1/customers/{PLANTED}/follow-ups", "act", json={"note": note})
            listed = call("GET", "/v1/at-risk", "read", "text/csv", params={"limit": 1000})
            assert PLANTED in listed.text  # the export holds them: the erasure must not
            call("GET", "/v1/worklist", "read", "text/csv")
            exported = call("GET", f"/v1/customers/{PLANTED}/export", "pii").json()
            assert any(SENTENCE in item["text"] for item in exported["feedback"])
            before = _others(database_url)
            erased = call("DELETE", f"/v1/customers/{PLANTED}", "erase").json()
            assert erased["counts"]["feedback"] == 3 and erased["counts"]["follow_ups"] == 1
            assert erased["counts"]["latest_scores"] == 1 and erased["model_versions"]
    finally:
        server.stop()

    assert _held_anywhere(database_url, planted) == {}
    after = _others(database_url)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, check_dtype=False, obj=name)
    assert len(after["latest_scores"]) > 200  # everyone else is still scored
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".csv"]
    assert any(p.name == "mlflow.db" for p in files) and any("serve-" in p.name for p in files)
    for value in planted:
        holding = [str(p) for p in files if value.encode() in p.read_bytes()]
        assert not holding, (value, holding)  # the store, MLflow (database, artifacts), the log
