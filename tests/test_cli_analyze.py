"""`cxml analyze --input FILE` as someone trying it on a file: without --out the rows come on
stdout as CSV, and nothing is left in the working directory (no store, no MLflow registry)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

FEEDBACK = (
    "feedback_id,text\n"
    "f1,The app keeps crashing and support never answers. Switching to Trello.\n"
    'f2,"=SUM(A1) great service, thanks"\n'
    "f3,\n"
)


@pytest.mark.parametrize("extra", [[], ["--id-column", "feedback_id"]])
def test_analyze_without_out_prints_csv_and_leaves_the_working_directory_empty(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    extra: list[str],
) -> None:
    from cxml.cli import main

    source = tmp_path / "in" / "feedback.csv"
    source.parent.mkdir()
    source.write_text(FEEDBACK, encoding="utf-8")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for name in ("CXML_DATABASE_URL", "CXML_MLFLOW_TRACKING_URI"):  # the defaults: in here
        monkeypatch.delenv(name, raising=False)

    code = main(["analyze", "--input", str(source), *extra])
    said = capsys.readouterr()

    assert code == 0, said.err
    assert sorted(p.name for p in here.iterdir()) == []
    rows = list(csv.DictReader(io.StringIO(said.out)))
    assert [r["feedback_id"] for r in rows] == ["f1", "f2", "f3"]
    assert list(rows[0])[:4] == ["feedback_id", "language", "sentiment", "sentiment_score"]
    assert "competitor" in rows[0]["intents"] and "leave (switch)" in rows[0]["intents"]
    assert rows[0]["redacted_text"].startswith("The app keeps crashing")
    assert rows[1]["redacted_text"].startswith("'=SUM(A1)")  # shown, never run, by a spreadsheet
    assert rows[2]["sentiment"] == "" and rows[2]["themes"] == ""  # no text, nothing read
    assert "3 rows analysed with the shipped defaults" in said.err  # stdout is only the rows


def test_analyze_help_says_what_comes_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    from cxml.cli import main

    assert main(["analyze", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "without --out: CSV on stdout" in shown
