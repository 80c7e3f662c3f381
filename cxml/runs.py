"""Training runs: fit a model on the store or a table, grade it against its baselines, log it
to MLflow and register it — the library behind `cxml train churn` (and its demo step)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.leaks import leak_warnings
from cxml.churn.model import ChurnModel
from cxml.churn.plots import evaluation_figures
from cxml.churn.predictor import ChurnDefinition, ChurnPredictor, Mode
from cxml.churn.training import (
    Say,
    TrainingSet,
    backtest,
    cross_validated,
    digest,
    feature_spec,
    flat_training_set,
    snapshot_dates,
    training_set,
)
from cxml.errors import ConfigError
from cxml.features import FeatureSpec
from cxml.store import Store
from cxml.store import history as pit
from cxml.tracking import log_churn_model

RowsBuilder = Callable[[list[pd.Timestamp], int, FeatureSpec, pd.Timestamp], TrainingSet]


def _quiet(_: str) -> None:
    return None


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
    store: Store | None = None,
    as_of: pd.Timestamp | None = None,
    horizon_days: int = 90,
    n_snapshots: int = 4,
    with_text: bool = True,
    definition: ChurnDefinition | None = None,
    say: Say = _quiet,
    build_rows: RowsBuilder | None = None,
) -> dict[str, Any]:
    """Grade (k-fold for a flat table, time-based backtest for the store), fit on everything,
    log to MLflow and register a ``cxml-churn`` version. Returns grades, warnings, version.

    ``build_rows(dates, horizon_days, spec, data_end)``: builds the snapshot rows another way
    (on Spark); by default the local engine, a bucket of customers at a time.

    ``say`` receives a line at each step (the CLI prints them as progress).
    """
    definition = definition or ChurnDefinition()
    spec: FeatureSpec | None = None
    mode: Mode
    if flat is not None:
        if label_column is None:
            raise ConfigError("a flat table needs --label-column", field="label_column")
        X, y = flat_training_set(flat, label_column=label_column, positive=positive)
        say(f"grading by 5-fold cross-validation on {len(X):,} rows")
        graded, predictions = cross_validated(X, y)
        mode, backtest_key = "flat", f"flat:5fold:{digest(X, y)}"
        definition = ChurnDefinition(kind="label", label_column=label_column, positive=positive)
        labels: dict[str, str] = {}
    else:
        if store is None or as_of is None:
            raise ConfigError("store mode needs the store and --as-of", field="as_of")
        as_of = pd.Timestamp(as_of)
        dates = snapshot_dates(as_of, horizon_days, n_snapshots)
        spec = feature_spec(store, first_snapshot=dates[-1], as_of=as_of, with_text=with_text)
        say(
            f"snapshots {', '.join(str(d.date()) for d in reversed(dates))}; "
            f"{len(spec.columns())} features"
        )
        if build_rows is not None:
            if definition.kind != "subscription":
                raise ConfigError(
                    "training on Spark supports the subscription churn definition; "
                    f"train {definition.kind!r} churn with --engine local",
                    field="definition",
                    value=definition.kind,
                )
            rows = build_rows(dates, horizon_days, spec, as_of)
        else:
            rows = training_set(
                store,
                dates,
                horizon_days,
                spec,
                definition,
                data_end=as_of,
                bucket_customers=settings.bucket_customers,
                say=say,
            )
        X, y = rows.X, rows.y
        say(f"backtest: train on {len(dates) - 1} older snapshots, grade on {dates[0].date()}")
        graded, predictions = backtest(rows, dates[0])
        mode = "store"
        backtest_key = f"store:{dates[0].date()}:h{horizon_days}:{digest(X, y)}"
        labels = pit.theme_labels(store)
    say(f"fitting the model on all {len(X):,} rows")
    warnings = leak_warnings(X, pd.Series(y))
    estimator = ChurnModel().fit(X, y)
    predictor = ChurnPredictor(
        estimator=estimator,
        mode=mode,
        columns=tuple(X.columns),
        base_rate=float(np.mean(y)),
        horizon_days=horizon_days,
        definition=definition,
        spec=spec,
        theme_labels=labels,
    )
    drivers = global_drivers(estimator, X)
    params = {
        "mode": mode,
        "backtest": backtest_key,
        "horizon_days": horizon_days,
        "with_text": with_text,
        "churn_definition": json.dumps(definition.to_dict()),
        "rows": len(X),
        "features": X.shape[1],
        "best_params": estimator.best_params_,
    }
    say("logging the run and registering the model in MLflow")
    logged = log_churn_model(
        predictor,
        settings,
        params=params,
        metrics=_metrics(graded),
        artifacts={
            "grades.json": graded,
            "leak_warnings.json": warnings,
            "features.json": list(X.columns),
            "feature_spec.json": spec.to_dict() if spec is not None else {},
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
