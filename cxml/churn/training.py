"""Training sets from the store, a bucket of customers at a time, and their grading.

Snapshots are ``as_of − horizon − k·step`` for k = 0 … n−1, so every label (churn within
``horizon_days`` after its snapshot) is known by ``as_of``. Each bucket of customers is read as
of each snapshot in SQL (``cxml.store.history``), so a snapshot never sees anything dated
after it. The time-based backtest trains on the older snapshots and grades on the latest
complete one (k = 0); flat tables are graded by stratified k-fold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxml.churn.evaluate import grade
from cxml.churn.model import (
    ChurnModel,
    LinearChurnModel,
    LogisticBaseline,
    RuleBaseline,
    churn_probability,
)
from cxml.churn.predictor import ChurnDefinition, point_in_time_features
from cxml.errors import ConfigError
from cxml.features import MIN_THEME_MENTIONS, FeatureSpec, churn_labels, effective_churn_dates
from cxml.store import Store
from cxml.store import history as pit

Say = Callable[[str], None]
#: The candidates that may serve, the preferred first when their grades are level.
CANDIDATES: tuple[tuple[str, type], ...] = (
    ("lightgbm", ChurnModel),
    ("linear", LinearChurnModel),
)
#: The plain references every served model is graded against.
REFERENCES: tuple[tuple[str, type], ...] = (
    ("logistic", LogisticBaseline),
    ("rule", RuleBaseline),
)
FAMILIES = CANDIDATES + REFERENCES
#: A later candidate serves only when its backtest ROC-AUC is higher by more than this: noise
#: between near-equal families does not flip the served family from one retrain to the next.
MARGIN = 0.002
#: The key of the served model's ranking score among a backtest's predictions.
RANKING = "model (ranking score)"


def choose(graded: dict[str, dict[str, float]]) -> str:
    """The candidate that serves: the best ROC-AUC, unless an earlier one is within MARGIN."""
    names = [name for name, _ in CANDIDATES if name in graded]
    best = max(graded[n]["roc_auc"] for n in names)
    return next(n for n in names if graded[n]["roc_auc"] >= best - MARGIN)


def family_of(name: str) -> type:
    """The candidate class called ``name``."""
    return dict(CANDIDATES)[name]


def _served(
    graded: dict[str, dict[str, float]], predictions: dict[str, np.ndarray]
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """``model`` (what serves) first: the winning candidate's grades and predictions."""
    winner = choose(graded)
    return (
        {"model": {**graded[winner]}, **graded},
        {"model": predictions[winner], **predictions},
    )


def _quiet(_: str) -> None:
    return None


def snapshot_dates(
    as_of: pd.Timestamp, horizon_days: int, n_snapshots: int, step_days: int | None = None
) -> list[pd.Timestamp]:
    """Snapshot dates, latest first, whose labels are complete by ``as_of``."""
    step = pd.Timedelta(days=step_days or horizon_days)
    latest = as_of - pd.Timedelta(days=horizon_days)
    return [latest - k * step for k in range(n_snapshots)]


def feature_spec(
    store: Store, *, first_snapshot: pd.Timestamp, as_of: pd.Timestamp, with_text: bool = True
) -> FeatureSpec:
    """The columns of a training run, fixed from data before its first snapshot (so every
    snapshot agrees): themes mentioned at least ``MIN_THEME_MENTIONS`` times, channels seen,
    and the attribute names of customers signed up by ``as_of``."""
    mentions = pit.theme_mentions(store, first_snapshot) if with_text else {}
    return FeatureSpec(
        theme_ids=tuple(sorted(t for t, n in mentions.items() if n >= MIN_THEME_MENTIONS)),
        channels=tuple(pit.channels_before(store, first_snapshot)),
        attributes=tuple(pit.attribute_names(store, as_of)),
        with_text=with_text,
    )


@dataclass
class TrainingSet:
    """Features, labels and each row's snapshot, stacked over snapshots and buckets."""

    X: pd.DataFrame
    y: np.ndarray
    snapshot: np.ndarray
    customer_id: np.ndarray

    def in_order(self) -> TrainingSet:
        """The rows latest snapshot first, then by customer id: the order models are fitted
        in, whatever the bucket size or engine that built them (bagging and folds depend on
        it)."""
        order = np.lexsort(
            (self.customer_id.astype(str), -self.snapshot.astype("datetime64[ns]").view(np.int64))
        )
        return TrainingSet(
            self.X.iloc[order].reset_index(drop=True),
            self.y[order],
            self.snapshot[order],
            self.customer_id[order],
        )


def training_set(
    store: Store,
    dates: Sequence[pd.Timestamp],
    horizon_days: int,
    spec: FeatureSpec,
    definition: ChurnDefinition,
    *,
    data_end: pd.Timestamp,
    bucket_customers: int,
    say: Say = _quiet,
) -> TrainingSet:
    """Features as of each snapshot in ``dates`` and churn within the horizon after it, for
    every customer active then, read a bucket of customers at a time."""
    frames: list[pd.DataFrame] = []
    labels: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    buckets = list(pit.customer_buckets(store, bucket_customers, signed_up_before=max(dates)))
    for number, selection in enumerate(buckets, start=1):
        stored = pit.churn_dates(store, selection, known_by=data_end)
        interactions = (
            pit.interaction_times(store, selection, before=data_end)
            if definition.kind == "inactivity"
            else None
        )
        churn = effective_churn_dates(stored, interactions, definition.to_dict(), data_end)
        for date in dates:
            history = pit.read_history(store, date, selection, with_text=spec.with_text)
            features = point_in_time_features(history, spec, definition)
            frames.append(features.reset_index(drop=True))
            labels.append(churn_labels(churn, features.index, date, horizon_days))
            stamps.append(np.full(len(features), date.to_datetime64(), dtype="datetime64[ns]"))
            ids.append(features.index.to_numpy(dtype=object))
        say(f"training rows: bucket {number}/{len(buckets)} read as of {len(dates)} snapshots")
    columns = spec.columns()
    X = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    return TrainingSet(
        X,
        np.concatenate(labels) if labels else np.zeros(0, dtype=int),
        np.concatenate(stamps) if stamps else np.zeros(0, dtype="datetime64[ns]"),
        np.concatenate(ids) if ids else np.zeros(0, dtype=object),
    ).in_order()


def backtest(
    rows: TrainingSet, validation_snapshot: pd.Timestamp
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Train the model and its baselines on the snapshots before ``validation_snapshot``;
    grade them on it. Returns grades per family and the validation predictions (``y`` too;
    ``RANKING``: the served family's ranking score)."""
    latest = rows.snapshot == validation_snapshot.to_datetime64()
    if not latest.any() or latest.all():
        raise ConfigError(
            "the backtest needs rows at the validation snapshot and before it: "
            "use an earlier --as-of, or more --snapshots",
            field="as_of",
        )
    for part, name in ((rows.y[~latest], "training"), (rows.y[latest], "validation")):
        if len(np.unique(part)) < 2:
            raise ConfigError(
                f"the {name} snapshots have {'no' if part.sum() == 0 else 'only'} churners "
                f"({len(part):,} rows): a model cannot be graded; use a longer --horizon, "
                "more --snapshots or another --as-of",
                field="as_of",
            )
    graded: dict[str, dict[str, float]] = {}
    predictions: dict[str, np.ndarray] = {"y": rows.y[latest]}
    rankings: dict[str, np.ndarray] = {}
    for name, family in FAMILIES:
        model = family().fit(rows.X[~latest], rows.y[~latest])
        if hasattr(model, "walk"):  # a candidate: its ranking score too
            walked = model.walk(rows.X[latest], k=0)
            predictions[name], rankings[name] = walked["probability"], walked["ranking"]
        else:
            predictions[name] = churn_probability(model, rows.X[latest])
        graded[name] = grade(rows.y[latest], predictions[name])
    graded, predictions = _served(graded, predictions)
    # What orders the served model's list (and sets its time to churn): graded with it.
    predictions[RANKING] = rankings[choose(graded)]
    return graded, predictions


def flat_training_set(
    frame: pd.DataFrame, *, label_column: str, positive: str, id_column: str = "customer_id"
) -> tuple[pd.DataFrame, np.ndarray]:
    """(features, labels) from a flat labelled table: every column but the id and label is a feature."""
    for column in (label_column, id_column):
        if column not in frame.columns:
            raise ConfigError(
                f"column {column!r} is not in the table; it has: {', '.join(map(str, frame.columns))}",
                field=column,
            )
    labels = frame[label_column].astype(str).str.strip()
    if not (labels == positive).any():
        raise ConfigError(
            f"no row has {label_column}={positive!r}; its values are: {', '.join(sorted(labels.unique())[:10])}",
            field="positive",
            value=positive,
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
    graded: dict[str, list[dict[str, float]]] = {name: [] for name, _ in FAMILIES}
    predictions = {name: np.zeros(len(y)) for name in graded}
    for train, test in split.split(X, y):
        for name, family in FAMILIES:
            model = family().fit(X.iloc[train], y[train])
            predictions[name][test] = churn_probability(model, X.iloc[test])
            graded[name].append(grade(y[test], predictions[name][test]))
    means = {
        name: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        for name, rows in graded.items()
    }
    return _served(means, {"y": np.asarray(y), **predictions})


def digest(frame: pd.DataFrame, y: np.ndarray) -> str:
    """A short fingerprint of a training set (its values and labels)."""
    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + np.asarray(y).tobytes()).hexdigest()[:16]


def days_to_churn(
    store: Store, rows: TrainingSet, definition: ChurnDefinition, *, data_end: pd.Timestamp
) -> np.ndarray:
    """Per training row, days from its snapshot to the customer's churn as known by
    ``data_end`` (NaN: no churn known), under ``definition``: the durations of time to churn."""
    stored = pit.churn_dates(store, pit.EVERYONE, known_by=data_end)
    interactions = (
        pit.interaction_times(store, pit.EVERYONE, before=data_end)
        if definition.kind == "inactivity"
        else None
    )
    churn = effective_churn_dates(stored, interactions, definition.to_dict(), data_end)
    at = pd.to_datetime(churn.reindex(pd.Index(rows.customer_id))).to_numpy(dtype="datetime64[ns]")
    return (at - rows.snapshot.astype("datetime64[ns]")) / np.timedelta64(1, "D")


def survival_backtest(
    rows: TrainingSet,
    days: np.ndarray,
    validation_snapshot: pd.Timestamp,
    data_end: pd.Timestamp,
    horizon_days: int,
    classifier_probability: np.ndarray,
) -> tuple[dict[str, dict[str, float]], str]:
    """Time to churn graded forward in time, as the classifier is: two candidates fitted on
    the snapshots before ``validation_snapshot`` (their outcomes censored at it) — a Cox model
    on the features (``cox``) and the Kaplan–Meier curve scaled by the classifier's calibrated
    probability, as it serves (``classifier_km``) —
    graded on it (outcomes known by ``data_end``) next to Kaplan–Meier and the classifier's
    calibrated probability read as a constant hazard (``classifier``).

    Grades: concordance (Harrell's), integrated Brier score, and ``median_abs_error_days``:
    the median |expected days − actual days| with both restricted to the follow-up (every
    customer's min(days to churn, follow-up) is known, churned or not; ``…_churned``: over the
    customers who churned in it). Returns the grades (``survival`` repeats the candidate
    ``served_survival`` picks) and its name."""
    from cxml.churn.survival import (
        ClassifierSurvival,
        SurvivalModel,
        classifier_curve,
        grade_survival,
        kaplan_meier,
        targets,
    )

    latest = rows.snapshot == validation_snapshot.to_datetime64()
    train = targets(days[~latest], rows.snapshot[~latest], validation_snapshot)
    test = targets(days[latest], rows.snapshot[latest], data_end)
    if not train[0].any() or not test[0].any():
        raise ConfigError("no churn in the training or validation snapshots: nothing to time")
    model = SurvivalModel().fit(rows.X[~latest], *train)
    scaled = ClassifierSurvival(horizon_days=horizon_days).fit(None, *train)
    low, high = float(test[1].min()), float(test[1].max())
    times = np.unique(
        np.clip(np.linspace(1, horizon_days - 1, 30), np.nextafter(low, np.inf), high - 1e-6)
    )
    X = rows.X[latest]
    curves = {
        "cox": model.survival(X, times),
        "classifier_km": scaled.curves(classifier_probability, times),
        "kaplan_meier": np.tile(kaplan_meier(*train, times), (int(latest.sum()), 1)),
        "classifier": classifier_curve(classifier_probability, horizon_days, times),
    }
    # Expected days restricted to the follow-up: the area under each curve, on a daily grid
    # (the curves are steps at whole days).
    daily = np.arange(0.0, high)
    restricted = {
        "cox": model.survival(X, daily),
        "classifier_km": scaled.curves(classifier_probability, daily),
        "kaplan_meier": np.tile(kaplan_meier(*train, daily), (int(latest.sum()), 1)),
        "classifier": classifier_curve(classifier_probability, horizon_days, daily),
    }
    graded = grade_survival(
        train,
        test,
        curves=curves,
        risks={
            "cox": model.risk(X),
            "classifier_km": classifier_probability,
            "classifier": classifier_probability,
        },
        times=times,
    )
    graded["kaplan_meier"]["concordance"] = 0.5  # one curve for all: no ranking
    for name, curve in restricted.items():
        error = np.abs(curve.sum(axis=1) - test[1])  # one day per step, day 0 to the end
        graded[name]["median_abs_error_days"] = float(np.median(error))
        graded[name]["median_abs_error_days_churned"] = float(np.median(error[test[0]]))
    chosen = served_survival(graded)
    graded["survival"] = dict(graded[chosen])
    return graded, chosen


#: A time-to-churn candidate whose integrated Brier score is within this share of the best
#: one's may serve if it ranks better (see ``served_survival``).
BRIER_TOLERANCE = 0.05
#: How much better the Cox model must rank (concordance) to serve instead of the curve that
#: agrees with the probability shown (``served_survival``).
CONCORDANCE_LEAD = 0.01


def served_survival(graded: dict[str, dict[str, float]]) -> str:
    """The time-to-churn candidate that serves. The classifier-scaled curve by default: it
    passes through the classifier's churn probability at the horizon, so "x % still here in
    90 days" agrees with the risk shown beside it. The Cox model serves instead only when it
    ranks clearly better — concordance more than ``CONCORDANCE_LEAD`` higher — with its
    integrated Brier score within ``BRIER_TOLERANCE`` of the best (time to churn is read to
    order who to call first; measured in benchmarks/RESULTS.md). A new-user review found a Cox
    curve that led by 0.004 showing "38 % still here in 90 days" beside a 22 % risk."""
    names = ("cox", "classifier_km")
    best = min(graded[n]["integrated_brier"] for n in names)
    level = [n for n in names if graded[n]["integrated_brier"] <= best * (1 + BRIER_TOLERANCE)]
    if "classifier_km" not in level:
        return "cox"
    agreeing = graded["classifier_km"]["concordance"]
    if "cox" in level and graded["cox"]["concordance"] > agreeing + CONCORDANCE_LEAD:
        return "cox"
    return "classifier_km"
