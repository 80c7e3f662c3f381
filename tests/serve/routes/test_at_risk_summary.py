"""``GET /v1/at-risk/summary`` says how much of the base its bands cover: the customers the
store holds, the active ones, how many of them are scored, and why the rest are not (the route
called in this process; the served world's summary is read in ``test_worklist.py``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from cxml.ingest import ingest_file
from cxml.settings import Settings
from cxml.store import Store
from serve.routes.at_risk import at_risk_totals
from serve.schemas_reports import AtRiskSummary
from tests.conftest import NOW
from tests.test_at_risk import scored_store


def _summary(store: Store, settings: Settings) -> dict[str, Any]:
    summary = at_risk_totals({}, SimpleNamespace(store=store, settings=settings))  # type: ignore[arg-type]
    AtRiskSummary.model_validate(summary)  # what the route answers fits its documented shape
    return summary


def _coverage(summary: dict[str, Any]) -> tuple[int, int, int, int, dict[str, int]]:
    return (
        summary["store_customers"],
        summary["active_customers"],
        summary["scored_customers"],
        summary["unscored_customers"],
        summary["unscored"],
    )


@pytest.mark.parametrize(
    ("later", "unscored"),
    [
        # nobody loaded since the run
        ([], {"joined_after_snapshot": 0, "loaded_after_scoring": 0, "never_scored": 0}),
        # one who signed up after the snapshot (Feb 28th), one long-standing customer loaded
        # after the run
        (
            [("C4", "2025-03-15"), ("C5", "2024-06-01")],
            {"joined_after_snapshot": 1, "loaded_after_scoring": 1, "never_scored": 0},
        ),
    ],
)
def test_the_summary_counts_the_base_beside_the_scored_customers(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    later: list[tuple[str, str]],
    unscored: dict[str, int],
) -> None:
    empty = _summary(store, settings)
    assert _coverage(empty) == (0, 0, 0, 0, dict.fromkeys(unscored, 0))
    assert empty["scored_as_of"] is None and empty["customers"] == 0
    # C1 and C2 active and scored, C3 scored then churned
    scored_store(store, settings, tmp_path / "data")
    if later:
        path = tmp_path / "later.csv"
        pd.DataFrame(
            {"customer_id": [c for c, _ in later], "signup_date": [d for _, d in later]}
        ).to_csv(path, index=False)
        ingest_file(store, "customers", path, settings=settings, now=NOW)
    summary = _summary(store, settings)
    assert _coverage(summary) == (3 + len(later), 2 + len(later), 2, len(later), unscored)
    assert summary["customers"] == summary["scored_customers"]  # the bands: scored ones only
    assert str(summary["scored_as_of"]) == "2025-02-28"
