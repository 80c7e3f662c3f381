"""Training sets from the store: features at several past snapshots, labels complete by ``as_of``.

Snapshots are ``as_of − horizon − k·step`` for k = 0 … n−1, so every label (churn within
``horizon_days`` after its snapshot) is known by ``as_of``. The time-based backtest trains
on the older snapshots and grades on the latest complete one (k = 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.evaluate import grade
from cxml.churn.model import ChurnModel, LogisticBaseline, RuleBaseline
from cxml.features import churn_labels, customer_features

MIN_THEME_MENTIONS = 20


def snapshot_dates(
    as_of: pd.Timestamp, horizon_days: int, n_snapshots: int, step_days: int | None = None
) -> list[pd.Timestamp]:
    """Snapshot dates, latest first, whose labels are complete by ``as_of``."""
    step = pd.Timedelta(days=step_days or horizon_days)
    latest = pd.Timestamp(as_of) - pd.Timedelta(days=horizon_days)
    return [latest - k * step for k in range(n_snapshots)]


def feature_columns(inputs: dict[str, pd.DataFrame], before: pd.Timestamp) -> dict[str, list[str]]:
    """The theme and channel columns, fixed from data before ``before`` (so every snapshot agrees)."""
    feedback = inputs["feedback"]
    past = feedback[pd.to_datetime(feedback["created_at"]) < before]
    themes = inputs["themes"]
    counts = themes[
        themes["feedback_id"].isin(past["feedback_id"]) & (themes["theme_id"] != "other")
    ]["theme_id"].value_counts()
    return {
        "theme_ids": sorted(counts[counts >= MIN_THEME_MENTIONS].index.tolist()),
        "channels": sorted(past["channel"].dropna().unique().tolist()),
    }


def training_set(
    inputs: dict[str, pd.DataFrame],
    dates: Sequence[pd.Timestamp],
    horizon_days: int,
    *,
    with_text: bool = True,
    columns: dict[str, list[str]] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(features, labels, snapshot of each row) stacked over ``dates``."""
    columns = columns or feature_columns(inputs, min(dates))
    frames, labels, stamps = [], [], []
    for date in dates:
        features = customer_features(
            inputs["customers"],
            inputs["feedback"],
            date,
            analysis=inputs["analysis"] if with_text else None,
            themes=inputs["themes"] if with_text else None,
            theme_ids=columns["theme_ids"],
            channels=columns["channels"],
        )
        label = churn_labels(inputs["customers"], date, horizon_days).reindex(features.index)
        frames.append(features.reset_index())
        labels.append(label.to_numpy())
        stamps.append(np.full(len(features), date, dtype="datetime64[ns]"))
    frame = pd.concat(frames, ignore_index=True)
    for column in frame.columns:
        if isinstance(frames[0][column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("string").astype("category")
    return frame, np.concatenate(labels), np.concatenate(stamps)


def backtest(
    inputs: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    horizon_days: int = 90,
    *,
    n_snapshots: int = 4,
    step_days: int | None = None,
    with_text: bool = True,
) -> dict[str, Any]:
    """Train on the older snapshots, grade on the latest complete one; model and baselines."""
    dates = snapshot_dates(as_of, horizon_days, n_snapshots, step_days)
    columns = feature_columns(inputs, dates[-1])
    frame, y, stamps = training_set(
        inputs, dates, horizon_days, with_text=with_text, columns=columns
    )
    latest = stamps == np.datetime64(dates[0], "ns")
    X = frame.drop(columns=["customer_id"])
    graded: dict[str, Any] = {}
    for name, make in (
        ("model", ChurnModel),
        ("logistic", LogisticBaseline),
        ("rule", RuleBaseline),
    ):
        model = make().fit(X[~latest], y[~latest])
        graded[name] = grade(y[latest], model.predict_proba(X[latest]))
    graded["validation_snapshot"] = str(dates[0].date())
    graded["train_snapshots"] = [str(d.date()) for d in dates[1:]]
    graded["rows_train"] = int((~latest).sum())
    graded["rows_validation"] = int(latest.sum())
    graded["features"] = int(X.shape[1])
    return graded
