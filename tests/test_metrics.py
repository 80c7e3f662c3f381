"""Every formula against hand-computed cases, the public NPS reference, and SQL against pandas."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxml import drivers, metrics
from cxml.ingest import ingest_file
from cxml.reporting import metric_table
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, SHARED_DATA


def test_nps_counts_passives_in_the_denominator() -> None:
    # 3 promoters, 2 passives, 5 detractors: (30 % − 50 %) = −20
    result = metrics.nps([10, 9, 9, 8, 7, 6, 5, 0, 3, 1])
    assert result["nps"] == pytest.approx(-20.0)
    assert (
        result["promoters_pct"],
        result["passives_pct"],
        result["detractors_pct"],
    ) == pytest.approx((30, 20, 50))
    # var = (0.3 + 0.5 − 0.04) / 10 = 0.076; half-width = 1.96 · √0.076 · 100
    half = 1.959964 * np.sqrt(0.076) * 100
    assert result["ci_low"] == pytest.approx(max(-20 - half, -100), abs=1e-3)
    assert result["ci_high"] == pytest.approx(-20 + half, abs=1e-3)


def test_nps_matches_the_published_reference_on_nps_verbatims() -> None:
    frame = pd.read_csv(
        SHARED_DATA / "nps-verbatims" / "nps_verbatims.csv", encoding_errors="replace"
    )
    result = metrics.nps(frame["NPS_SCORE"])
    assert round(result["nps"], 1) == -24.7
    assert round(result["promoters_pct"], 1) == 29.3
    assert round(result["detractors_pct"], 1) == 54.0


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200))
def test_nps_stays_within_its_range_and_its_interval_holds_it(scores: list[int]) -> None:
    result = metrics.nps(scores)
    assert -100 <= result["ci_low"] <= result["nps"] <= result["ci_high"] <= 100
    assert result["n"] == len(scores)


def test_wilson_interval_matches_a_hand_computation() -> None:
    # k = 8, n = 10: centre = (0.8 + 1.92/10) / 1.384146 = 0.716708; half = 0.2480...
    low, high = metrics.wilson(8, 10)
    assert float(low) == pytest.approx(0.4902, abs=1e-4)
    assert float(high) == pytest.approx(0.9433, abs=1e-4)


def test_csat_is_the_share_of_four_and_five() -> None:
    values = np.array([5, 4, 3, 2, 5])
    result = metrics.csat_from_sums(
        np.array([3]), np.array([values.sum()]), np.array([(values**2).sum()]), np.array([5])
    )
    assert result["csat"].iloc[0] == pytest.approx(60.0)
    assert result["mean"].iloc[0] == pytest.approx(3.8)


def test_ces_mean_and_low_effort_share() -> None:
    values = np.array([1, 2, 3, 6, 7, 7])
    result = metrics.ces_from_sums(
        np.array([3]), np.array([values.sum()]), np.array([(values**2).sum()]), np.array([6])
    )
    assert result["ces"].iloc[0] == pytest.approx(26 / 6)
    assert result["low_effort_pct"].iloc[0] == pytest.approx(50.0)
    sd = values.std(ddof=1)
    from scipy import stats

    assert result["ci_high"].iloc[0] == pytest.approx(
        26 / 6 + stats.t.ppf(0.975, 5) * sd / np.sqrt(6)
    )


def test_churn_and_retention_by_hand() -> None:
    customers = pd.DataFrame(
        {
            "signup_date": pd.to_datetime(
                ["2024-01-10", "2024-02-01", "2024-03-05", "2024-05-01", "2024-05-20", "2024-06-10"]
            ),
            "churn_date": pd.to_datetime([None, "2024-05-15", None, None, "2024-06-20", None]),
        }
    )
    periods = metrics.period_bounds(
        pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01"), "quarter"
    )
    row = metrics.churn_and_retention(customers, periods).iloc[0]
    # active on 1 April: the first three; one of them left in May -> churn 1/3.
    # at the end: customers 1, 3, 4 (5 joined and left in the quarter, 6 joined in July? no: June)
    assert (row["at_start"], row["churned"]) == (3, 1)
    assert row["churn_rate"] == pytest.approx(100 / 3)
    # at_end = 1, 3, 4, 6 = 4; new and still there = 4, 6 = 2; retention = (4 − 2) / 3
    assert (row["at_end"], row["new"]) == (4, 2)
    assert row["retention_rate"] == pytest.approx(200 / 3)


def test_period_bounds_cover_the_range_with_standard_labels() -> None:
    weeks = metrics.period_bounds(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-15"), "week")
    assert weeks["period"].tolist() == ["2024-12-30", "2025-01-06", "2025-01-13"]
    quarters = metrics.period_bounds(
        pd.Timestamp("2025-02-01"), pd.Timestamp("2025-08-01"), "quarter"
    )
    assert quarters["period"].tolist() == ["2025-Q1", "2025-Q2", "2025-Q3"]


def test_nps_impact_is_overall_minus_nps_without_the_theme() -> None:
    # Six responses; "price" is mentioned by two detractors.
    responses = pd.DataFrame(
        {
            "feedback_id": ["a", "b", "c", "d", "e", "f"],
            "nps": [10, 9, 2, 3, 8, 10],
            "theme": [None, None, "price", "price", None, None],
            "theme_label": [None, None, "Price", "Price", None, None],
        }
    )
    table = drivers.nps_drivers(responses, min_mentions=1, n_boot=50)
    row = table.iloc[0]
    # overall: 3 promoters, 2 detractors of 6 = 16.67; without price: 3 of 4 promoters = 75
    assert row["overall_nps"] == pytest.approx(100 / 6)
    assert row["nps_without"] == pytest.approx(75.0)
    assert row["impact"] == pytest.approx(100 / 6 - 75)
    assert row["impact_ci_low"] <= row["impact"] <= row["impact_ci_high"]


def test_emerging_theme_is_flagged_and_a_steady_one_is_not() -> None:
    rows = []
    for period, responses in (
        ("2025-01", 1000),
        ("2025-02", 1000),
        ("2025-03", 1000),
        ("2025-04", 1000),
    ):
        rising = 150 if period == "2025-04" else 50
        rows.append((period, "outage", "Outage", rising, responses, -0.5 * rising, 0.25 * rising))
        rows.append((period, "staff", "Staff", 100, responses, 50.0, 30.0))
    counts = pd.DataFrame(
        rows,
        columns=[
            "period",
            "theme",
            "theme_label",
            "count",
            "responses",
            "sentiment_sum",
            "sentiment_sq",
        ],
    )
    table = drivers.emerging_themes(counts).set_index("theme")
    assert bool(table.loc["outage", "alert"]) and not bool(table.loc["staff", "alert"])
    assert table.loc["outage", "share_change_pts"] == pytest.approx(10.0)


@pytest.fixture
def scored_store(store: Store, settings: Settings, tmp_path: Path) -> tuple[Store, pd.DataFrame]:
    rng = np.random.default_rng(1)
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(40)],
            "signup_date": "2024-01-01",
            "plan": ["gold" if i % 2 else "basic" for i in range(40)],
        }
    )
    n = 600
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h")
    feedback = pd.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(n)],
            "customer_id": rng.choice(customers["customer_id"], n),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "channel": rng.choice(["email", "chat", "survey"], n),
            "nps": rng.integers(0, 11, n),
            "csat": rng.integers(1, 6, n),
            "ces": rng.integers(1, 8, n),
            "text": "",
        }
    )
    customers.to_csv(tmp_path / "c.csv", index=False)
    feedback.to_csv(tmp_path / "f.csv", index=False)
    ingest_file(store, "customers", tmp_path / "c.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", tmp_path / "f.csv", settings=settings, now=NOW)
    feedback["created_at"] = pd.to_datetime(feedback["created_at"])
    return store, feedback.merge(customers[["customer_id", "plan"]], on="customer_id")


def test_sql_aggregation_matches_pandas_by_period_channel_and_segment(
    scored_store: tuple[Store, pd.DataFrame],
) -> None:
    store, frame = scored_store
    table = metric_table(store, "nps", by=["channel", "plan"], period="quarter")
    frame["period"] = (
        frame["created_at"].dt.year.astype(str) + "-Q" + frame["created_at"].dt.quarter.astype(str)
    )
    expected = frame.groupby(["period", "channel", "plan"])["nps"].apply(
        lambda s: metrics.nps(s)["nps"]
    )
    got = table.set_index(["period", "channel", "plan"])["nps"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    assert table["n"].sum() == len(frame)


def test_weeks_and_months_have_the_same_labels_on_every_database(
    scored_store: tuple[Store, pd.DataFrame],
) -> None:
    store, frame = scored_store
    weeks = metric_table(store, "csat", period="week")
    monday = (
        frame["created_at"] - pd.to_timedelta(frame["created_at"].dt.day_of_week, unit="D")
    ).dt.strftime("%Y-%m-%d")
    assert sorted(weeks["period"]) == sorted(monday.unique())
    months = metric_table(
        store, "ces", period="month", start=datetime(2024, 3, 1), end=datetime(2024, 5, 1)
    )
    assert months["period"].tolist() == ["2024-03", "2024-04"]


def test_customer_level_keeps_each_customers_latest_answer(
    scored_store: tuple[Store, pd.DataFrame],
) -> None:
    store, frame = scored_store
    table = metric_table(store, "nps", period="year", level="customer")
    latest = frame.sort_values(["created_at", "feedback_id"]).groupby("customer_id").tail(1)
    assert int(table["n"].iloc[0]) == frame["customer_id"].nunique()
    assert table["nps"].iloc[0] == pytest.approx(metrics.nps(latest["nps"])["nps"])


def test_a_dimension_named_twice_counts_once(
    store: Store, settings: Settings, world_files: dict[str, str]
) -> None:
    for kind in ("customers", "feedback"):
        ingest_file(store, kind, world_files[kind], settings=settings, now=NOW)
    once = metric_table(store, "nps", by=["channel"])
    twice = metric_table(store, "nps", by=["channel", "channel"])
    pd.testing.assert_frame_equal(once, twice)
