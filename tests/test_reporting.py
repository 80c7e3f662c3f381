"""The library behind `cxml metrics`, `drivers` and `alerts` and their HTTP routes."""

from __future__ import annotations

import pytest

from cxml.errors import ConfigError
from cxml.reporting import alert_table, dimensions, driver_table, metric_table
from tests.conftest import Trained


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
