"""Training sets from the store: features at several past snapshots, labels complete by ``as_of``.

Snapshots are ``as_of − horizon − k·step`` for k = 0 … n−1, so every label (churn within
``horizon_days`` after its snapshot) is known by ``as_of``. The time-based backtest trains
on the older snapshots and grades on the latest complete one (k = 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.evaluate import grade
from cxml.churn.model import ChurnModel, LogisticBaseline, RuleBaseline
from cxml.churn.plots import evaluation_figures
from cxml.features import churn_labels, customer_features, inactivity_churn_dates

MIN_THEME_MENTIONS = 20


def with_churn_definition(
    inputs: dict[str, pd.DataFrame], definition: dict[str, Any], data_end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """The inputs with each customer's churn date as ``definition`` says, known by ``data_end``.

    ``{"kind": "subscription"}``: the stored ``churn_date``. ``{"kind": "inactivity",
    "inactive_days": N}``: no interaction for N days (see ``inactivity_churn_dates``); a stored
    ``churn_date`` that comes earlier still counts.
    """
    kind = definition.get("kind", "subscription")
    if kind == "subscription":
        return inputs
    if kind != "inactivity":
        from cxml.errors import ConfigError

        raise ConfigError(f"churn definition {kind!r} is not one of: subscription, inactivity")
    customers = inputs["customers"].copy()
    implied = inactivity_churn_dates(
        customers, inputs["feedback"], int(definition["inactive_days"]), data_end
    ).to_numpy()
    stored = pd.to_datetime(customers["churn_date"])
    stored = stored.where(stored <= pd.Timestamp(data_end))  # not known yet by data_end
    both = pd.DataFrame({"stored": stored.to_numpy(), "inactive": implied})
    customers["churn_date"] = both.min(axis=1).to_numpy()
    return {**inputs, "customers": customers}


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
    predictions: dict[str, np.ndarray] = {}
    for name, make in (
        ("model", ChurnModel),
        ("logistic", LogisticBaseline),
        ("rule", RuleBaseline),
    ):
        model = make().fit(X[~latest], y[~latest])
        predictions[name] = model.predict_proba(X[latest])
        graded[name] = grade(y[latest], predictions[name])
    graded["predictions"] = {"y": y[latest], **predictions}
    graded["validation_snapshot"] = str(dates[0].date())
    graded["train_snapshots"] = [str(d.date()) for d in dates[1:]]
    graded["rows_train"] = int((~latest).sum())
    graded["rows_validation"] = int(latest.sum())
    graded["features"] = int(X.shape[1])
    return graded


def flat_training_set(
    frame: pd.DataFrame, *, label_column: str, positive: str, id_column: str = "customer_id"
) -> tuple[pd.DataFrame, np.ndarray]:
    """(features, labels) from a flat labelled table: every column but the id and label is a feature."""
    from cxml.errors import ConfigError

    for column in (label_column, id_column):
        if column not in frame.columns:
            raise ConfigError(
                f"column {column!r} is not in the table; it has: {', '.join(map(str, frame.columns))}"
            )
    labels = frame[label_column].astype(str).str.strip()
    if not (labels == positive).any():
        raise ConfigError(
            f"no row has {label_column}={positive!r}; its values are: {', '.join(sorted(labels.unique())[:10])}"
        )
    X = frame.drop(columns=[label_column, id_column]).replace({"": None, " ": None})
    return X, (labels == positive).astype(int).to_numpy()


def cross_validated(
    X: pd.DataFrame, y: np.ndarray, folds: int = 5, random_state: int = 0
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Stratified k-fold grades (means over folds) for the model and its baselines, and every
    row's out-of-fold probability per model (``y`` holds the labels)."""
    from sklearn.model_selection import StratifiedKFold

    split = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    graded: dict[str, list[dict[str, float]]] = {"model": [], "logistic": [], "rule": []}
    predictions = {name: np.zeros(len(y)) for name in graded}
    for train, test in split.split(X, y):
        for name, make in (
            ("model", ChurnModel),
            ("logistic", LogisticBaseline),
            ("rule", RuleBaseline),
        ):
            model = make().fit(X.iloc[train], y[train])
            predictions[name][test] = model.predict_proba(X.iloc[test])
            graded[name].append(grade(y[test], predictions[name][test]))
    means = {
        name: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        for name, rows in graded.items()
    }
    return means, {"y": np.asarray(y), **predictions}


def _digest(frame: pd.DataFrame, y: np.ndarray) -> str:
    import hashlib

    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + np.asarray(y).tobytes()).hexdigest()[:16]


def _metrics(graded: dict[str, dict[str, float]]) -> dict[str, float]:
    out = {
        f"{name}_{key}": value for name, grades in graded.items() for key, value in grades.items()
    }
    for baseline in ("logistic", "rule"):
        out[f"lift_over_{baseline}_roc_auc"] = (
            graded["model"]["roc_auc"] - graded[baseline]["roc_auc"]
        )
    return out


def train_churn(
    settings: Any,
    *,
    flat: pd.DataFrame | None = None,
    label_column: str | None = None,
    positive: str = "Yes",
    inputs: dict[str, pd.DataFrame] | None = None,
    as_of: pd.Timestamp | None = None,
    horizon_days: int = 90,
    n_snapshots: int = 4,
    with_text: bool = True,
    definition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Grade (k-fold for a flat table, time-based backtest for the store), fit on everything,
    log to MLflow and register a ``cxml-churn`` version. Returns grades, warnings, version."""
    from cxml.features import leak_warnings
    from cxml.tracking import log_churn_model

    if flat is not None:
        if label_column is None:
            from cxml.errors import ConfigError

            raise ConfigError("a flat table needs --label-column")
        X, y = flat_training_set(flat, label_column=label_column, positive=positive)
        graded, predictions = cross_validated(X, y)
        mode, backtest_key = "flat", f"flat:5fold:{_digest(X, y)}"
        columns: dict[str, list[str]] = {}
    else:
        if inputs is None or as_of is None:
            from cxml.errors import ConfigError

            raise ConfigError("store mode needs the store's data and --as-of")
        inputs = with_churn_definition(inputs, definition or {"kind": "subscription"}, as_of)
        dates = snapshot_dates(as_of, horizon_days, n_snapshots)
        columns = feature_columns(inputs, dates[-1])
        frame, y, _ = training_set(
            inputs, dates, horizon_days, with_text=with_text, columns=columns
        )
        X = frame.drop(columns=["customer_id"])
        result = backtest(inputs, as_of, horizon_days, n_snapshots=n_snapshots, with_text=with_text)
        graded = {name: result[name] for name in ("model", "logistic", "rule")}
        predictions = result["predictions"]
        mode = "store"
        backtest_key = f"store:{result['validation_snapshot']}:h{horizon_days}:{_digest(X, y)}"
    warnings = leak_warnings(X, pd.Series(y))
    model = ChurnModel().fit(X, y)
    drivers = global_drivers(model, X)
    bundle = {
        "model": model,
        "mode": mode,
        "columns": list(X.columns),
        "theme_ids": columns.get("theme_ids", []),
        "channels": columns.get("channels", []),
        "horizon_days": horizon_days,
        "with_text": with_text,
        "base_rate": float(np.mean(y)),
        "churn_definition": definition or {"kind": "subscription"},
        "theme_labels": theme_labels(inputs["themes"]) if inputs is not None else {},
    }
    params = {
        "mode": mode,
        "backtest": backtest_key,
        "horizon_days": horizon_days,
        "with_text": with_text,
        "churn_definition": json.dumps(definition or {"kind": "subscription"}),
        "rows": len(X),
        "features": X.shape[1],
        "best_params": model.best_params_,
    }
    logged = log_churn_model(
        bundle,
        settings,
        params=params,
        metrics=_metrics(graded),
        artifacts={
            "grades.json": graded,
            "leak_warnings.json": warnings,
            "features.json": list(X.columns),
            "drivers.json": drivers.to_dict(orient="records"),
        },
        figures=evaluation_figures(
            predictions["y"], {k: v for k, v in predictions.items() if k != "y"}
        ),
        input_example=X.head(5),
    )
    return {
        **logged,
        "mode": mode,
        "grades": graded,
        "leak_warnings": warnings,
        "drivers": drivers.head(10).to_dict(orient="records"),
        "rows": len(X),
        "backtest": backtest_key,
    }


def theme_labels(themes: pd.DataFrame) -> dict[str, str]:
    """Each theme id's label (its most frequent one), for reasons in plain words."""
    if "theme_label" not in themes.columns or themes.empty:
        return {}
    counts = themes.groupby(["theme_id", "theme_label"]).size().reset_index(name="n")
    best = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates("theme_id")
    return dict(zip(best["theme_id"], best["theme_label"], strict=True))


def global_drivers(model: ChurnModel, X: pd.DataFrame) -> pd.DataFrame:
    """Features ranked by mean |attribution| over ``X`` (log-odds), with the mean signed value."""
    contributions = model.path_contributions(X).drop(columns=["bias"])
    return (
        pd.DataFrame(
            {
                "feature": contributions.columns,
                "mean_abs_contribution": contributions.abs().mean().to_numpy(),
                "mean_contribution": contributions.mean().to_numpy(),
            }
        )
        .sort_values("mean_abs_contribution", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
