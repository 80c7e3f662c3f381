"""The train-churn job: fit a model on the store or a table, grade it against its baselines
(and the champion, on the same yardstick), log it to MLflow and register it — behind
`cxml train churn`, the retrain job and the demo. The fitting itself is ``cxml.churn``'s."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.leaks import leak_warnings
from cxml.churn.model import ServedModel
from cxml.churn.plots import evaluation_figures
from cxml.churn.predictor import ChurnDefinition, ChurnPredictor, Mode
from cxml.churn.training import (
    CANDIDATES,
    MARGIN,
    Say,
    TrainingSet,
    backtest,
    choose,
    cross_validated,
    digest,
    family_of,
    feature_spec,
    flat_training_set,
    snapshot_dates,
    training_set,
)
from cxml.contract import AsOf, parse_as_of
from cxml.errors import ConfigError, ModelMismatchError
from cxml.features import FeatureSpec
from cxml.jobs.engine import Engine, OpenStore
from cxml.jobs.promote import champion_on_backtest, champion_on_folds, overlap_note
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
    yardstick: dict[str, Any] = {}
    if flat is None:
        assert store is not None and as_of is not None and spec is not None
        yardstick = _champion_here(
            settings,
            lambda champion: champion_on_backtest(
                store,
                champion,
                validation=dates[0],
                horizon_days=horizon_days,
                data_end=as_of,
                definition=definition,
                bucket_customers=settings.bucket_customers,
            ),
            mode,
            say,
            validation=dates[0],
        )
    else:
        yardstick = _champion_here(
            settings, lambda champion: champion_on_folds(champion, X, y), mode, say
        )
    fit_survival: Callable[[ServedModel], Any] | None = None
    survival_grades: dict[str, dict[str, float]] = {}
    survival_family: str | None = None
    if flat is None:
        assert store is not None and as_of is not None
        fit_survival, survival_grades, survival_family = _time_to_churn(
            store,
            rows,
            definition,
            dates[0],
            as_of,
            horizon_days,
            predictions["model"],
            say,
        )
    say(f"fitting the model on all {len(X):,} rows")
    warnings = leak_warnings(X, pd.Series(y))
    served_family = choose(graded)
    say(
        f"serving the {served_family} family (backtest ROC-AUC "
        + ", ".join(f"{name} {graded[name]['roc_auc']:.4f}" for name, _ in CANDIDATES)
        + f"; a later family must lead by more than {MARGIN})"
    )
    estimator = family_of(served_family)().fit(X, y)
    survival = fit_survival(estimator) if fit_survival is not None else None
    predictor = ChurnPredictor(
        estimator=estimator,
        mode=mode,
        columns=tuple(X.columns),
        base_rate=float(np.mean(y)),
        horizon_days=horizon_days,
        definition=definition,
        spec=spec,
        theme_labels=labels,
        survival=survival,
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
        "served_family": served_family,
        **(
            {
                "as_of": str(as_of.date()),
                "validation_snapshot": str(dates[0].date()),
                # which store it learnt from, so scoring elsewhere can say so
                "store": store.url,
            }
            if flat is None and as_of is not None and store is not None
            else {}
        ),
        **yardstick.get("params", {}),
        **({"survival_family": survival_family} if survival_family else {}),
    }
    say("logging the run and registering the model in MLflow")
    logged = log_churn_model(
        predictor,
        settings,
        params=params,
        metrics={
            **_metrics(graded),
            **yardstick.get("metrics", {}),
            **{f"time_{name}_{k}": v for name, g in survival_grades.items() for k, v in g.items()},
        },
        artifacts={
            "grades.json": graded,
            "survival_grades.json": survival_grades,
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
        "champion_comparison": yardstick.get("params", {}).get("champion_comparison"),
        "champion_grades": yardstick.get("grades"),
        "survival_grades": survival_grades,
    }


def _time_to_churn(
    store: Store,
    rows: TrainingSet,
    definition: ChurnDefinition,
    validation: pd.Timestamp,
    data_end: pd.Timestamp,
    horizon_days: int,
    classifier_probability: np.ndarray,
    say: Say,
) -> tuple[Callable[[ServedModel], Any] | None, dict[str, dict[str, float]], str | None]:
    """The churn model's companion: candidates graded forward in time; returns how to fit the
    winner on every snapshot (outcomes censored when the data ends) once the final classifier
    exists, the grades and the winner's name. Nothing when the data holds no churn to time."""
    from cxml.churn.survival import ClassifierSurvival, SurvivalModel, targets
    from cxml.churn.training import days_to_churn, survival_backtest

    days = days_to_churn(store, rows, definition, data_end=data_end)
    try:
        graded, chosen = survival_backtest(
            rows,
            days,
            validation,
            data_end,
            horizon_days,
            classifier_probability,
        )
    except ConfigError as error:
        say(f"no time-to-churn model: {error}")
        return None, {}, None
    say(
        "time to churn ({}): concordance {:.3f} (classifier {:.3f}), integrated Brier {:.4f} "
        "(Kaplan–Meier {:.4f}, Cox {:.4f}, classifier-scaled curve {:.4f})".format(
            chosen,
            graded["survival"]["concordance"],
            graded["classifier"]["concordance"],
            graded["survival"]["integrated_brier"],
            graded["kaplan_meier"]["integrated_brier"],
            graded["cox"]["integrated_brier"],
            graded["classifier_km"]["integrated_brier"],
        )
    )
    event, duration = targets(days, rows.snapshot, data_end)

    def fit(estimator: ServedModel) -> Any:
        if chosen == "cox":
            return SurvivalModel().fit(rows.X, event, duration)
        return ClassifierSurvival(horizon_days=horizon_days).fit(estimator, event, duration)

    return fit, graded, chosen


def global_drivers(model: ServedModel, X: pd.DataFrame) -> pd.DataFrame:
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


def _champion_here(
    settings: Any,
    grade_champion: Callable[[ChurnPredictor], dict[str, float]],
    mode: str,
    say: Say,
    validation: pd.Timestamp | None = None,
) -> dict[str, Any]:
    """The current champion graded on this run's yardstick, as metrics and params for the run
    (nothing when there is no champion of this mode yet, or it cannot be graded here)."""
    from cxml.errors import ModelNotFoundError
    from cxml.tracking import load_churn_champion

    try:
        champion, version = load_churn_champion(settings)
    except ModelNotFoundError:
        return {}
    if champion.mode != mode:
        return {
            "params": {"champion_comparison": f"champion {version} is a {champion.mode}-mode model"}
        }
    try:
        grades = grade_champion(champion)
    except (ConfigError, ModelMismatchError) as error:
        return {"params": {"champion_version": version, "champion_comparison": str(error)}}
    say(f"champion {version} graded on this backtest: ROC-AUC {grades['roc_auc']:.4f}")
    note = overlap_note(settings, version, validation)
    if note:
        say(f"note: {note}")
    return {
        "params": {
            "champion_version": version,
            "champion_comparison": "graded",
            **({"champion_overlap": note} if note else {}),
        },
        "metrics": {f"champion_{k}": v for k, v in grades.items()},
        "grades": grades,
    }


# --- the job, as `cxml train churn` asks for it ----------------------------------------------


@dataclass(frozen=True)
class TrainChurnRequest:
    """Flat mode (a labelled table) or store mode (snapshots of the store's history)."""

    customers_path: Path | None = None  # flat mode
    label_column: str | None = None
    positive: str = "Yes"
    maps: tuple[str, ...] = ()
    as_of: AsOf | None = None  # store mode: the day labels must be complete by (default: now)
    horizon_days: int = 90
    n_snapshots: int = 4
    without_text: bool = False
    definition: str = "subscription"  # or "inactivity"
    inactive_days: int = 90
    engine: Engine = field(default_factory=Engine)
    actor: str = "cxml"  # who trains: the audit log's entry when the first version is champion


@dataclass(frozen=True)
class TrainedChurn:
    """The run's report as logged: grades, baselines, warnings, the registered version."""

    report: dict[str, Any]

    @property
    def leak_warnings(self) -> list[str]:
        return list(self.report["leak_warnings"])


def run_train_churn(
    settings: Any,
    store: OpenStore,
    request: TrainChurnRequest,
    *,
    now: datetime,
    say: Say = _quiet,
) -> TrainedChurn:
    """Train in the request's mode (``train_churn``), on the request's engine."""
    from cxml.contract import parse_mapping
    from cxml.text.training import read_table

    engine = request.engine
    if request.customers_path is not None:
        table = read_table(request.customers_path).rename(columns=parse_mapping(request.maps))
        result = train_churn(
            settings,
            flat=table,
            label_column=request.label_column,
            positive=request.positive,
            horizon_days=request.horizon_days,
            say=say,
        )
        return TrainedChurn(result)
    engine.local_only()
    if request.definition != "inactivity":
        require_churners(store())
    day = parse_as_of(request.as_of, now=now).normalize()
    build_rows = None
    if engine.spark:
        from cxml.spark.jobs import training_rows_with_spark

        spark, source = engine.session(settings), engine.source(settings, store)

        def build_rows(dates: Any, horizon: int, spec: Any, data_end: Any) -> Any:
            return training_rows_with_spark(
                spark,
                source,
                spec,
                dates,
                horizon,
                data_end=data_end,
                bucket_customers=settings.bucket_customers,
                say=say,
            )

    result = train_churn(
        settings,
        build_rows=build_rows,
        store=store(),
        as_of=day,
        horizon_days=request.horizon_days,
        n_snapshots=request.n_snapshots,
        with_text=not request.without_text,
        definition=ChurnDefinition(kind="inactivity", inactive_days=request.inactive_days)
        if request.definition == "inactivity"
        else ChurnDefinition(),
        say=say,
    )
    if result.get("version") is not None and result.get("champion") == result.get("version"):
        from cxml.jobs.promote import announce_first_champion
        from cxml.tracking import CHURN_MODEL

        announce_first_champion(
            store(), CHURN_MODEL, str(result["version"]), now=now, actor=request.actor
        )
    return TrainedChurn(result)


def require_churners(store: Store) -> None:
    """Refuse to train on a store without a single churner, saying what to load."""
    from cxml.store.metrics import churn_counts

    total, churned = churn_counts(store)
    if total == 0:
        raise ConfigError(
            "the store has no customers to learn churn from (anonymous survey respondents are "
            "never trained on): load customers with `cxml ingest customers FILE`, with a "
            "churn_date column for those who left",
            field="churn_date",
        )
    if churned == 0:
        raise ConfigError(
            f"the store has no churners at all: none of its {total:,} customers has a "
            "churn_date, so there is nothing to learn churn from (a longer --horizon cannot "
            "help). Load churn dates — `cxml ingest customers FILE` with a churn_date column, "
            "or a cancellation export mapped with --map 'CANCELLED_ON=churn_date' — or train "
            "with --definition inactivity",
            field="churn_date",
        )
