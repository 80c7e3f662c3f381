"""Customer features from a point-in-time history: windows, recency, the spec's columns, leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.churn.leaks import leak_warnings
from cxml.errors import ConfigError
from cxml.features import (
    FeatureSpec,
    churn_labels,
    customer_features,
    effective_churn_dates,
    inactivity_churn_dates,
)
from cxml.store.history import History

SNAPSHOT = pd.Timestamp("2025-01-01")


def one_customer(feedback: pd.DataFrame, themes: pd.DataFrame | None = None) -> History:
    customers = pd.DataFrame(
        {
            "customer_id": ["a"],
            "signup_date": pd.to_datetime(["2024-01-01"]),
            "monthly_value": [10.0],
            "attributes": [{"plan": "x", "seats": "3"}],
        }
    )
    return History.from_frames(SNAPSHOT, customers, feedback, themes)


FEEDBACK = pd.DataFrame(
    {
        "feedback_id": ["1", "2"],
        "customer_id": ["a", "a"],
        "created_at": pd.to_datetime(["2024-12-25", "2024-10-01"]),
        "channel": ["email", "chat"],
        "nps": [3.0, 9.0],
        "csat": [np.nan, np.nan],
        "ces": [np.nan, np.nan],
        "text": ["bad", "good"],
        "sentiment_score": [-0.8, 0.6],
        "intents": [[{"intent": "leave", "kind": "switch", "start": 0, "end": 3}], []],
    }
)


def test_windows_and_recency_are_computed_from_the_history() -> None:
    row = customer_features(one_customer(FEEDBACK)).loc["a"]
    # 2024-12-25 is 7 days before T, 2024-10-01 is 92 days before
    assert row["contacts_7d"] == 1 and row["contacts_90d"] == 1 and row["contacts_365d"] == 2
    assert row["nps_last"] == 3 and row["nps_min"] == 3 and row["detractor_last"] == 1
    assert row["nps_mean"] == 6 and row["nps_trend"] == -3
    assert row["days_since_last_contact"] == pytest.approx(7.0)
    assert row["days_since_last_negative"] == pytest.approx(7.0)
    assert row["tenure_days"] == 366
    assert row["intent_leave_90d"] == 1 and row["intent_effort_90d"] == 0
    assert row["sentiment_min_365d"] == pytest.approx(-0.8)
    assert row["attr_plan"] == "x" and row["attr_seats"] == "3"  # kept as stored


def test_a_row_dated_at_or_after_the_snapshot_is_refused_not_silently_cut() -> None:
    later = pd.concat(
        [FEEDBACK, FEEDBACK.head(1).assign(feedback_id="3", created_at=SNAPSHOT)],
        ignore_index=True,
    )
    history = History(SNAPSHOT, one_customer(FEEDBACK).customers, later)
    with pytest.raises(ConfigError, match="reached the features"):
        customer_features(history)


@pytest.mark.parametrize(
    "spec",
    [
        FeatureSpec(
            theme_ids=("billing", "network"), channels=("chat", "fax"), attributes=("plan",)
        ),
        FeatureSpec(channels=("email",), with_text=False),
    ],
)
def test_the_spec_fixes_the_columns_whatever_the_data(spec: FeatureSpec) -> None:
    themes = pd.DataFrame(
        {
            "feedback_id": ["1"],
            "customer_id": ["a"],
            "created_at": pd.to_datetime(["2024-12-25"]),
            "theme_id": ["billing"],
            "theme_label": ["Billing"],
            "sentiment_score": [-0.9],
        }
    )
    features = customer_features(one_customer(FEEDBACK, themes), spec)
    assert list(features.columns) == spec.columns()
    if spec.with_text:
        # one mention 7 days ago, half-life 60 days, negative
        assert features.loc["a", "theme_billing"] == pytest.approx(0.5 ** (7 / 60))
        assert features.loc["a", "theme_billing_negative"] == pytest.approx(0.5 ** (7 / 60))
        assert features.loc["a", "theme_network"] == 0
        assert features.loc["a", "channel_fax_365d"] == 0


def test_a_customer_without_feedback_has_counts_of_zero_and_nothing_else() -> None:
    row = customer_features(one_customer(FEEDBACK.head(0))).loc["a"]
    assert row["contacts_365d"] == 0 and np.isnan(row["nps_last"])
    assert np.isnan(row["days_since_last_contact"])


def test_labels_come_from_the_horizon_after_the_snapshot() -> None:
    churn = pd.Series(pd.to_datetime(["2025-02-15", "2025-06-01", None]), index=["a", "b", "c"])
    assert churn_labels(churn, ["a", "b", "c", "d"], SNAPSHOT, 90).tolist() == [1, 0, 0, 0]


def test_leak_warnings_name_outcome_only_and_near_perfect_columns() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series(rng.integers(0, 2, 400))
    frame = pd.DataFrame(
        {
            "honest": rng.normal(size=400),
            "churn_reason": np.where(y == 1, "price", None),
            "satisfaction": np.where(y == 1, rng.integers(1, 3, 400), rng.integers(4, 6, 400)),
        }
    )
    warnings = leak_warnings(frame, y)
    assert any(w.startswith("churn_reason: filled only for churners") for w in warnings)
    assert any(w.startswith("satisfaction: its value alone decides churn") for w in warnings)
    assert not any(w.startswith("honest") for w in warnings)


INTERACTIONS = pd.DataFrame(
    {
        "customer_id": ["quiet", "busy", "lapsed-late", "returned"] * 1
        + ["busy", "busy", "busy", "lapsed-late", "returned", "returned"],
        "at": pd.to_datetime(
            ["2025-01-01"] * 4
            + ["2025-02-01", "2025-03-15", "2025-05-01", "2025-03-01", "2025-01-20", "2025-06-01"]
        ),
    }
)


def test_inactivity_churn_is_the_first_gap_and_only_once_it_is_known() -> None:
    end = pd.Timestamp("2025-06-15")
    dates = inactivity_churn_dates(INTERACTIONS, 60, end)
    assert dates["quiet"] == pd.Timestamp("2025-03-02")  # signup + 60 days, nothing since
    assert pd.isna(dates["busy"])  # no 60-day gap; the last one (May 1) ends after the data
    assert dates["lapsed-late"] == pd.Timestamp("2025-04-30")
    assert dates["returned"] == pd.Timestamp("2025-03-21")  # the first gap counts
    # Cut the data at April 1: the late lapse is not known yet, the rest is unchanged.
    cut = pd.Timestamp("2025-04-01")
    early = inactivity_churn_dates(INTERACTIONS[INTERACTIONS["at"] < cut], 60, cut)
    assert pd.isna(early["lapsed-late"])
    assert early["quiet"] == dates["quiet"] and early["returned"] == dates["returned"]


def test_an_earlier_stored_churn_date_wins_over_inactivity() -> None:
    stored = pd.Series(
        pd.to_datetime(["2025-02-01", None, None, None]),
        index=["quiet", "busy", "lapsed-late", "returned"],
    )
    dates = effective_churn_dates(
        stored, INTERACTIONS, {"kind": "inactivity", "inactive_days": 60}, "2025-06-15"
    )
    assert dates["quiet"] == pd.Timestamp("2025-02-01")
    assert dates["returned"] == pd.Timestamp("2025-03-21")
    with pytest.raises(ConfigError, match="not one of"):
        effective_churn_dates(stored, INTERACTIONS, {"kind": "vibes"}, "2025-06-15")
