"""The library behind `cxml metrics`, `drivers` and `alerts` and their HTTP routes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cxml.errors import ConfigError
from cxml.reporting import (
    NO_FEEDBACK_YET,
    alert_table,
    dimensions,
    driver_table,
    metric_report,
    metric_table,
)
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Trained


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["channel,plan"], ["channel", "plan"]),
        (["channel", "channel", " plan "], ["channel", "plan"]),
        (["", ","], []),
    ],
)
def test_dimensions_split_on_commas_and_count_once(given: list[str], expected: list[str]) -> None:
    assert dimensions(given) == expected


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_alerts_can_be_limited_to_the_themes_that_raise_one(trained: Trained, dialect: str) -> None:
    store = trained.stores[dialect]
    everything = alert_table(store, period="month", min_count=1)
    only = alert_table(store, period="month", min_count=1, only_alerts=True)
    assert len(everything) > 0 and only["alert"].all() if len(only) else True
    assert len(only) == int(everything["alert"].sum())


def test_metrics_and_drivers_read_the_store(trained: Trained) -> None:
    store = trained.stores["sqlite"]
    by_channel = metric_table(store, "nps", by=["channel"], period="quarter")
    assert {"period", "channel", "nps", "ci_low", "ci_high", "n", "small"} <= set(
        by_channel.columns
    )
    drivers = driver_table(store, "nps")
    assert drivers["impact"].is_monotonic_increasing
    with pytest.raises(ConfigError, match="cannot be split by channel"):
        metric_table(store, "churn-rate", by=["channel"])
    with pytest.raises(ConfigError, match="unknown metric"):
        metric_table(store, "happiness")


@pytest.mark.parametrize(
    ("feedback", "asked", "message"),
    [
        (None, {}, NO_FEEDBACK_YET + ": load some with `cxml ingest customers FILE`, then"),
        ("f1,c1,2025-01-05,Too slow,", {}, "no NPS answers in the store yet: its 1 feedback row"),
        ("f1,c1,2025-01-05,Too slow,", {"level": "customer"}, "no NPS answers in the store yet"),
        ("f1,c1,2025-01-05,Too slow,", {"by": ["channel"]}, "no NPS answers in the store yet"),
        ("f1,c1,2025-01-05,Too slow,3", {"by": ["theme"]}, "no analysed themes to group the NPS"),
        (
            "f1,c1,2025-01-05,Too slow,3",
            {"start": datetime(2025, 2, 1), "end": datetime(2025, 3, 1)},
            "no NPS answers from 2025-02-01 to 2025-03-01",
        ),
        ("f1,c1,2025-01-05,Too slow,3", {"end": datetime(2025, 1, 1)}, "no NPS answers before"),
    ],
)
def test_a_survey_metric_nobody_answered_has_no_rows_and_says_why(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    feedback: str | None,
    asked: dict[str, object],
    message: str,
) -> None:
    """Not one row of n = 0 and undefined numbers (what the query gives without groups)."""
    from cxml.ingest import ingest_file

    if feedback is not None:
        (tmp_path / "c.csv").write_text("customer_id,signup_date\nc1,2024-01-01\n")
        (tmp_path / "f.csv").write_text(
            f"feedback_id,customer_id,created_at,text,nps\n{feedback}\n"
        )
        ingest_file(store, "customers", tmp_path / "c.csv", settings=settings, now=NOW)
        ingest_file(store, "feedback", tmp_path / "f.csv", settings=settings, now=NOW)
    report = metric_report(store, "nps", **asked)
    assert report.rows.empty and report.records == [] and report.churn_data is None
    assert report.message is not None and report.message.startswith(message), report.message
