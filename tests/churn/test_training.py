"""Training sets from the store's history, the backtest, and what a training run logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxml.churn.predictor import ChurnDefinition
from cxml.churn.training import (
    MARGIN,
    backtest,
    choose,
    feature_spec,
    snapshot_dates,
    training_set,
)
from cxml.jobs.train_churn import train_churn
from cxml.settings import Settings
from tests.conftest import Trained, working_directory


def test_snapshots_have_complete_labels_and_the_backtest_grades_forward(trained: Trained) -> None:
    store = trained.stores["postgresql"]
    as_of = trained.as_of
    dates = snapshot_dates(as_of, 90, 3)
    assert dates == [
        pd.Timestamp("2025-04-01"),
        pd.Timestamp("2025-01-01"),
        pd.Timestamp("2024-10-03"),
    ]
    assert all(d + pd.Timedelta(days=90) <= as_of for d in dates)
    spec = feature_spec(store, first_snapshot=dates[-1], as_of=as_of)
    assert "billing" in spec.theme_ids and "plan" in spec.attributes
    rows = training_set(
        store, dates, 90, spec, ChurnDefinition(), data_end=as_of, bucket_customers=37
    )
    assert len(rows.X) == len(rows.y) == len(rows.snapshot) and set(np.unique(rows.y)) == {0, 1}
    assert list(rows.X.columns) == spec.columns()
    # every row's customer was active at its snapshot, and its label is churn within 90 days
    people = store.table_frame("customers").set_index("customer_id")
    churn = pd.to_datetime(people["churn_date"])
    for customer_id, snapshot, label in zip(rows.customer_id, rows.snapshot, rows.y, strict=True):
        left = churn[customer_id]
        assert pd.isna(left) or left >= snapshot
        assert label == int(pd.notna(left) and left < snapshot + np.timedelta64(90, "D"))
    graded, predictions = backtest(rows, dates[0])
    assert set(graded) == {"model", "lightgbm", "linear", "logistic", "rule"}
    # what serves is the better candidate on this backtest (the earlier one within the margin)
    served = choose(graded)
    assert graded["model"] == graded[served] and predictions["model"] is predictions[served]
    other = "linear" if served == "lightgbm" else "lightgbm"
    assert graded[served]["roc_auc"] >= graded[other]["roc_auc"] - MARGIN
    assert len(predictions["y"]) == int((rows.snapshot == dates[0].to_datetime64()).sum())
    assert 0 <= graded["model"]["roc_auc"] <= 1


def test_a_run_logs_grades_plots_drivers_and_a_signature(trained: Trained) -> None:
    import mlflow

    result = trained.result
    assert result["mode"] == "store" and result["version"] == "1"
    assert result["backtest"].startswith("store:2025-04-01:h90:")
    assert set(result["grades"]) == {"model", "lightgbm", "linear", "logistic", "rule"}
    drivers = result["drivers"]
    assert drivers[0]["mean_abs_contribution"] >= drivers[-1]["mean_abs_contribution"]
    mlflow.set_tracking_uri(trained.settings["sqlite"].mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    logged = {a.path for a in client.list_artifacts(result["run_id"], "plots")}
    assert logged == {
        "plots/roc.png",
        "plots/precision_recall.png",
        "plots/calibration.png",
        "plots/gain.png",
    }
    names = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"drivers.json", "grades.json", "leak_warnings.json", "feature_spec.json"} <= names
    with working_directory(trained.folder):
        info = mlflow.models.get_model_info(f"models:/cxml-churn/{result['version']}")
    assert info.signature is not None and info.signature.inputs is not None
    assert "tenure_days" in info.signature.inputs.input_names()
    assert trained.predictor.columns == tuple(trained.predictor.spec.columns())


def test_inactivity_churn_is_its_own_backtest_with_more_churners(
    trained: Trained, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=trained.settings["sqlite"].database_url,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        bucket_customers=100,
    )
    with working_directory(tmp_path):
        inactive = train_churn(
            settings,
            store=trained.stores["sqlite"],
            as_of=trained.as_of,
            definition=ChurnDefinition(kind="inactivity", inactive_days=60),
        )
    assert inactive["backtest"] != trained.result["backtest"]
    base = trained.result["grades"]["model"]["base_rate"]
    assert inactive["grades"]["model"]["base_rate"] > base
