"""The first day of an installation, in the library (fast; the whole state matrix with real
servers and commands is ``tests/test_states.py``): nothing recorded yet is a state with an
answer, not an error; exports a person opens are safe in a spreadsheet."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from cxml.errors import ConfigError
from cxml.followups import ImpactBy, follow_up_impact, open_follow_up
from cxml.ingest import ingest_records
from cxml.io import FrameWriter, spreadsheet_safe, spreadsheet_safe_frame, write_frame
from cxml.settings import Settings
from cxml.store import Store
from cxml.worklist import worklist

NOW = datetime(2026, 12, 1, 9, 0)
HOSTILE = ['=HYPERLINK("http://evil","click")', "=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_the_impact_of_no_follow_ups_is_none_recorded_yet_with_n_zero(store: Store) -> None:
    result = follow_up_impact(store, today=NOW, by=list(ImpactBy))
    overall = result["overall"]
    assert overall["verdict"] == "none recorded yet"
    assert overall["contacted"] == 0 and overall["comparable"] == 0
    assert overall["effect_pts"] is None
    assert "no follow-ups recorded yet" in overall["message"]
    assert result["by"] == {split.value: [] for split in ImpactBy}


def test_one_open_follow_up_is_counted_as_not_reached_not_an_error(
    store: Store, settings: Settings
) -> None:
    ingest_records(
        store,
        "customers",
        [{"customer_id": "C1", "signup_date": "2025-01-01"}],
        settings=settings,
        now=NOW,
        source="api",
    )
    open_follow_up(store, "C1", {"owner": "=1+2"}, actor="test", now=NOW)
    result = follow_up_impact(store, today=NOW, by=list(ImpactBy))
    assert result["excluded"]["not_reached"] == 1
    assert result["overall"]["contacted"] == 0
    assert result["overall"]["verdict"] == "too little data"


def test_a_worklist_without_follow_ups_ranks_by_revenue_at_risk_and_says_so(
    store: Store,
) -> None:
    listed = worklist(store, today=NOW, capacity=5000, impact=follow_up_impact(store, today=NOW))
    assert listed["items"] == [] and listed["ranked_by"] == "revenue_at_risk"
    assert "no follow-ups recorded yet" in listed["ranking_note"]


def test_an_api_batch_without_feedback_id_names_that_field(
    store: Store, settings: Settings
) -> None:
    with pytest.raises(ConfigError) as refused:
        ingest_records(
            store,
            "feedback",
            [{"customer_id": "C1", "created_at": "2026-01-01", "text": "hi"}],
            settings=settings,
            now=NOW,
            source="api",
        )
    assert refused.value.field == "feedback_id"


# --- exports a person opens ----------------------------------------------------------------


def test_text_that_a_spreadsheet_would_run_is_shown_as_text_and_numbers_stay_numbers(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": HOSTILE,
            "revenue_at_risk": [-12.5, 1.0, 2.0, -3.0, 4.0, 5.0, 6.0],
            "note": ["fine", "a = b", None, "ok", "-", "x", "y"],
        }
    )
    for name in ("out.csv", "out.tsv"):
        write_frame(frame, tmp_path / name)
        with FrameWriter(tmp_path / f"parts-{name}") as writer:
            writer.write(frame.head(3))
            writer.write(frame.tail(4))
        for path in (tmp_path / name, tmp_path / f"parts-{name}"):
            delimiter = "\t" if name.endswith("tsv") else ","
            with open(path, newline="", encoding="utf-8") as file:  # as a CSV reader opens it
                rows = list(csv.DictReader(file, delimiter=delimiter))
            assert [r["customer_id"] for r in rows] == ["'" + v for v in HOSTILE]
            assert [float(r["revenue_at_risk"]) for r in rows] == [-12.5, 1, 2, -3, 4, 5, 6]
            assert [r["note"] for r in rows] == ["fine", "a = b", "", "ok", "'-", "x", "y"]
    assert spreadsheet_safe(-3.0) == -3.0 and spreadsheet_safe("plain") == "plain"
    unchanged = pd.DataFrame({"n": [1, -2]})
    assert spreadsheet_safe_frame(unchanged) is unchanged
