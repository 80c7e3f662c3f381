"""The churn model: calibrated gradient-boosted trees (LightGBM), and the baselines it must beat.

``ChurnModel`` picks its tree settings from a small grid by inner cross-validation on the
training data only (never on the rows it is evaluated on), then calibrates probabilities
with isotonic regression on out-of-fold predictions. Every class here is a scikit-learn
estimator: ``__init__`` only stores parameters, ``fit`` starts from scratch, learned state
ends in ``_``, and using one before ``fit`` raises ``cxml.errors.NotFittedError``.
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


class ChurnModel(ClassifierMixin, Estimator):
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
        from sklearn.isotonic import IsotonicRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        self._forget()
        y = np.asarray(y).astype(int)
        data = prepare(X)
        self.classes_ = np.array([0, 1])
        self.columns_ = list(data.columns)
        self.categories_ = {
            c: list(data[c].cat.categories)
            for c in data.columns
            if isinstance(data[c].dtype, pd.CategoricalDtype)
        }
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
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            out_of_fold, y
        )
        self.base_rate_ = float(y.mean())
        return self

    def _check(self) -> None:
        self._check_fitted("booster_")

    def _require_columns(self, X: pd.DataFrame) -> None:
        """Fitted, and ``X`` has every column the model was trained with."""
        self._check()
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ModelMismatchError(
                f"the model needs column(s) it was trained with: {', '.join(missing)}",
                field=missing[0],
            )

    def _data(self, X: pd.DataFrame) -> pd.DataFrame:
        self._require_columns(X)
        return prepare(X[self.columns_], self.categories_)

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The rows as LightGBM reads them: float64, categories as their training codes, NaN
        missing (an unseen category is missing). Equal to LightGBM's own reading of
        ``prepare``'s frame, without building it: one array copy for the numbers."""
        self._require_columns(X)
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
        """One pass over the trees: raw log-odds, calibrated probability, top-k path attributions.

        ``X``: a frame, or rows already as ``matrix`` gives them. ``top_index`` /
        ``top_value``: per row the k features with the largest path attributions (−1 where
        fewer are non-zero); with ``full`` also every attribution (``contributions``);
        ``matrix``: the rows as the trees read them.
        """
        self._check()
        from cxml.churn.compiled import walk

        matrix = X if isinstance(X, np.ndarray) else self.matrix(X)
        out = walk(self.compiled_(), matrix, k=k, full=full)
        out["probability"] = self._calibrated(out["raw"])
        out["matrix"] = matrix
        return out

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The trees' uncalibrated probability."""
        self._check()
        from cxml.churn.compiled import walk

        return _sigmoid(walk(self.compiled_(), self.matrix(X), k=0)["raw"])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions per row and feature, in log-odds of the trees' raw score.

        Each row's contributions plus ``bias`` add up to the raw log-odds (before calibration).
        """
        values = self.exact_contributions(self.matrix(X))
        return pd.DataFrame(values, columns=[*self.columns_, "bias"], index=X.index)

    def exact_contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP for rows as ``matrix`` gives them: one column per feature, then bias."""
        self._check()
        return np.asarray(self.booster_.booster_.predict(matrix, pred_contrib=True))

    def path_contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fast per-feature contributions for bulk scoring (Saabas paths, log-odds of the raw score).

        Each row's contributions plus ``bias`` add up exactly to the trees' raw log-odds, like
        ``contributions`` (exact TreeSHAP), but cost one walk down each tree.
        """
        out = self.walk(X, k=0, full=True)
        frame = pd.DataFrame(out["contributions"], columns=self.columns_, index=X.index)
        frame["bias"] = self.compiled_().bias
        return frame

    def _calibrated(self, raw_log_odds: np.ndarray) -> np.ndarray:
        raw = _sigmoid(raw_log_odds)
        return np.clip(self.calibrator_.predict(raw) + 1e-6 * (raw - 0.5), 0.0, 1.0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): probability of staying and of churning, per row (scikit-learn's shape).

        Isotonic calibration is a step function; within a step, ties are broken by the
        trees' raw score (a shift of at most 1e-6), so calibration never costs ranking.
        """
        return _two_columns(self.walk(X, k=0)["probability"])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the churn probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


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
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
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
