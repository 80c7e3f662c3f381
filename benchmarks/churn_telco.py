"""Benchmark: churn on the IBM Telco flat table, 5-fold stratified CV, model next to baselines.

Usage: python -m benchmarks.churn_telco [--data ../shared/data]
Hyperparameters are chosen inside each training fold (inner 3-fold CV); the outer test fold
is never seen before it is scored.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from cxml.churn.evaluate import grade
from cxml.churn.model import (
    ChurnModel,
    LinearChurnModel,
    LogisticBaseline,
    RuleBaseline,
    churn_probability,
)

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    frame = pd.read_csv(args.data / "telco-ibm" / "Telco-Customer-Churn.csv")
    y = (frame["Churn"] == "Yes").astype(int).to_numpy()
    X = frame.drop(columns=["customerID", "Churn"])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    models = {
        "cxml ChurnModel (LightGBM, tuned inside the fold, isotonic)": ChurnModel,
        "cxml LinearChurnModel (L2 logistic, C tuned inside the fold, isotonic)": LinearChurnModel,
        "logistic regression": LogisticBaseline,
        "rule (one-split stump)": RuleBaseline,
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in models}
    seconds: dict[str, float] = dict.fromkeys(models, 0.0)
    for train, test in folds.split(X, y):
        for name, make in models.items():
            started = time.perf_counter()
            model = make().fit(X.iloc[train], y[train])
            results[name].append(grade(y[test], churn_probability(model, X.iloc[test])))
            seconds[name] += time.perf_counter() - started
    print(
        "| model | ROC-AUC (mean ± sd of 5 folds) | PR-AUC | Brier | lift top 10 % | recall top 20 % | fit+score s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        auc = np.array([r["roc_auc"] for r in rows])
        mean = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
        print(
            f"| {name} | {auc.mean():.4f} ± {auc.std():.4f} | {mean['pr_auc']:.3f} | {mean['brier']:.4f} "
            f"| {mean['lift_top10']:.2f} | {mean['recall_top20']:.3f} | {seconds[name]:.1f} |"
        )


if __name__ == "__main__":
    main()
