"""`cxml train churn` and `cxml promote`: flat mode on IBM Telco, MLflow registry on SQLite, the champion gate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cxml.churn.leaks import leak_warnings
from tests.conftest import SHARED_DATA, run_cxml

TELCO = SHARED_DATA / "telco-ibm"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cxml(args, cwd)


@pytest.mark.slow
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
        and "champion 1's" in refused.stdout
        and "under the margin of 0.005" in refused.stdout  # same data, same model: no gain
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
    assert no_store_model.returncode == 4
    assert no_store_model.stderr.startswith("error [CX202]: no cxml-churn version was trained")


def test_leaky_columns_of_the_extended_telco_table_are_named() -> None:
    status = pd.read_csv(TELCO / "Telco_customer_churn_status.csv")
    label = (status["Churn Label"] == "Yes").astype(int)
    warnings = leak_warnings(
        status.drop(columns=["Customer ID", "Churn Label", "Churn Value"]), label
    )
    flagged = {w.split(":")[0] for w in warnings}
    assert {"Satisfaction Score", "Churn Category", "Churn Reason", "Customer Status"} <= flagged
    assert "CLTV" not in flagged
