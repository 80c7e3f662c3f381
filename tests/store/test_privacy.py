"""Privacy operations in the store (issue #29): one customer erased everywhere and kept
erased, nothing of them left in the database's bytes, everyone else untouched, the metrics
those of a store that never had them; a subject-access record; raw text expiring into its
redacted form."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import insert

from cxml.followups import open_follow_up
from cxml.ingest import ingest_records
from cxml.jobs.analyze import analyze_store
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.audit import audit_rows, record_action
from cxml.store.metrics import survey_aggregates
from cxml.store.privacy import (
    ERASED,
    allow_back,
    erase_customer,
    expire_text,
    subject_record,
    suppressed,
)
from cxml.store.tables import latest_scores, scores
from cxml.text.redact import redact

NOW = datetime(2026, 12, 1, 9, 0)
PLANTED_ID = "CUST-ZEPHYR-7731"
SENTENCE = "the quokka-shaped router blinked magenta all weekend"
EMAIL = "zephyr.quill@example.org"
PHONE = "07700 900461"


def _redact(text: str) -> str:
    return redact(text)[0]


def _customers(with_planted: bool) -> list[dict[str, Any]]:
    rows = [
        {"customer_id": f"C{i}", "signup_date": "2025-01-0" + str(i + 1), "monthly_value": 20 + i}
        for i in range(4)
    ]
    if with_planted:
        rows.append({"customer_id": PLANTED_ID, "signup_date": "2025-02-01", "monthly_value": 55})
    return rows


def _feedback(with_planted: bool) -> list[dict[str, Any]]:
    rows = [
        {
            "feedback_id": f"F{i}",
            "customer_id": f"C{i % 4}",
            "created_at": f"2026-0{1 + i % 9}-15T10:00:00",
            "channel": "survey",
            "text": ["Great service, thanks", "Too expensive for what it is", "Slow support"][
                i % 3
            ],
            "nps": (i * 3) % 11,
        }
        for i in range(12)
    ]
    if with_planted:
        rows += [
            {
                "feedback_id": "FZ1",
                "customer_id": PLANTED_ID,
                "created_at": "2026-03-02T08:00:00",
                "channel": "email",
                "text": f"{SENTENCE}. Write to {EMAIL} or call {PHONE}.",
                "nps": 2,
            },
            {
                "feedback_id": "FZ2",
                "customer_id": PLANTED_ID,
                "created_at": "2026-04-02T08:00:00",
                "channel": "survey",
                "text": "Still broken, I will switch provider",
                "nps": 0,
            },
        ]
    return rows


def _fill(
    store: Store, settings: Settings, tmp_path: Path, *, with_planted: bool, analyse: bool = True
) -> None:
    customers = _customers(with_planted)
    # A refused row that names the customer (its signup date is not a date).
    if with_planted:
        refused = [{**customers[-1], "signup_date": "sometime"}]
        ingest_records(store, "customers", refused, settings=settings, now=NOW, source="api:no")
    ingest_records(store, "customers", customers, settings=settings, now=NOW, source="api:c")
    ingest_records(
        store, "feedback", _feedback(with_planted), settings=settings, now=NOW, source="api:f"
    )
    if analyse:
        analyze_store(
            store,
            settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"}),
            now=NOW,
        )
    ids = [c["customer_id"] for c in customers]
    score = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": [datetime(2026, 11, 30).date()] * len(ids),
            "model_version": "7",
            "probability": [0.1 + 0.1 * i for i in range(len(ids))],
            "ranking_score": [0.1 + 0.1 * i for i in range(len(ids))],
            "band": "low",
            "revenue_at_risk": 1.0,
            "reasons": [[{"text": f"said: {SENTENCE}"}] if i == PLANTED_ID else [] for i in ids],
            "attribution": "exact",
            "scored_at": NOW,
        }
    )
    with store.begin() as connection:
        for table in (scores, latest_scores):
            connection.execute(insert(table), score.to_dict("records"))
    for i in ids:
        open_follow_up(store, i, {"owner": "ana", "note": f"called {i}"}, actor="key1", now=NOW)
    record_action(store, actor="key1", action="read.customer", target=PLANTED_ID, at=NOW)


def _nps(store: Store) -> pd.DataFrame:
    frame = survey_aggregates(store, "nps", by=["channel"], period="month")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _database_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_an_erased_customer_is_gone_from_every_table_and_every_byte(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _fill(store, settings, tmp_path, with_planted=True)
    others_before = {
        name: store.table_frame(name)
        for name in ("customers", "feedback", "scores", "feedback_analysis")
    }
    assert PLANTED_ID in set(others_before["customers"]["customer_id"])
    if store.dialect == "sqlite":  # the search below can find them
        assert SENTENCE.encode() in _database_bytes(settings.database_url)

    erasure = erase_customer(store, PLANTED_ID, actor="dpo", now=NOW)

    assert erasure.counts["customers"] == 1
    assert erasure.counts["feedback"] == 2
    assert erasure.counts["feedback_analysis"] == 2
    assert erasure.counts["scores"] == 1 and erasure.counts["latest_scores"] == 1
    assert erasure.counts["follow_ups"] == 1 and erasure.counts["follow_up_events"] == 1
    assert erasure.counts["rejects"] == 1
    assert erasure.model_versions and "7" in erasure.model_versions
    for name, before in others_before.items():
        after = store.table_frame(name)
        key = "customer_id" if "customer_id" in after else "feedback_id"
        kept = before[~before[key].astype(str).isin([PLANTED_ID, "FZ1", "FZ2"])]
        pd.testing.assert_frame_equal(
            after.reset_index(drop=True), kept.reset_index(drop=True), check_dtype=False
        )
    # The erasure record holds no personal data; the read of their record keeps no id.
    audit = pd.DataFrame(audit_rows(store, limit=100))
    assert PLANTED_ID not in audit.to_json(date_format="iso")
    assert (audit["action"] == ERASED).sum() == 1
    if store.dialect == "sqlite":
        raw = _database_bytes(settings.database_url)
        for planted in (SENTENCE, EMAIL, PHONE, PLANTED_ID, "I will switch provider"):
            assert planted.encode() not in raw, planted

    again = erase_customer(store, PLANTED_ID, actor="dpo", now=NOW)
    assert again.nothing_held and again.customer_hash == erasure.customer_hash


def test_after_erasure_the_metrics_are_those_of_a_store_that_never_had_them(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    never = Store.open(f"sqlite:///{tmp_path}/never.db")
    try:
        _fill(
            never,
            Settings(database_url=f"sqlite:///{tmp_path}/never.db"),
            tmp_path,
            with_planted=False,
        )
        _fill(store, settings, tmp_path, with_planted=True)
        assert not _nps(store).equals(_nps(never))
        erase_customer(store, PLANTED_ID, actor="dpo", now=NOW)
        pd.testing.assert_frame_equal(_nps(store), _nps(never), check_dtype=False)
    finally:
        never.close()


def test_an_erased_customer_stays_suppressed_until_allowed_back(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _fill(store, settings, tmp_path, with_planted=True, analyse=False)
    erase_customer(store, PLANTED_ID, actor="dpo", now=NOW)
    with store.begin() as connection:
        assert suppressed(connection, [PLANTED_ID, "C1"], now=NOW) == {PLANTED_ID}
    assert allow_back(store, PLANTED_ID, actor="dpo", now=NOW)
    assert not allow_back(store, PLANTED_ID, actor="dpo", now=NOW)
    with store.begin() as connection:
        assert suppressed(connection, [PLANTED_ID], now=NOW) == set()


def test_a_subject_record_holds_everything_about_the_customer_and_explains_it(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _fill(store, settings, tmp_path, with_planted=True)
    record = subject_record(store, PLANTED_ID)
    assert record["customer"]["customer_id"] == PLANTED_ID
    assert [f["feedback_id"] for f in record["feedback"]] == ["FZ1", "FZ2"]
    assert SENTENCE in record["feedback"][0]["text"]  # their own words, as sent
    assert len(record["analyses"]) == 2 and len(record["scores"]) == 1
    assert record["follow_ups"][0]["history"], "a follow-up comes with its history"
    assert len(record["held_or_refused_rows"]) == 1
    assert record["reads"][0]["action"] == "read.customer"
    assert set(record["about"]) >= {"feedback", "scores", "follow_ups", "reads"}
    assert subject_record(store, "C1")["feedback"][0]["customer_id"] == "C1"


def test_expired_raw_text_becomes_its_redacted_form_and_the_metrics_do_not_move(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _fill(store, settings, tmp_path, with_planted=True)
    nps_before = _nps(store)
    analyses_before = store.table_frame("feedback_analysis")

    expired = expire_text(store, {"email": 180}, now=NOW, rewrite=_redact)

    assert expired == {"email": 1}  # FZ1 (March); the survey channel keeps its text
    texts = store.table_frame("feedback").set_index("feedback_id")
    assert EMAIL not in texts.loc["FZ1", "text"] and "[EMAIL]" in texts.loc["FZ1", "text"]
    assert SENTENCE in texts.loc["FZ1", "text"]  # the words stay; the personal data goes
    assert texts.loc["FZ2", "text"] == "Still broken, I will switch provider"
    assert texts["text_expired_at"].notna().sum() == 1
    pd.testing.assert_frame_equal(_nps(store), nps_before)
    pd.testing.assert_frame_equal(store.table_frame("feedback_analysis"), analyses_before)
    assert expire_text(store, {"email": 180}, now=NOW, rewrite=_redact) == {"email": 0}
    assert expire_text(store, {"survey": 30}, now=NOW, rewrite=lambda _: "")["survey"] == 13
    assert (store.table_frame("feedback").query("channel == 'survey'")["text"] == "").all()
