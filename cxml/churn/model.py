"""The churn models: calibrated gradient-boosted trees (LightGBM) and a calibrated regularised
logistic regression, candidates chosen by backtest; and the baselines they must beat.

``ChurnModel`` picks its tree settings from a small grid by inner cross-validation on the
training data only (never on the rows it is evaluated on), then calibrates probabilities
on out-of-fold predictions (``CentredIsotonic``: isotonic regression without its steps).
Every class here is a scikit-learn estimator: ``__init__`` only stores parameters, ``fit``
starts from scratch, learned state ends in ``_``, and using one before ``fit`` raises
``cxml.errors.NotFittedError``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from cxml.errors import ModelMismatchError
from cxml.estimator import Estimator

# Small, regularised trees suit tabular churn data (few thousand to millions of rows).
GRID: tuple[dict[str, Any], ...] = (
    {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 8, "min_child_samples": 50},
    {
        "n_estimators": 800,
        "learning_rate": 0.01,
        "num_leaves": 6,
        "min_child_samples": 100,
        "colsample_bytree": 0.5,
        "subsample": 0.7,
        "subsample_freq": 1,
        "reg_lambda": 10.0,
    },
    {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20},
)


#: The customer's own statement that they are leaving (a comment in the last 90 days in which
#: the churn-intent detector found it). It is rare — a few customers in a hundred — and
#: decisive where it occurs, so trees that may not cut off fewer than ``min_child_samples``
#: rows can give it no weight at all (measured in benchmarks/RESULTS.md). Each family
#: therefore learns, after its own fit, how much a statement adds to its raw score: a logistic
#: regression of churn on its out-of-fold raw score and the statement (``_learn_statement``).
#: The weight is the data's, and zero where statements do not predict churn.
STATEMENT = "intent_leave_90d"
#: Fewer training rows with a statement than this: too few to weigh it; no weight.
MIN_STATEMENTS = 10


def top_by_size(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices and values of the k largest contributions by size (−1 where none
    is left, i.e. the value is zero); ties in the order of the columns."""
    k = min(k, values.shape[1])
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(values, order, axis=1)
    return np.where(chosen != 0, order, -1).astype(np.int64), np.where(chosen != 0, chosen, 0.0)


#: Below this many rows a LightGBM fit runs on one thread and the fits run side by side: on
#: small data each boosting round is too short for OpenMP's barriers, which then dominate —
#: and spin-wait for minutes when another process holds a core (measured in RESULTS.md).
SMALL_ROWS = 50_000


def threads() -> int:
    """Threads for LightGBM and scikit-learn: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def prepare(frame: pd.DataFrame, categories: dict[str, list[Any]] | None = None) -> pd.DataFrame:
    """Numeric columns as float, everything else as pandas categories (fixed to ``categories``)."""
    out: dict[str, Any] = {}
    for column in frame.columns:
        values = frame[column]
        if categories is not None:
            # Scoring: the training run decided each column's kind.
            if column in categories:
                text = values.astype("string").astype(object)
                known = text.where(text.isin(categories[column]))  # unseen → missing
                out[column] = pd.Categorical(known, categories=categories[column])
            else:
                out[column] = pd.to_numeric(values, errors="coerce").astype(float)
        elif pd.api.types.is_numeric_dtype(values) and not isinstance(
            values.dtype, pd.CategoricalDtype
        ):
            out[column] = values.astype(float)
        else:
            numeric = pd.to_numeric(values, errors="coerce")
            if values.notna().any() and numeric.notna().sum() >= 0.98 * values.notna().sum():
                out[column] = numeric.astype(float)
            else:
                out[column] = values.astype("string").astype(object).astype("category")
    return pd.DataFrame(out, index=frame.index)


class _ChurnFamily:
    """What both churn families share: rows as they read them (the training columns, numbers
    as float64, categories as their training codes, so scoring and reasons read one format
    whichever family serves), calibration of the raw score, and the 0/1 decision."""

    columns_: list[str]
    categories_: dict[str, list[Any]]
    classes_: np.ndarray
    calibrator_: Any  # learned by each family's fit

    def _check(self) -> None:  # pragma: no cover - each family says what it needs
        raise NotImplementedError

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - each family
        raise NotImplementedError

    def _learn_columns(self, X: pd.DataFrame) -> pd.DataFrame:
        """At fit: the training rows as ``prepare`` reads them; each column's kind learned."""
        data = prepare(X)
        self.classes_ = np.array([0, 1])
        self.columns_ = list(data.columns)
        self.categories_ = {
            c: list(data[c].cat.categories)
            for c in data.columns
            if isinstance(data[c].dtype, pd.CategoricalDtype)
        }
        return data

    def _learn_calibration(
        self, out_of_fold_log_odds: np.ndarray, y: np.ndarray, X: pd.DataFrame
    ) -> None:
        """At fit, from the out-of-fold raw scores of the training rows ``X``: the weight of a
        statement of leaving (``_learn_statement``), then, on the raw scores with it, the
        ranking score (Platt scaling) and the probability shown (centred isotonic, its tails
        on Platt's slope)."""
        log_odds = np.asarray(out_of_fold_log_odds, dtype=float)
        said = (
            (pd.to_numeric(X[STATEMENT], errors="coerce").fillna(0.0) > 0).to_numpy(dtype=float)
            if STATEMENT in X.columns
            else np.zeros(len(log_odds))
        )
        self._learn_statement(log_odds, y, said)
        log_odds = log_odds + self.statement_weight_ * said
        self._learn_ranking(log_odds, y)
        self.calibrator_ = CentredIsotonic.fit(log_odds, y, tail_slope=self.ranking_[0])

    def _learn_statement(self, log_odds: np.ndarray, y: np.ndarray, said: np.ndarray) -> None:
        """``statement_weight_``: what a statement of leaving adds to the raw log-odds, from a
        logistic regression of churn on the out-of-fold raw score and the statement (its
        coefficient over the score's). Zero with fewer than ``MIN_STATEMENTS`` statements, or
        when either coefficient is not positive: the family's own score then stands alone."""
        from sklearn.linear_model import LogisticRegression

        self.statement_weight_ = 0.0
        if said.sum() < MIN_STATEMENTS or said.sum() == len(said) or len(np.unique(y)) < 2:
            return
        fitted = LogisticRegression(C=1e6, max_iter=1000).fit(np.column_stack([log_odds, said]), y)
        score, statement = (float(c) for c in fitted.coef_[0])
        if score > 0 and statement > 0:
            self.statement_weight_ = statement / score

    def _statement(self, matrix: np.ndarray) -> np.ndarray | None:
        """Per row, what its statement of leaving adds to the raw log-odds (``statement_weight_``
        or 0); None when nothing is added to any row (models fitted before the weight existed
        add nothing)."""
        weight = getattr(self, "statement_weight_", 0.0)
        if not weight or STATEMENT not in self.columns_ or not len(matrix):
            return None
        said = np.nan_to_num(matrix[:, self.columns_.index(STATEMENT)]) > 0
        return np.where(said, weight, 0.0) if said.any() else None

    def _learn_ranking(self, out_of_fold_log_odds: np.ndarray, y: np.ndarray) -> None:
        """Platt scaling of the raw score on the out-of-fold scores the calibration reads — a
        logistic curve, strictly increasing, for the ranking score."""
        from sklearn.linear_model import LogisticRegression

        fitted = LogisticRegression(C=1e6, max_iter=1000).fit(
            np.asarray(out_of_fold_log_odds, dtype=float)[:, None], y
        )
        slope, intercept = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
        # A slope that is not positive would reverse or flatten the order: keep the raw score.
        self.ranking_ = (slope, intercept) if slope > 0 else (1.0, 0.0)

    def _ranking(self, raw_log_odds: np.ndarray) -> np.ndarray:
        """The ranking score: the model's full score on the probability scale (Platt scaling
        of the raw log-odds). Strictly increasing in the raw score, so it orders customers
        exactly as the model does; close to the calibrated probability in level. Models
        fitted before it existed: the trees' raw probability."""
        slope, intercept = getattr(self, "ranking_", (1.0, 0.0))
        return _sigmoid(slope * np.asarray(raw_log_odds, dtype=float) + intercept)

    def _calibrated(self, raw_log_odds: np.ndarray) -> np.ndarray:
        """The probability shown: strictly increasing in the raw score (``CentredIsotonic``).
        Models pickled before it (an ``IsotonicRegression`` on the raw probability, a step
        function) score as they did: the step, ties broken by the raw score (a shift of at
        most 1e-6)."""
        if isinstance(self.calibrator_, CentredIsotonic):
            return self.calibrator_.predict(raw_log_odds)
        raw = _sigmoid(raw_log_odds)
        return np.clip(self.calibrator_.predict(raw) + 1e-6 * (raw - 0.5), 0.0, 1.0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the churn probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def _require_columns(self, X: pd.DataFrame) -> None:
        """Fitted, and ``X`` has every column the model was trained with."""
        self._check()
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ModelMismatchError(
                f"the model needs column(s) it was trained with: {', '.join(missing)}",
                field=missing[0],
            )

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The rows as LightGBM reads them: float64, categories as their training codes, NaN
        missing (an unseen category is missing). Equal to LightGBM's own reading of
        ``prepare``'s frame, without building it: one array copy for the numbers."""
        self._require_columns(X)
        return self._read(X)

    def _read(self, X: pd.DataFrame) -> np.ndarray:
        codes = self.__dict__.get("_codes")
        if codes is None:
            codes = self._codes = {
                c: {str(v): float(i) for i, v in enumerate(values)}
                for c, values in self.categories_.items()
            }
        out = np.empty((len(X), len(self.columns_)))
        numeric = [j for j, c in enumerate(self.columns_) if c not in codes]
        dtypes = X.dtypes
        floats = [j for j in numeric if dtypes[self.columns_[j]] == np.float64]
        if floats:  # one copy for the float block (most features)
            out[:, floats] = X[[self.columns_[j] for j in floats]].to_numpy(dtype=np.float64)
        for j in numeric:
            if dtypes[self.columns_[j]] != np.float64:
                out[:, j] = pd.to_numeric(X[self.columns_[j]], errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        for j, column in enumerate(self.columns_):
            if column in codes:
                known = codes[column]
                out[:, j] = [
                    known.get(str(v), np.nan) if v is not None and v == v else np.nan
                    for v in X[column].to_numpy(dtype=object)
                ]
        return out


class ChurnModel(_ChurnFamily, ClassifierMixin, Estimator):
    """Calibrated LightGBM churn probability; ``tune`` chooses from ``GRID`` by inner CV."""

    _caches = ("_compiled", "_codes")
    _fit_call = "fit(X, y)"

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        tune: bool = True,
        inner_folds: int = 3,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.params = params
        self.tune = tune
        self.inner_folds = inner_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _booster(self, params: dict[str, Any], n_jobs: int | None = None) -> Any:
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            verbose=-1,
            random_state=self.random_state,
            n_jobs=n_jobs or self.n_jobs or threads(),
            **params,
        )

    def _per_fit_threads(self, rows: int) -> tuple[int, int]:
        """(LightGBM threads per fit, fits side by side) for data of ``rows`` rows."""
        cores = self.n_jobs or threads()
        return (1, cores) if rows < SMALL_ROWS else (cores, 1)

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> ChurnModel:
        """Choose settings (inner CV), fit the trees on all rows, calibrate on out-of-fold scores."""
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        self._forget()
        y = np.asarray(y).astype(int)
        data = self._learn_columns(X)
        folds = list(
            StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state).split(
                data, y
            )
        )
        candidates = [self.params] if self.params else (list(GRID) if self.tune else [GRID[0]])
        per_fit, side_by_side = self._per_fit_threads(len(y))

        def one(params: dict[str, Any], train: np.ndarray, test: np.ndarray) -> np.ndarray:
            model = self._booster(params, per_fit).fit(data.iloc[train], y[train])
            return np.asarray(model.predict_proba(data.iloc[test])[:, 1])

        from joblib import Parallel, delayed

        # LightGBM releases the GIL while it trains: threads run the fits side by side.
        predicted = Parallel(n_jobs=side_by_side, prefer="threads")(
            delayed(one)(params, train, test) for params in candidates for train, test in folds
        )
        best: tuple[float, dict[str, Any], np.ndarray] | None = None
        for i, params in enumerate(candidates):
            out_of_fold = np.zeros(len(y))
            for (_, test), p in zip(
                folds, predicted[i * len(folds) : (i + 1) * len(folds)], strict=True
            ):
                out_of_fold[test] = p
            score = roc_auc_score(y, out_of_fold)
            if best is None or score > best[0]:
                best = (score, params, out_of_fold)
        assert best is not None
        self.inner_auc_, self.best_params_, out_of_fold = best
        self.booster_ = self._booster(
            self.best_params_, per_fit if len(y) < SMALL_ROWS else None
        ).fit(data, y)
        clipped = np.clip(out_of_fold, 1e-12, 1 - 1e-12)
        self._learn_calibration(np.log(clipped / (1.0 - clipped)), y, X)
        self.base_rate_ = float(y.mean())
        return self

    def _check(self) -> None:
        self._check_fitted("booster_")

    def _data(self, X: pd.DataFrame) -> pd.DataFrame:
        self._require_columns(X)
        return prepare(X[self.columns_], self.categories_)

    def compiled_(self) -> Any:
        """The trees as flat arrays for the numba kernel (built once, not pickled)."""
        self._check()
        cached = self.__dict__.get("_compiled")
        if cached is None:
            from cxml.churn.compiled import compile_trees

            cached = self._compiled = compile_trees(self.booster_.booster_.dump_model())
        return cached

    def walk(
        self,
        X: pd.DataFrame | np.ndarray,
        *,
        k: int = 3,
        full: bool = False,
    ) -> dict[str, np.ndarray]:
        """One pass over the trees: raw log-odds, calibrated probability, ranking score, top-k
        path attributions.

        ``X``: a frame, or rows already as ``matrix`` gives them. ``top_index`` /
        ``top_value``: per row the k features with the largest path attributions (−1 where
        fewer are non-zero); with ``full`` also every attribution (``contributions``);
        ``matrix``: the rows as the trees read them.
        """
        self._check()
        from cxml.churn.compiled import walk

        matrix = X if isinstance(X, np.ndarray) else self.matrix(X)
        out = walk(self.compiled_(), matrix, k=k, full=full)
        added = self._statement(matrix)
        if added is not None:  # a statement of leaving: its weight, credited to the statement
            out["raw"] = out["raw"] + added
            j = self.columns_.index(STATEMENT)
            if full:
                out["contributions"][:, j] += added
            rows = np.flatnonzero(added)
            if k and len(rows):  # the top k of those rows again, with the statement's credit
                credit = walk(self.compiled_(), matrix[rows], k=0, full=True)["contributions"]
                credit[:, j] += added[rows]
                out["top_index"][rows], out["top_value"][rows] = top_by_size(credit, k)
        out["probability"] = self._calibrated(out["raw"])
        out["ranking"] = self._ranking(out["raw"])
        out["matrix"] = matrix
        return out

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated probability: the trees' with a statement of leaving's weight."""
        return _sigmoid(self.walk(X, k=0)["raw"])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions per row and feature, in log-odds of the trees' raw score.

        Each row's contributions plus ``bias`` add up to the raw log-odds (before calibration).
        """
        values = self.exact_contributions(self.matrix(X))
        return pd.DataFrame(values, columns=[*self.columns_, "bias"], index=X.index)

    def exact_contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP for rows as ``matrix`` gives them: one column per feature, then bias;
        a statement of leaving's weight is the statement's."""
        self._check()
        values = np.asarray(self.booster_.booster_.predict(matrix, pred_contrib=True))
        added = self._statement(matrix)
        if added is not None:
            values[:, self.columns_.index(STATEMENT)] += added
        return values

    def path_contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fast per-feature contributions for bulk scoring (Saabas paths, log-odds of the raw score).

        Each row's contributions plus ``bias`` add up exactly to the trees' raw log-odds, like
        ``contributions`` (exact TreeSHAP), but cost one walk down each tree.
        """
        out = self.walk(X, k=0, full=True)
        frame = pd.DataFrame(out["contributions"], columns=self.columns_, index=X.index)
        frame["bias"] = self.compiled_().bias
        return frame

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): probability of staying and of churning, per row (scikit-learn's shape).

        The probability is strictly increasing in the trees' raw score: calibration never
        costs ranking.
        """
        return _two_columns(self.walk(X, k=0)["probability"])


class LinearChurnModel(_ChurnFamily, ClassifierMixin, Estimator):
    """Calibrated L2-regularised logistic regression on the rows ``matrix`` gives: numbers
    standardised (missing: the training mean), categories one-hot (missing or unseen: none).

    The strength ``C`` is chosen from ``Cs`` by inner cross-validation on the training rows;
    probabilities are calibrated like ``ChurnModel``'s (``CentredIsotonic`` on out-of-fold scores).
    Attributions are exact: a feature's contribution is its coefficient times its distance from
    the training average (a category's: its coefficient less the average of its column's), so
    contributions plus ``bias`` add up to the raw log-odds, as the trees' do.
    """

    _caches = ("_codes",)
    _fit_call = "fit(X, y)"
    #: What scores say their reasons were computed with (exact either way).
    attribution_names = {"exact": "exact (linear)", "path": "exact (linear)"}  # noqa: RUF012

    def __init__(
        self,
        Cs: tuple[float, ...] = (0.1, 1.0),
        inner_folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.random_state = random_state

    def _design(self, matrix: np.ndarray) -> np.ndarray:
        blocks = []
        for j, column in enumerate(self.columns_):
            values = matrix[:, j]
            if column in self.categories_:
                levels = len(self.categories_[column])
                block = np.zeros((len(values), levels))
                known = np.flatnonzero(~np.isnan(values))
                block[known, values[known].astype(np.int64)] = 1.0
                blocks.append(block)
            else:
                z = (values - self.means_[j]) / self.scales_[j]
                blocks.append(np.where(np.isfinite(z), z, 0.0)[:, None])
        return np.hstack(blocks) if blocks else np.zeros((len(matrix), 0))

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> LinearChurnModel:
        """Choose C (inner CV), fit on all rows, calibrate on out-of-fold scores."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        self._forget()
        y = np.asarray(y).astype(int)
        data = self._learn_columns(X)
        matrix = self._read(data)
        # Mean and spread of the known values per column; a column with none known (a store
        # with no such history) gets 0 and 1, without numpy's empty-slice warning.
        known = np.isfinite(matrix)
        counts = known.sum(axis=0)
        filled = np.where(known, matrix, 0.0)
        means = np.divide(
            filled.sum(axis=0), counts, out=np.zeros(matrix.shape[1]), where=counts > 0
        )
        spread = np.where(known, matrix - means, 0.0) ** 2
        scales = np.sqrt(
            np.divide(spread.sum(axis=0), counts, out=np.ones(matrix.shape[1]), where=counts > 0)
        )
        self.means_ = means
        self.scales_ = np.where(scales > 0, scales, 1.0)
        design = self._design(matrix)
        folds = list(
            StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state).split(
                design, y
            )
        )
        best: tuple[float, float, np.ndarray] | None = None
        for C in self.Cs:
            out_of_fold = np.zeros(len(y))
            for train, test in folds:
                fold = LogisticRegression(C=C, max_iter=5000).fit(design[train], y[train])
                out_of_fold[test] = fold.decision_function(design[test])
            score = roc_auc_score(y, out_of_fold)
            if best is None or score > best[0]:
                best = (score, C, out_of_fold)
        assert best is not None
        self.inner_auc_, C, out_of_fold = best
        self.best_params_ = {"family": "linear", "C": C}
        model = LogisticRegression(C=C, max_iter=5000).fit(design, y)
        coefficients = model.coef_[0]
        # per feature: its slice of the design's columns, and the average of each slice
        self.slices_: list[tuple[int, int]] = []
        start = 0
        for column in self.columns_:
            width = len(self.categories_[column]) if column in self.categories_ else 1
            self.slices_.append((start, start + width))
            start += width
        self.coef_ = coefficients
        # the average row: category shares; standardised numbers average exactly 0, so a
        # missing number (read as the mean) contributes exactly nothing
        self.centre_ = design.mean(axis=0)
        for column, (a, _) in zip(self.columns_, self.slices_, strict=True):
            if column not in self.categories_:
                self.centre_[a] = 0.0
        self.bias_ = float(model.intercept_[0] + coefficients @ self.centre_)
        self._learn_calibration(out_of_fold, y, X)
        self.base_rate_ = float(y.mean())
        return self

    def _check(self) -> None:
        self._check_fitted("coef_")

    def _attributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per row and feature, the exact contribution to the raw log-odds (a statement of
        leaving's weight is the statement's)."""
        self._check()
        weighted = (self._design(matrix) - self.centre_) * self.coef_
        credit = np.column_stack([weighted[:, a:b].sum(axis=1) for a, b in self.slices_])
        added = self._statement(matrix)
        if added is not None:
            credit[:, self.columns_.index(STATEMENT)] += added
        return credit

    def walk(
        self, X: pd.DataFrame | np.ndarray, *, k: int = 3, full: bool = False
    ) -> dict[str, np.ndarray]:
        """As ``ChurnModel.walk``: raw log-odds, calibrated probability, ranking score, top-k
        attributions by size (−1 where fewer are non-zero), every attribution with ``full``,
        the rows read."""
        self._check()
        matrix = X if isinstance(X, np.ndarray) else self.matrix(X)
        credit = self._attributions(matrix)
        raw = credit.sum(axis=1) + self.bias_
        out: dict[str, np.ndarray] = {"raw": raw, "matrix": matrix}
        out["probability"] = self._calibrated(raw)
        out["ranking"] = self._ranking(raw)
        out["top_index"], out["top_value"] = top_by_size(credit, k)
        if full:
            out["contributions"] = credit
        return out

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated probability."""
        return _sigmoid(self.walk(X, k=0)["raw"])

    def exact_contributions(self, matrix: np.ndarray) -> np.ndarray:
        """One column per feature, then the bias; each row adds up to the raw log-odds."""
        credit = self._attributions(matrix)
        return np.column_stack([credit, np.full(len(credit), self.bias_)])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact contributions per row and feature (log-odds), with ``bias``."""
        values = self.exact_contributions(self.matrix(X))
        return pd.DataFrame(values, columns=[*self.columns_, "bias"], index=X.index)

    def path_contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """The same exact contributions (a linear model has no cheaper approximation to make)."""
        return self.contributions(X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): probability of staying and of churning, per row."""
        return _two_columns(self.walk(X, k=0)["probability"])


class CentredIsotonic:
    """Isotonic calibration without its steps: each isotonic block becomes one point (the mean
    raw log-odds of its rows, the block's churn rate) and the curve runs straight between
    neighbouring points; beyond the first and last points it follows a logistic curve with
    Platt scaling's slope. Strictly increasing in the raw score, so no two customers with
    different scores are shown the same probability, and the top of the list (beyond the last
    block's centre) is not flat. Measured against the isotonic steps, Platt, beta calibration,
    a spline and Venn-Abers in benchmarks/RESULTS.md.
    """

    def __init__(self, centres: np.ndarray, values: np.ndarray, tail_slope: float) -> None:
        self.centres = centres
        self.values = values
        self.tail_slope = tail_slope

    @classmethod
    def fit(cls, log_odds: np.ndarray, y: np.ndarray, tail_slope: float) -> CentredIsotonic:
        """The blocks of an isotonic fit of ``y`` on ``log_odds``, as (centre, value) points.

        An end block with no churner (or only churners) gets half a churner's worth
        ((k + ½) / (n + 1)), kept on its side of its neighbour: nobody is shown 0 % or 100 %,
        and the tails have finite log-odds to rise from."""
        from sklearn.isotonic import IsotonicRegression

        x = np.asarray(log_odds, dtype=float)
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit(x, y).predict(x)
        # The fit is non-decreasing in x: rows with one value are one block, in x's order.
        values, block = np.unique(fitted, return_inverse=True)
        sizes = np.bincount(block)
        centres = np.bincount(block, weights=x) / sizes
        if values[0] == 0.0:
            values[0] = 0.5 / (sizes[0] + 1)
            if len(values) > 1:
                values[0] = min(values[0], values[1] / 2)
        if values[-1] == 1.0:
            values[-1] = 1.0 - 0.5 / (sizes[-1] + 1)
            if len(values) > 1:
                values[-1] = max(values[-1], (1.0 + values[-2]) / 2)
        return cls(centres, values, float(tail_slope))

    def predict(self, log_odds: np.ndarray) -> np.ndarray:
        """The calibrated probability of each raw log-odds."""
        from scipy.special import expit, logit

        x = np.asarray(log_odds, dtype=float)
        inside = np.interp(x, self.centres, self.values)
        below = expit(logit(self.values[0]) + self.tail_slope * (x - self.centres[0]))
        above = expit(logit(self.values[-1]) + self.tail_slope * (x - self.centres[-1]))
        return np.where(x < self.centres[0], below, np.where(x > self.centres[-1], above, inside))


#: Either family, as scoring and serving use it.
ServedModel = ChurnModel | LinearChurnModel


def _sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-log_odds))


def _two_columns(probability: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - probability, probability])


def churn_probability(model: Any, X: pd.DataFrame) -> np.ndarray:
    """The churn column of any of these models' ``predict_proba``."""
    return np.asarray(model.predict_proba(X))[:, 1]


class LogisticBaseline(ClassifierMixin, Estimator):
    """Logistic regression on one-hot categories and standardised numbers."""

    _fit_call = "fit(X, y)"

    def __init__(self, C: float = 1.0, max_iter: int = 5000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> LogisticBaseline:
        from sklearn.compose import make_column_transformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        self._forget()
        data = prepare(X)
        self.categories_ = {
            c: list(data[c].cat.categories)
            for c in data.columns
            if isinstance(data[c].dtype, pd.CategoricalDtype)
        }
        self.columns_ = list(data.columns)
        categorical = list(self.categories_)
        numeric = [c for c in data.columns if c not in categorical]
        transformer = make_column_transformer(
            (
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
            # a feature nobody has a value for yet (no surveys in the store) stays, as zeros
            (make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler()), numeric),
        )
        self.model_ = make_pipeline(
            transformer, LogisticRegression(max_iter=self.max_iter, C=self.C)
        )
        self.model_.fit(self._objects(data), np.asarray(y).astype(int))
        self.classes_ = np.array([0, 1])
        return self

    def _objects(self, data: pd.DataFrame) -> pd.DataFrame:
        out = data.copy()
        for column in self.categories_:
            out[column] = out[column].astype(object).where(out[column].notna(), "missing")
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probability per row."""
        self._check_fitted("model_")
        return np.asarray(
            self.model_.predict_proba(self._objects(prepare(X[self.columns_], self.categories_)))
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the churn probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class RuleBaseline(ClassifierMixin, Estimator):
    """The naive rule: the single most predictive column, split once (a decision stump)."""

    _fit_call = "fit(X, y)"

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> RuleBaseline:
        from sklearn.tree import DecisionTreeClassifier

        self._forget()
        self.logistic_ = LogisticBaseline().fit(X, y)  # reuse its encoding
        encoded = self.logistic_.model_[0].transform(
            self.logistic_._objects(prepare(X[self.logistic_.columns_], self.logistic_.categories_))
        )
        self.stump_ = DecisionTreeClassifier(max_depth=1, random_state=self.random_state).fit(
            encoded, np.asarray(y).astype(int)
        )
        self.classes_ = np.array([0, 1])
        names = self.logistic_.model_[0].get_feature_names_out()
        self.rule_ = (
            str(names[self.stump_.tree_.feature[0]])
            if self.stump_.tree_.feature[0] >= 0
            else "(none)"
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probability per row (the share of churners on the row's side of the split)."""
        self._check_fitted("stump_")
        encoded = self.logistic_.model_[0].transform(
            self.logistic_._objects(prepare(X[self.logistic_.columns_], self.logistic_.categories_))
        )
        return np.asarray(self.stump_.predict_proba(encoded))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 on the churn-heavy side of the split."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
