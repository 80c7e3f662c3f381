"""The real `cxml` console script, run as a user would, against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cxml


def run(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cxml(args, cwd, database_url=database_url, timeout=300)


def test_demo_data_then_ingest_twice_prints_json_counts(database_url: str, tmp_path: Path) -> None:
    made = run(
        ["demo-data", "--customers", "120", "--out", "world", "--seed", "5", "--end", "2025-06-30"],
        database_url,
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "world" / "truth_feedback.csv").exists()
    reports = []
    for _ in range(2):
        for kind in ("customers", "feedback"):
            done = run(["ingest", kind, f"world/{kind}.csv", "--json"], database_url, tmp_path)
            assert done.returncode == 0, done.stderr
            reports.append(json.loads(done.stdout))
    for report in reports:
        assert (
            report["read"]
            == report["accepted"] + report["updated"] + report["unchanged"] + report["rejected"]
        )
    assert reports[2]["accepted"] == 0 and reports[3]["accepted"] == 0
    assert reports[3]["unchanged"] == reports[1]["accepted"] > 0

    stats = json.loads(run(["stats", "--json"], database_url, tmp_path).stdout)
    assert stats["customers"] == 120
    assert stats["feedback"] == reports[1]["accepted"]
    assert set(stats["feedback_by_language"]) >= {"en", "ja"}

    shown = run(["timeline", "C000001"], database_url, tmp_path)
    assert shown.returncode == 0 and "C000001: signed up" in shown.stdout
    as_json = json.loads(run(["timeline", "C000001", "--json"], database_url, tmp_path).stdout)
    times = [event["created_at"] for event in as_json["timeline"]]
    assert times == sorted(times)


def test_errors_are_one_line_with_an_exit_code(database_url: str, tmp_path: Path) -> None:
    missing = run(["timeline", "NOPE"], database_url, tmp_path)
    assert missing.returncode == 4
    assert missing.stderr.strip() == "error [CX104]: customer 'NOPE' is not in the store"
    (tmp_path / "f.csv").write_text("id,text\n1,hello\n", encoding="utf-8")
    unreadable = run(["ingest", "feedback", "f.csv"], database_url, tmp_path)
    assert unreadable.returncode == 3
    assert "required column(s) feedback_id, customer_id, created_at missing" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr
    bad_map = run(["ingest", "feedback", "f.csv", "--map", "oops"], database_url, tmp_path)
    assert bad_map.returncode == 2 and "expected SOURCE=TARGET" in bad_map.stderr


def test_rejects_file_names_row_field_value_and_reason(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,signup_date\nc1,2024-01-01\n", encoding="utf-8")
    (tmp_path / "f.csv").write_text(
        "feedback_id,customer_id,created_at,text,nps\nf1,c1,2025-01-01,ok,7\nf2,c1,2025-01-02,meh,11\n",
        encoding="utf-8",
    )
    assert run(["ingest", "customers", "c.csv"], database_url, tmp_path).returncode == 0
    done = run(
        ["ingest", "feedback", "f.csv", "--rejects", "out/rejects.csv"], database_url, tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "out" / "rejects.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("row,field,value,reason,feedback_id")
    assert lines[1].startswith("2,nps,11,nps=11 is outside 0-10,f2,c1")
    listed = run(["rejects"], database_url, tmp_path)
    assert "f.csv row 2: nps=11 is outside 0-10" in listed.stdout


def test_rejects_leave_cxml_redacted_unless_asked_for_pii(
    database_url: str, tmp_path: Path
) -> None:
    """A refused comment's e-mail address and phone number are redacted in the rejects file,
    `cxml rejects` and its exports; ids, numbers and dates stay as sent (a long number is not
    a phone); `--pii` shows the words as sent."""
    (tmp_path / "c.csv").write_text(
        "customer_id,signup_date,monthly_value\nc1,2024-01-01,30\nc2,2024-01-01,10000000000000\n",
        encoding="utf-8",
    )
    (tmp_path / "f.csv").write_text(
        "feedback_id,customer_id,created_at,text,nps\n"
        "f1,c1,2025-01-02,Mail me at jo.b@example.com or call 020 7946 0958,12\n",
        encoding="utf-8",
    )
    assert run(["ingest", "customers", "c.csv"], database_url, tmp_path).returncode == 0
    done = run(["ingest", "feedback", "f.csv", "--rejects", "r.csv"], database_url, tmp_path)
    assert done.returncode == 9, done.stderr  # its one row refused: every row was
    assert "jo.b@example.com" not in done.stderr and "1 × nps=… is outside 0-10" in done.stderr
    shown = [
        (tmp_path / "r.csv").read_text(encoding="utf-8"),
        run(["rejects", "--json"], database_url, tmp_path).stdout,
        run(["rejects"], database_url, tmp_path).stdout,
    ]
    assert run(["rejects", "--out", "all.jsonl"], database_url, tmp_path).returncode == 0
    shown.append((tmp_path / "all.jsonl").read_text(encoding="utf-8"))
    for text in shown:
        assert "jo.b@example.com" not in text and "7946" not in text
    assert "[EMAIL]" in shown[0] and "[PHONE]" in shown[1] and "nps=12 is outside 0-10" in shown[1]
    assert "10000000000000" in shown[1] and "2024-01-01" in shown[1]  # numbers as sent
    raw = run(["rejects", "--json", "--pii", "--kind", "feedback"], database_url, tmp_path)
    assert "jo.b@example.com" in raw.stdout and "020 7946 0958" in raw.stdout


def test_a_bug_is_one_line_for_the_user_and_a_traceback_in_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import cxml.store.records
    from cxml.cli import main

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a planted bug")

    monkeypatch.setattr(cxml.store.records, "stats", broken)
    code = main(["--database-url", f"sqlite:///{tmp_path / 'cxml.db'}", "stats"])
    said = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in said and "Traceback" not in said
    assert said.startswith("error [CX100]: internal error (ZeroDivisionError: a planted bug)")
    log = Path(said.split(" in ", 1)[1].split(" —", 1)[0])
    assert "Traceback" in log.read_text() and "a planted bug" in log.read_text()
    log.unlink()


@pytest.mark.parametrize(
    "command", [["score"], ["worklist", "pull", "--capacity", "3"]], ids=["score", "pull"]
)
def test_an_unknown_language_is_refused_naming_it_and_the_languages(
    command: list[str], tmp_path: Path
) -> None:
    refused = run_cxml([*command, "--lang", "fr"], tmp_path)
    assert refused.returncode == 2
    assert "Invalid value for '--lang': 'fr' is not one of 'en', 'ja'." in refused.stderr
    assert not (tmp_path / "cxml.db").exists()  # refused before anything was opened
