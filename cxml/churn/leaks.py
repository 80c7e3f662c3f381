"""Columns that look like leaks: recorded because of the outcome, or deciding it alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxml.churn.model import prepare


def leak_warnings(
    frame: pd.DataFrame, label: pd.Series, *, auc_threshold: float = 0.97
) -> list[str]:
    """Columns that look like leaks: near-perfect alone, or filled only for one class."""
    from sklearn.metrics import roc_auc_score

    warnings: list[str] = []
    y = label.to_numpy()
    if len(np.unique(y)) < 2:
        return warnings
    typed = prepare(frame)
    for column in typed.columns:
        values = typed[column]
        present = values.notna().to_numpy()
        if present.any() and not present.all():
            share_positive = y[present].mean()
            if share_positive in (0.0, 1.0) and present.sum() >= 10:
                warnings.append(
                    f"{column}: filled only for {'churners' if share_positive == 1 else 'non-churners'} "
                    f"({present.sum():,} rows) — it is probably recorded because of the outcome"
                )
                continue
        determined = _determined_share(values, y)
        if determined >= 0.5:
            warnings.append(
                f"{column}: its value alone decides churn for {determined:.0%} of rows "
                "(some values always churned, others never) — check it is known before churn"
            )
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            if len(values.cat.categories) > 50:
                continue  # an id-like column: per-value rates would only echo the label
            codes = values.cat.codes.to_numpy().astype(float)
            rates = pd.Series(y).groupby(codes).mean()
            score = codes.copy()
            for code, rate in rates.items():
                score[codes == code] = rate
        else:
            score = pd.to_numeric(values, errors="coerce").fillna(-1e12).to_numpy()
        auc = roc_auc_score(y, score)
        auc = max(auc, 1 - auc)
        if auc >= auc_threshold:
            warnings.append(
                f"{column}: predicts churn alone with ROC-AUC {auc:.3f} — check it is known before churn"
            )
    return warnings


def _determined_share(values: pd.Series, y: np.ndarray, min_rows: int = 20) -> float:
    """Share of rows whose value's group (≥ ``min_rows``) churned always or never, when both kinds exist."""
    if values.nunique(dropna=True) > 50:
        return 0.0
    rates = (
        pd.DataFrame({"v": values.astype(object), "y": y})
        .dropna()
        .groupby("v")["y"]
        .agg(["mean", "size"])
    )
    rates = rates[rates["size"] >= min_rows]
    always, never = rates[rates["mean"] == 1.0], rates[rates["mean"] == 0.0]
    if always.empty or never.empty:
        return 0.0
    return float((always["size"].sum() + never["size"].sum()) / len(y))
