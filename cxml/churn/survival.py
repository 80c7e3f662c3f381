"""Time to churn: how soon an active customer will leave, not only whether.

``SurvivalModel`` is a ridge-penalised Cox model (scikit-survival) on the churn model's own
point-in-time features — imputed and scaled numbers, one-hot attributes — so it reads the
customer exactly as the classifier does. Rows come from the same snapshots; a customer still
active when the data ends is *censored* at that day (they stayed at least that long), never a
negative. It answers the probability of still being a customer 30, 60 and 90 days after the
snapshot and the expected days to churn within ``max_days`` (the restricted mean: beyond
what the data has followed, nothing is claimed).

Graded forward in time against Kaplan–Meier (no covariates) and the classifier's own
probability read as a constant hazard: concordance and integrated Brier score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxml.estimator import Estimator

DAYS = (30, 60, 90)
#: Rows the Cox fit uses at most (a sample, events kept first): its cost grows with rows × features².
MAX_ROWS = 60_000
#: Standardised numbers are held within this many standard deviations (see ``_encoder``).
Z_CLIP = 4.0


def targets(
    days_to_churn: np.ndarray, snapshot: np.ndarray, censor_at: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """(event, days) per row: churned by ``censor_at`` and after how many days; otherwise
    censored at the days from the snapshot to ``censor_at``. A churn known only later is not
    an event here (its outcome lies past what this fit may see)."""
    end = np.datetime64(pd.Timestamp(censor_at).to_datetime64(), "ns")
    follow_up = np.asarray(
        (end - snapshot.astype("datetime64[ns]")) / np.timedelta64(1, "D"), dtype=float
    )
    churned = np.asarray(days_to_churn, dtype=float)
    event = ~np.isnan(churned) & (churned <= follow_up)
    days = np.where(event, churned, follow_up)
    return event, np.maximum(days, 0.5)  # churn on the snapshot day itself: half a day


def structured(event: np.ndarray, days: np.ndarray) -> np.ndarray:
    """scikit-survival's target: a record array of (event, time)."""
    out = np.empty(len(event), dtype=[("event", bool), ("days", float)])
    out["event"], out["days"] = event, days
    return out


class SurvivalModel(Estimator):
    """Penalised Cox proportional hazards on the churn features (scikit-learn contract)."""

    _fit_call = "fit(X, event, days)"

    def __init__(
        self, alpha: float = 100.0, max_days: int = 365, max_rows: int = MAX_ROWS, seed: int = 0
    ) -> None:
        self.alpha = alpha
        self.max_days = max_days
        self.max_rows = max_rows
        self.seed = seed

    def _encoder(self, X: pd.DataFrame) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        other = [c for c in X.columns if c not in numeric]
        return ColumnTransformer(
            [
                (
                    "numbers",
                    make_pipeline(
                        SimpleImputer(strategy="median", keep_empty_features=True),
                        StandardScaler(),
                        # A rare count standardises to z of 50 and more: the Cox fit's first
                        # steps then put e^(x·w) past what a float holds (scikit-survival's
                        # "overflow encountered in exp"). Beyond ±Z_CLIP standard deviations
                        # a value says nothing more about risk: it is held there.
                        FunctionTransformer(
                            np.clip,
                            kw_args={"a_min": -Z_CLIP, "a_max": Z_CLIP},
                            feature_names_out="one-to-one",
                        ),
                    ),
                    numeric,
                ),
                (
                    "categories",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="(missing)"),
                        OneHotEncoder(handle_unknown="ignore", max_categories=12),
                    ),
                    other,
                ),
            ],
            sparse_threshold=0.0,
        )

    @staticmethod
    def _frame(X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for column in out.columns:
            if not pd.api.types.is_numeric_dtype(out[column]):
                out[column] = [None if v is None or v != v else str(v) for v in out[column]]
        return out

    def fit(self, X: pd.DataFrame, event: np.ndarray, days: np.ndarray) -> SurvivalModel:
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        self._forget()
        event, days = np.asarray(event, dtype=bool), np.asarray(days, dtype=float)
        rows = np.arange(len(X))
        if len(rows) > self.max_rows:  # every event, then censored rows at random
            rng = np.random.default_rng(self.seed)
            events, censored = rows[event], rows[~event]
            keep = max(0, self.max_rows - len(events))
            rows = np.sort(
                np.concatenate([events[: self.max_rows], rng.permutation(censored)[:keep]])
            )
        frame = self._frame(X.iloc[rows])
        self.columns_ = list(X.columns)
        self.encoder_ = self._encoder(frame).fit(frame)
        self.cox_ = CoxPHSurvivalAnalysis(alpha=self.alpha, ties="efron").fit(
            self.encoder_.transform(frame), structured(event[rows], days[rows])
        )
        self.followed_days_ = float(days.max()) if len(days) else 0.0
        return self

    def _check(self) -> None:
        self._check_fitted("cox_")

    def risk(self, X: pd.DataFrame) -> np.ndarray:
        """The linear predictor (higher: sooner churn), for concordance."""
        self._check()
        return np.asarray(self.cox_.predict(self.encoder_.transform(self._frame(X[self.columns_]))))

    def _hazard(self) -> tuple[np.ndarray, np.ndarray]:
        """The cumulative baseline hazard as a step function: (days, value from that day)."""
        steps = self.cox_.cum_baseline_hazard_
        return np.asarray(steps.x, dtype=float), np.asarray(steps.y, dtype=float)

    def survival(self, X: pd.DataFrame, days: Sequence[float] | np.ndarray = DAYS) -> np.ndarray:
        """(rows, len(days)): the probability of still being a customer that many days on:
        S(t | x) = exp(−H₀(t) · e^{risk(x)}), H₀ held flat after the last day followed."""
        return _curves(np.exp(self.risk(X)), *self._hazard(), days)

    def expected_days(self, X: pd.DataFrame) -> np.ndarray:
        """Expected days to churn within ``max_days``: the area under each survival curve up
        to it (exact for the step-shaped curve; held flat after the last day followed)."""
        return _restricted_mean(np.exp(self.risk(X)), *self._hazard(), self.max_days)


class ClassifierSurvival(Estimator):
    """Time to churn from the churn classifier and the population's curve: each customer's
    survival is the Kaplan–Meier curve raised to the power that makes it pass through the
    classifier's churn probability at the horizon — S(t | x) = S₀(t)^m(x) with
    S₀(horizon)^m(x) = 1 − p(x). Proportional hazards, with the level set by the classifier
    and the shape by the data; chosen over the Cox model when it grades better.

    ``score``: which of the classifier's probabilities sets the level — ``"probability"``, the
    calibrated one shown to people, so that "still here in 90 days" is 1 − the risk shown
    beside it (strictly increasing in the model's score since the centred isotonic curve, so
    expected days differ as risks do, in the list's order), or ``"ranking"``, its ranking
    score (Platt-scaled full score; within a few points of the probability, not equal to it:
    the companions fitted from 2026-12-07 until this change, which a new user saw disagree
    with the risk by up to 5.5 points)."""

    _fit_call = "fit(estimator, event, days)"

    def __init__(
        self, horizon_days: int = 90, max_days: int = 365, score: str = "probability"
    ) -> None:
        self.horizon_days = horizon_days
        self.max_days = max_days
        self.score = score

    def reads(self, walked: dict[str, np.ndarray]) -> np.ndarray:
        """The probability this companion reads, from a classifier's ``walk`` output."""
        # Fitted before ``score`` existed: the calibrated probability, as then.
        return walked[
            "ranking" if getattr(self, "score", "probability") == "ranking" else "probability"
        ]

    def fit(self, estimator: Any, event: np.ndarray, days: np.ndarray) -> ClassifierSurvival:
        from sksurv.nonparametric import kaplan_meier_estimator

        self._forget()
        self.estimator_ = estimator
        times, values = kaplan_meier_estimator(np.asarray(event, bool), np.asarray(days, float))
        self.times_ = np.asarray(times, float)
        # S₀ as a cumulative hazard, −log S₀, so both models share one way to read curves.
        self.hazard_ = -np.log(np.clip(np.asarray(values, float), 1e-12, 1.0))
        at_horizon = float(
            _curves(np.ones(1), self.times_, self.hazard_, [self.horizon_days])[0, 0]
        )
        if not 0.0 < at_horizon < 1.0:
            from cxml.errors import ConfigError

            raise ConfigError("no churn within the horizon in the data: nothing to time")
        self.at_horizon_ = at_horizon
        return self

    def power(self, probability: np.ndarray) -> np.ndarray:
        """m(x) from the classifier's probability of churn within the horizon."""
        stay = np.clip(1.0 - np.asarray(probability, dtype=float), 1e-9, 1.0)
        return np.log(stay) / np.log(self.at_horizon_)

    def curves(self, probability: np.ndarray, days: Sequence[float] | np.ndarray) -> np.ndarray:
        """Survival at ``days`` for rows given by their churn probability."""
        return _curves(self.power(probability), self.times_, self.hazard_, days)

    def risk(self, X: pd.DataFrame, probability: np.ndarray | None = None) -> np.ndarray:
        """m(x): higher, sooner churn. ``probability``: the classifier's (as ``reads`` picks
        it), when the caller has it already (scoring), instead of asking the classifier again."""
        self._check_fitted("estimator_")
        if probability is None:
            probability = self.reads(self.estimator_.walk(X, k=0))
        return self.power(probability)

    def survival(
        self,
        X: pd.DataFrame,
        days: Sequence[float] | np.ndarray = DAYS,
        probability: np.ndarray | None = None,
    ) -> np.ndarray:
        return _curves(self.risk(X, probability), self.times_, self.hazard_, days)

    def expected_days(self, X: pd.DataFrame, probability: np.ndarray | None = None) -> np.ndarray:
        return _restricted_mean(self.risk(X, probability), self.times_, self.hazard_, self.max_days)


def _curves(
    scale: np.ndarray, at: np.ndarray, hazard: np.ndarray, days: Sequence[float] | np.ndarray
) -> np.ndarray:
    """exp(−H(t) · scale) for every row's scale and every day, H the step function that takes
    ``hazard[i]`` from day ``at[i]`` (0 before the first step)."""
    index = np.searchsorted(at, np.asarray(days, dtype=float), side="right") - 1
    baseline = np.where(index >= 0, hazard[np.clip(index, 0, None)], 0.0)
    return np.exp(-np.outer(scale, baseline))


def _restricted_mean(
    scale: np.ndarray, at: np.ndarray, hazard: np.ndarray, max_days: float
) -> np.ndarray:
    """The area under each row's curve from day 0 to ``max_days``, exact for the steps."""
    inside = at < max_days
    edges = np.concatenate([[0.0], at[inside], [float(max_days)]])
    levels = np.concatenate([[0.0], hazard[inside]])  # H on each interval
    widths = np.diff(edges)
    out = np.empty(len(scale))
    for start in range(0, len(scale), 20_000):  # rows × steps at a time, bounded
        part = scale[start : start + 20_000]
        out[start : start + len(part)] = np.exp(-np.outer(part, levels)) @ widths
    return out


def kaplan_meier(
    event: np.ndarray, days: np.ndarray, at: Sequence[float] | np.ndarray
) -> np.ndarray:
    """The Kaplan–Meier survival (no covariates) at the given days."""
    from sksurv.nonparametric import kaplan_meier_estimator

    times, values = kaplan_meier_estimator(np.asarray(event, bool), np.asarray(days, float))
    index = np.searchsorted(times, np.asarray(at, dtype=float), side="right") - 1
    return np.where(index >= 0, values[np.clip(index, 0, None)], 1.0)


def grade_survival(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    curves: dict[str, np.ndarray],
    risks: dict[str, np.ndarray],
    times: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Per candidate: concordance (Harrell's, on ``risks``) and integrated Brier score over
    ``times`` (IPCW, on ``curves``: rows × times survival), on the test rows."""
    from sksurv.metrics import concordance_index_censored, integrated_brier_score

    train_y, test_y = structured(*train), structured(*test)
    out: dict[str, dict[str, float]] = {}
    for name, curve in curves.items():
        graded = {"integrated_brier": float(integrated_brier_score(train_y, test_y, curve, times))}
        if name in risks:
            graded["concordance"] = float(
                concordance_index_censored(test[0], test[1], risks[name])[0]
            )
        out[name] = graded
    return out


def classifier_curve(probability: np.ndarray, horizon_days: int, times: np.ndarray) -> np.ndarray:
    """The classifier's churn probability within the horizon read as a constant hazard:
    S(t) = (1 − p)^(t / horizon)."""
    stay = np.clip(1.0 - np.asarray(probability, dtype=float), 1e-9, 1.0)
    return stay[:, None] ** (np.asarray(times, dtype=float)[None, :] / horizon_days)
