"""Drift checks: PSI and chi-square by hand, periods as people write them, and on a real store
(SQLite and PostgreSQL) a planted change that must raise an alert while an unchanged world
does not; the churn model's features and realised performance on the trained world."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from cxml.demo import World
from cxml.drift import (
    Window,
    band,
    check_drift,
    drift_report,
    feature_drift,
    finite,
    mix_drift,
    parse_window,
    psi,
    windows,
)
from cxml.errors import ConfigError
from cxml.ingest import ingest_file
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.drift import latest_report, mix_counts
from tests.conftest import NOW, Trained, load_world, working_directory


@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [
        ([50, 50], [40, 60], (0.4 - 0.5) * math.log(0.8) + (0.6 - 0.5) * math.log(1.2)),
        ([10, 20, 30], [10, 20, 30], 0.0),
        ([100, 0], [50, 50], (0.5 - 1) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)),
    ],
)
def test_psi_is_the_sum_of_share_differences_times_their_log_ratio(
    reference: list[int], current: list[int], expected: float
) -> None:
    assert psi(np.array(reference), np.array(current)) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.1, "moderate"),
        (0.2499, "moderate"),
        (0.25, "significant"),
    ],
)
def test_the_usual_psi_bands(value: float, expected: str) -> None:
    assert band(value) == expected


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2025", "2025-01-01", "2026-01-01"),
        ("2025-q2", "2025-04-01", "2025-07-01"),
        ("2025-02", "2025-02-01", "2025-03-01"),
        ("2025-02-28", "2025-02-28", "2025-03-01"),
        ("2025-01..2025-03", "2025-01-01", "2025-04-01"),
        ("2025-01-15..2025-02-14", "2025-01-15", "2025-02-15"),
    ],
)
def test_periods_are_read_as_people_write_them(text: str, start: str, end: str) -> None:
    window = parse_window(text)
    assert (window.start, window.end) == (pd.Timestamp(start), pd.Timestamp(end))


@pytest.mark.parametrize("text", ["last month", "2025-13", "2025-03..2025-01", "2025-02-30"])
def test_a_period_that_is_not_one_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_window(text, option="--current")
    assert "--current" in str(raised.value) and raised.value.field == "--current"


def test_default_windows_are_the_last_month_against_the_three_before() -> None:
    reference, current = windows(None, None, today=pd.Timestamp("2025-07-15"))
    assert current.label == "2025-06" and current.start == pd.Timestamp("2025-06-01")
    assert (reference.start, reference.end) == (pd.Timestamp("2025-03-01"), current.start)
    reference, current = windows(None, "2025-Q2", today=pd.Timestamp("2025-07-15"))
    assert reference.end == current.start and reference.start == pd.Timestamp("2025-01-01")


def _counts(values: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"value": list(values), "label": list(values), "n": list(values.values())})


@pytest.mark.parametrize(
    ("reference", "current", "drifted"),
    [
        ({"a": 500, "b": 500}, {"a": 700, "b": 300}, True),  # large and certain
        ({"a": 5, "b": 5}, {"a": 7, "b": 3}, False),  # the same shares on ten answers: noise
        ({"a": 500, "b": 500}, {"a": 510, "b": 490}, False),  # certain but small
    ],
)
def test_a_mix_drifts_when_its_psi_crosses_a_band_and_the_test_agrees(
    reference: dict[str, int], current: dict[str, int], drifted: bool
) -> None:
    result = mix_drift(_counts(reference), _counts(current))
    expected = chi2_contingency(np.array([list(reference.values()), list(current.values())]))
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["drifted"] is drifted
    assert result["reference_n"] == sum(reference.values())


def test_feature_drift_bins_numbers_by_reference_quantiles_and_counts_missing() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "steady": rng.normal(size=5000),
            "shifted": rng.normal(size=5000),
            "plan": rng.choice(["basic", "pro"], 5000),
            "gone": rng.normal(size=5000),
        }
    )
    current = pd.DataFrame(
        {
            "steady": rng.normal(size=5000),
            "shifted": rng.normal(1.0, size=5000),
            "plan": rng.choice(["basic", "pro", "max"], 5000),
            "gone": np.where(rng.random(5000) < 0.3, np.nan, rng.normal(size=5000)),
        }
    )
    rows = {row["feature"]: row for row in feature_drift(reference, current)}
    assert rows["steady"]["band"] == "stable"
    assert rows["shifted"]["band"] == "significant"
    assert rows["plan"]["kind"] == "category" and rows["plan"]["band"] == "significant"
    assert rows["gone"]["current_missing"] == pytest.approx(0.3, abs=0.03)
    assert rows["gone"]["psi"] > 0.25  # 30 % missing where none were


def test_reports_carry_no_number_json_cannot_hold() -> None:
    cleaned = finite({"a": float("nan"), "b": [np.float64("inf"), 1.0], "c": np.int64(3)})
    assert cleaned == {"a": None, "b": [None, 1.0], "c": 3}


REFERENCE = parse_window("2025-01..2025-03")
CURRENT = parse_window("2025-05..2025-06")


def test_mix_counts_match_the_rows_in_each_window(
    store: Store, settings: Settings, world: World, tmp_path: Path, demo_text_pipeline: Any
) -> None:
    load_world(store, settings, world, tmp_path, pipeline=demo_text_pipeline)
    created = pd.to_datetime(world.feedback["created_at"])
    inside = world.feedback[(created >= CURRENT.start) & (created < CURRENT.end)]
    channels = mix_counts(store, "channel", CURRENT.start, CURRENT.end)
    assert channels["n"].sum() == len(inside)
    scores = mix_counts(store, "sentiment_score", CURRENT.start, CURRENT.end)
    assert set(scores["value"]) <= {f"{-1 + 0.2 * i:.1f}" for i in range(10)}
    labels = mix_counts(store, "sentiment", CURRENT.start, CURRENT.end)
    assert labels["n"].sum() == scores["n"].sum()  # every analysed comment has both


def test_a_planted_change_in_what_customers_write_raises_an_alert(
    store: Store, settings: Settings, world: World, tmp_path: Path, demo_text_pipeline: Any
) -> None:
    load_world(store, settings, world, tmp_path, pipeline=demo_text_pipeline)
    before = drift_report(store, REFERENCE, CURRENT, today=pd.Timestamp(NOW), bucket_customers=64)
    assert not [a for a in before["alerts"] if a["check"] == "channel mix"]
    assert before["skipped"] and before["performance"] is None  # no churn model given

    # A flood of app-store reviews in the current window, all about the app crashing.
    customers = world.customers["customer_id"].tolist()[:150]
    flood = pd.DataFrame(
        {
            "feedback_id": [f"FLOOD{i:04d}" for i in range(600)],
            "customer_id": [customers[i % len(customers)] for i in range(600)],
            "created_at": [f"2025-06-{1 + i % 28:02d}T10:00:00" for i in range(600)],
            "channel": "review",
            "text": "The app keeps crashing every time I open it.",
            "csat": 1,
        }
    )
    flood.to_csv(tmp_path / "flood.csv", index=False)
    ingest_file(store, "feedback", tmp_path / "flood.csv", settings=settings, now=NOW)
    from cxml.text.training import analyze_feedback

    analyze_feedback(store, demo_text_pipeline, "test", flood["feedback_id"].tolist(), now=NOW)
    after = drift_report(store, REFERENCE, CURRENT, today=pd.Timestamp(NOW), bucket_customers=64)
    checks = {a["check"]: a for a in after["alerts"]}
    assert {"channel mix", "theme mix", "sentiment mix"} <= set(checks)
    assert after["mixes"]["channel"]["band"] == "significant"
    assert after["mixes"]["channel"]["rows"][0]["value"] == "review"  # the most moved first
    assert "review" in checks["channel mix"]["message"]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_champions_features_and_realised_performance_are_checked_and_kept(
    trained: Trained, dialect: str
) -> None:
    settings, store = trained.settings[dialect], trained.stores[dialect]
    with working_directory(trained.folder):
        report = check_drift(
            settings,
            store,
            REFERENCE,
            Window("2025-06", pd.Timestamp("2025-06-01"), pd.Timestamp("2025-07-01")),
            today=pd.Timestamp(NOW),
            made_at=NOW,
            champion=(trained.predictor, trained.version),
        )
    assert {row["feature"] for row in report["features"]} == set(trained.predictor.columns)
    assert report["feature_customers"]["current"] > 100
    performance = report["performance"]
    assert performance["snapshot"] == "2025-04-02"  # 90 days before the window's end
    assert 0.5 < performance["roc_auc"] <= 1 and performance["promised_roc_auc"] is not None
    assert "flatters" in performance["note"]  # the champion saw these outcomes while training
    assert performance["status"] in ("as promised", "degraded")
    kept = latest_report(store)
    assert kept is not None and kept["report_id"] == report["report_id"]
    assert kept["performance"]["roc_auc"] == pytest.approx(performance["roc_auc"])
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    run = mlflow.get_run(report["run_id"])
    assert run.data.params["current"] == "2025-06"
    assert run.data.metrics["realised_roc_auc"] == pytest.approx(performance["roc_auc"])
