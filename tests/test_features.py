"""Point-in-time customer features: nothing dated after the snapshot may influence it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxml.demo import World, generate
from cxml.features import churn_labels, customer_features, leak_warnings
from cxml.ingest import ingest_file
from cxml.settings import Settings
from cxml.store import Store
from cxml.text.training import analyze_store
from tests.conftest import NOW

SNAPSHOT = pd.Timestamp("2025-01-01")


@pytest.fixture(scope="module")
def small_world() -> World:
    from datetime import date

    return generate(150, seed=9, end=date(2025, 6, 30))


def load(
    store: Store, settings: Settings, world: World, folder: Path, *, before: pd.Timestamp | None
) -> None:
    customers = world.customers.copy()
    feedback = world.feedback.copy()
    if before is not None:
        customers = customers[pd.to_datetime(customers["signup_date"]) < before].copy()
        churn = pd.to_datetime(customers["churn_date"], errors="coerce")
        customers.loc[churn >= before, "churn_date"] = ""  # unknown at the snapshot
        feedback = feedback[pd.to_datetime(feedback["created_at"]) < before]
    folder.mkdir(parents=True, exist_ok=True)
    customers.to_csv(folder / "customers.csv", index=False)
    feedback.to_csv(folder / "feedback.csv", index=False)
    ingest_file(store, "customers", folder / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", folder / "feedback.csv", settings=settings, now=NOW)
    analyze_store(
        store,
        settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{folder}/mlflow.db"}),
        now=NOW,
    )


def features_of(store: Store) -> pd.DataFrame:
    inputs = store.churn_inputs()
    return customer_features(
        inputs["customers"],
        inputs["feedback"],
        SNAPSHOT,
        analysis=inputs["analysis"],
        themes=inputs["themes"],
        theme_ids=["billing", "t-en-0001"],
        channels=["email", "chat", "survey"],
    )


def test_features_as_of_t_ignore_everything_after_t(
    database_url: str, small_world: World, tmp_path: Path
) -> None:
    """Scores as of T must be bit-identical whether or not the store holds data after T."""
    settings = Settings(database_url=database_url)
    full = Store.open(settings)
    load(full, settings, small_world, tmp_path / "full", before=None)
    complete = features_of(full)
    full.close()
    if database_url.startswith("sqlite"):
        cut_url = f"sqlite:///{tmp_path / 'cut.db'}"
    else:
        cut_url = database_url  # the same fresh schema, emptied
        with Store.open(settings).engine.begin() as connection:
            for table in (
                "feedback_themes",
                "feedback_analysis",
                "rejects",
                "ingest_runs",
                "feedback",
                "customers",
            ):
                connection.exec_driver_sql(f"DELETE FROM {table}")
    cut_settings = Settings(database_url=cut_url)
    cut = Store.open(cut_settings)
    load(cut, cut_settings, small_world, tmp_path / "cut", before=SNAPSHOT)
    truncated = features_of(cut)
    cut.close()
    assert len(complete) > 50
    pd.testing.assert_frame_equal(complete.sort_index(), truncated.sort_index(), check_exact=True)


def test_labels_come_from_the_horizon_after_the_snapshot() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "signup_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2025-02-01"]),
            "churn_date": pd.to_datetime(["2025-02-15", "2025-06-01", "2024-12-01", None]),
        }
    )
    labels = churn_labels(customers, SNAPSHOT, 90)
    assert labels.to_dict() == {"a": 1, "b": 0}  # c left before T, d joined after T


def test_windows_and_recency_are_computed_from_the_past_only() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["a"],
            "signup_date": pd.to_datetime(["2024-01-01"]),
            "churn_date": [pd.NaT],
            "monthly_value": [10.0],
            "attributes": [{"plan": "x"}],
        }
    )
    feedback = pd.DataFrame(
        {
            "feedback_id": ["1", "2", "3"],
            "customer_id": ["a", "a", "a"],
            "created_at": pd.to_datetime(["2024-12-25", "2024-10-01", "2025-01-05"]),
            "channel": ["email", "chat", "email"],
            "nps": [3, 9, 0],
            "csat": [None, None, None],
            "ces": [None, None, None],
        }
    )
    row = customer_features(customers, feedback, SNAPSHOT).loc["a"]
    # 2024-12-25 is 7 days before T, 2024-10-01 is 92 days before; 2025-01-05 is after T
    assert row["contacts_7d"] == 1 and row["contacts_90d"] == 1 and row["contacts_365d"] == 2
    assert row["nps_last"] == 3 and row["nps_min"] == 3 and row["detractor_last"] == 1
    assert row["days_since_last_contact"] == pytest.approx(7.0)
    assert row["tenure_days"] == 366


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


def test_training_snapshots_have_complete_labels_and_the_backtest_grades_forward(
    small_world: World,
) -> None:
    from cxml.churn.training import backtest, snapshot_dates, training_set

    customers = small_world.customers.assign(
        signup_date=lambda f: pd.to_datetime(f["signup_date"]),
        churn_date=lambda f: pd.to_datetime(f["churn_date"].replace("", None)),
        attributes=lambda f: f[["plan", "contract"]].to_dict(orient="records"),
    )
    feedback = small_world.feedback.assign(created_at=lambda f: pd.to_datetime(f["created_at"]))
    inputs = {
        "customers": customers,
        "feedback": feedback,
        "analysis": pd.DataFrame(columns=["feedback_id", "sentiment_score", "intents"]),
        "themes": pd.DataFrame(columns=["feedback_id", "theme_id", "sentiment_score"]),
    }
    as_of = pd.Timestamp("2025-06-30")
    dates = snapshot_dates(as_of, 90, 3)
    assert dates == [
        pd.Timestamp("2025-04-01"),
        pd.Timestamp("2025-01-01"),
        pd.Timestamp("2024-10-03"),
    ]
    assert all(d + pd.Timedelta(days=90) <= as_of for d in dates)
    frame, y, stamps = training_set(inputs, dates, 90)
    assert len(frame) == len(y) == len(stamps) and set(np.unique(y)) <= {0, 1}
    graded = backtest(inputs, as_of, 90, n_snapshots=3)
    assert graded["validation_snapshot"] == "2025-04-01"
    assert {"model", "logistic", "rule"} <= set(graded)
    assert 0 <= graded["model"]["roc_auc"] <= 1


def test_inactivity_churn_is_the_first_gap_and_only_once_it_is_known() -> None:
    from cxml.features import inactivity_churn_dates

    customers = pd.DataFrame(
        {
            "customer_id": ["quiet", "busy", "lapsed-late", "returned"],
            "signup_date": pd.to_datetime(["2025-01-01"] * 4),
        }
    )
    feedback = pd.DataFrame(
        {
            "customer_id": ["busy", "busy", "busy", "lapsed-late", "returned", "returned"],
            "created_at": pd.to_datetime(
                [
                    "2025-02-01",
                    "2025-03-15",
                    "2025-05-01",
                    "2025-03-01",
                    "2025-01-20",
                    "2025-06-01",
                ]
            ),
        }
    )
    end = pd.Timestamp("2025-06-15")
    dates = inactivity_churn_dates(customers, feedback, 60, end)
    assert dates["quiet"] == pd.Timestamp("2025-03-02")  # signup + 60 days, nothing since
    assert pd.isna(dates["busy"])  # no 60-day gap; the last one (May 1) ends after the data
    assert dates["lapsed-late"] == pd.Timestamp("2025-04-30")
    assert dates["returned"] == pd.Timestamp("2025-03-21")  # the first gap counts
    # Cut the data at April 1: the late lapse is not known yet, the rest is unchanged.
    cut = pd.Timestamp("2025-04-01")
    early = inactivity_churn_dates(customers, feedback[feedback["created_at"] < cut], 60, cut)
    assert pd.isna(early["lapsed-late"])
    assert early["quiet"] == dates["quiet"] and early["returned"] == dates["returned"]


def test_inactivity_definition_keeps_the_active_set_point_in_time(world: World) -> None:
    from cxml.churn.training import with_churn_definition
    from cxml.features import active_at

    customers = world.customers.assign(
        signup_date=lambda f: pd.to_datetime(f["signup_date"]),
        churn_date=lambda f: pd.to_datetime(f["churn_date"].replace("", None)),
        attributes=[{}] * len(world.customers),
    )
    feedback = world.feedback.assign(created_at=lambda f: pd.to_datetime(f["created_at"]))
    definition = {"kind": "inactivity", "inactive_days": 45}
    as_of = pd.Timestamp("2025-03-01")
    full = with_churn_definition({"customers": customers, "feedback": feedback}, definition, NOW)
    cut = with_churn_definition(
        {"customers": customers, "feedback": feedback[feedback["created_at"] < as_of]},
        definition,
        as_of,
    )
    assert set(active_at(full["customers"], as_of)["customer_id"]) == set(
        active_at(cut["customers"], as_of)["customer_id"]
    )
    lapsed = full["customers"]["churn_date"].notna().sum()
    assert (
        lapsed > customers["churn_date"].notna().sum()
    )  # inactivity finds more than cancellations
