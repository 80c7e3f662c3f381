"""Evaluation figures for a churn run: ROC, precision-recall, calibration and cumulative gain,
the model next to its baselines on the same held-out rows (matplotlib figures, no I/O)."""

from __future__ import annotations

from typing import Any

import numpy as np


def evaluation_figures(y: np.ndarray, predictions: dict[str, np.ndarray]) -> dict[str, Any]:
    """Four figures keyed by file name; ``predictions`` maps a model name to its probabilities."""
    # Figures of their own, not pyplot's: no backend is switched and nothing is left open in
    # the caller's session (a notebook keeps drawing inline).
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve, roc_curve

    from cxml.churn.evaluate import calibration_table

    y = np.asarray(y).astype(int)
    figures: dict[str, Any] = {}
    roc, pr, calibration, gain = (Figure(figsize=(5, 5)) for _ in range(4))
    ax_roc, ax_pr, ax_cal, ax_gain = (f.subplots() for f in (roc, pr, calibration, gain))
    for name, p in predictions.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax_roc.plot(fpr, tpr, label=name)
        precision, recall, _ = precision_recall_curve(y, p)
        ax_pr.plot(recall, precision, label=name)
        table = calibration_table(y, p)
        ax_cal.plot(
            [r["predicted"] for r in table], [r["observed"] for r in table], "o-", label=name
        )
        order = np.argsort(-np.asarray(p), kind="stable")
        share = np.arange(1, len(y) + 1) / len(y)
        ax_gain.plot(share, np.cumsum(y[order]) / max(y.sum(), 1), label=name)
    ax_roc.plot([0, 1], [0, 1], "k:", label="chance")
    ax_roc.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    ax_pr.axhline(y.mean(), color="k", linestyle=":", label="base rate")
    ax_pr.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    top = max(float(np.max([np.max(p) for p in predictions.values()])), float(y.mean()) * 2)
    ax_cal.plot([0, top], [0, top], "k:", label="perfect")
    ax_cal.set(title="Calibration (deciles)", xlabel="predicted churn", ylabel="observed churn")
    ax_gain.plot([0, 1], [0, 1], "k:", label="random")
    ax_gain.set(
        title="Cumulative gain", xlabel="share of customers contacted", ylabel="share of churners"
    )
    for name, figure, axes in (
        ("roc.png", roc, ax_roc),
        ("precision_recall.png", pr, ax_pr),
        ("calibration.png", calibration, ax_cal),
        ("gain.png", gain, ax_gain),
    ):
        axes.legend(loc="best")
        figure.tight_layout()
        figures[name] = figure
    return figures
