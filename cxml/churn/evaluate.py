"""Grading a churn model: ranking, calibration and lift, next to its baselines."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def grade(y: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, log loss, expected calibration error (``ece``), and lift /
    precision / recall in the top 5, 10, 20 %."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(probability, dtype=float), 1e-6, 1 - 1e-6)
    out = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "base_rate": float(y.mean()),
    }
    order = np.argsort(-p, kind="stable")
    for share in (5, 10, 20):
        top = order[: max(1, round(len(y) * share / 100))]
        precision = float(y[top].mean())
        out[f"precision_top{share}"] = precision
        out[f"recall_top{share}"] = float(y[top].sum() / max(y.sum(), 1))
        out[f"lift_top{share}"] = precision / out["base_rate"] if out["base_rate"] else float("nan")
    return out


def calibration_table(
    y: np.ndarray, probability: np.ndarray, bins: int = 10
) -> list[dict[str, float]]:
    """Mean predicted vs observed churn per probability decile."""
    y = np.asarray(y).astype(int)
    p = np.asarray(probability, dtype=float)
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    return [
        {
            "bin": int(b),
            "predicted": float(p[index == b].mean()),
            "observed": float(y[index == b].mean()),
            "n": int((index == b).sum()),
        }
        for b in range(bins)
        if (index == b).any()
    ]


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the share-weighted mean |observed − predicted| over
    ``bins`` equal-count probability bins (the deciles of ``calibration_table``)."""
    table = calibration_table(y, probability, bins)
    total = sum(r["n"] for r in table)
    return float(sum(r["n"] * abs(r["observed"] - r["predicted"]) for r in table) / total)
