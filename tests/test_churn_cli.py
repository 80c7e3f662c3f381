"""`cxml train churn` and `cxml promote`: flat mode on IBM Telco, MLflow registry on SQLite, the champion gate."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd

from cxml.features import leak_warnings
from tests.conftest import SHARED_DATA, run_cxml

TELCO = SHARED_DATA / "telco-ibm"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cxml(args, cwd)


def test_flat_training_is_graded_registered_and_gated(tmp_path: Path) -> None:
    args = [
        "train",
        "churn",
        "--customers",
        str(TELCO / "Telco-Customer-Churn.csv"),
        "--label-column",
        "Churn",
        "--positive",
        "Yes",
        "--map",
        "customerID=customer_id",
        "--json",
    ]
    first = run(args, tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout[first.stdout.index("{") :])
    assert report["version"] == "1" and report["champion"] == "1"
    grades = report["grades"]
    assert grades["model"]["roc_auc"] >= 0.84
    assert grades["model"]["roc_auc"] > grades["rule"]["roc_auc"]
    assert report["leak_warnings"] == []

    again = run(args, tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout[again.stdout.index("{") :])["champion"] == "1"
    refused = run(["promote"], tmp_path)
    assert refused.returncode == 6
    assert (
        refused.stdout.startswith("refused: version 2 roc_auc")
        and "does not beat champion 1" in refused.stdout
    )
    scored = run(
        [
            "score",
            "--customers",
            str(TELCO / "Telco-Customer-Churn.csv"),
            "--map",
            "customerID=customer_id",
            "--out",
            "telco_scores.csv",
        ],
        tmp_path,
    )
    assert scored.returncode == 0, scored.stderr
    table = pd.read_csv(tmp_path / "telco_scores.csv")
    assert len(table) == 7043 and table["probability"].between(0, 1).all()
    assert set(table["attribution"]) == {"path (Saabas)"}
    no_store_model = run(["score", "--as-of", "2025-01-01"], tmp_path)
    assert no_store_model.returncode == 2
    assert "no cxml-churn version was trained in store mode" in no_store_model.stderr


def test_leaky_columns_of_the_extended_telco_table_are_named() -> None:
    status = pd.read_csv(TELCO / "Telco_customer_churn_status.csv")
    label = (status["Churn Label"] == "Yes").astype(int)
    warnings = leak_warnings(
        status.drop(columns=["Customer ID", "Churn Label", "Churn Value"]), label
    )
    flagged = {w.split(":")[0] for w in warnings}
    assert {"Satisfaction Score", "Churn Category", "Churn Reason", "Customer Status"} <= flagged
    assert "CLTV" not in flagged


def test_store_mode_trains_on_snapshots_and_registers(tmp_path: Path) -> None:
    from datetime import date

    from cxml.churn.training import train_churn
    from cxml.demo import generate
    from cxml.settings import Settings

    world = generate(400, seed=13, end=date(2025, 6, 30))
    customers = world.customers.assign(
        signup_date=lambda f: pd.to_datetime(f["signup_date"]),
        churn_date=lambda f: pd.to_datetime(f["churn_date"].replace("", None)),
        attributes=lambda f: f[["plan", "contract", "region"]].to_dict(orient="records"),
    )
    inputs = {
        "customers": customers,
        "feedback": world.feedback.assign(created_at=lambda f: pd.to_datetime(f["created_at"])),
        "analysis": pd.DataFrame(columns=["feedback_id", "sentiment_score", "intents"]),
        "themes": pd.DataFrame(columns=["feedback_id", "theme_id", "sentiment_score"]),
    }
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'c.db'}",
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
    )
    cwd = Path.cwd()
    os.chdir(tmp_path)  # MLflow writes its artifacts below the working directory
    try:
        result = train_churn(
            settings, inputs=inputs, as_of=pd.Timestamp("2025-06-30"), n_snapshots=3
        )
    finally:
        os.chdir(cwd)
    assert result["mode"] == "store" and result["version"] == "1"
    assert result["backtest"].startswith("store:2025-04-01:h90:")
    assert set(result["grades"]) == {"model", "logistic", "rule"}
    assert (
        result["drivers"][0]["mean_abs_contribution"]
        >= result["drivers"][-1]["mean_abs_contribution"]
    )
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    logged = {a.path for a in client.list_artifacts(result["run_id"], "plots")}
    assert logged == {
        "plots/roc.png",
        "plots/precision_recall.png",
        "plots/calibration.png",
        "plots/gain.png",
    }
    names = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"drivers.json", "grades.json", "leak_warnings.json"} <= names
    model_info = mlflow.models.get_model_info(f"models:/cxml-churn/{result['version']}")
    assert model_info.signature is not None and model_info.signature.inputs is not None
    assert "tenure_days" in model_info.signature.inputs.input_names()

    # inactivity churn: a second definition on the same store, its own backtest
    os.chdir(tmp_path)
    try:
        inactive = train_churn(
            settings,
            inputs=inputs,
            as_of=pd.Timestamp("2025-06-30"),
            n_snapshots=3,
            definition={"kind": "inactivity", "inactive_days": 60},
        )
    finally:
        os.chdir(cwd)
    assert inactive["backtest"] != result["backtest"]
    assert inactive["grades"]["model"]["base_rate"] > result["grades"]["model"]["base_rate"]
