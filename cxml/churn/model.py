"""The churn model: calibrated gradient-boosted trees (LightGBM), and the baselines it must beat.

``ChurnModel`` picks its tree settings from a small grid by inner cross-validation on the
training data only (never on the rows it is evaluated on), then calibrates probabilities
with isotonic regression on out-of-fold predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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


class NotFittedError(RuntimeError):
    """Raised when a model is used before ``fit``."""


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


class ChurnModel:
    """Calibrated LightGBM churn probability; ``tune`` chooses from ``GRID`` by inner CV."""

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        tune: bool = True,
        inner_folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.params = params
        self.tune = tune
        self.inner_folds = inner_folds
        self.random_state = random_state

    def _booster(self, params: dict[str, Any]) -> Any:
        import lightgbm as lgb

        return lgb.LGBMClassifier(verbose=-1, random_state=self.random_state, n_jobs=2, **params)

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> ChurnModel:
        """Choose settings (inner CV), fit the trees on all rows, calibrate on out-of-fold scores."""
        from sklearn.isotonic import IsotonicRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y).astype(int)
        data = prepare(X)
        self.columns_ = list(data.columns)
        self.categories_ = {
            c: list(data[c].cat.categories)
            for c in data.columns
            if isinstance(data[c].dtype, pd.CategoricalDtype)
        }
        folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        candidates = [self.params] if self.params else (list(GRID) if self.tune else [GRID[0]])
        best: tuple[float, dict[str, Any], np.ndarray] | None = None
        for params in candidates:
            out_of_fold = np.zeros(len(y))
            for train, test in folds.split(data, y):
                model = self._booster(params).fit(data.iloc[train], y[train])
                out_of_fold[test] = model.predict_proba(data.iloc[test])[:, 1]
            score = roc_auc_score(y, out_of_fold)
            if best is None or score > best[0]:
                best = (score, params, out_of_fold)
        assert best is not None
        self.inner_auc_, self.best_params_, out_of_fold = best
        self.booster_ = self._booster(self.best_params_).fit(data, y)
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            out_of_fold, y
        )
        self.base_rate_ = float(y.mean())
        return self

    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("this ChurnModel is not fitted yet: call fit() first")

    def _data(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            from cxml.errors import ConfigError

            raise ConfigError(
                f"the model needs column(s) it was trained with: {', '.join(missing)}"
            )
        return prepare(X[self.columns_], self.categories_)

    def matrix(self, X: pd.DataFrame, prepared: pd.DataFrame | None = None) -> np.ndarray:
        """The rows as LightGBM reads them: float64, categories as their training codes, NaN missing.

        ``prepared``: the same rows already through ``_data`` (saves preparing them twice)."""
        data = self._data(X) if prepared is None else prepared
        columns = []
        for column in self.columns_:
            values = data[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                codes = values.cat.codes.to_numpy().astype(np.float64)
                codes[codes < 0] = np.nan
                columns.append(codes)
            else:
                columns.append(values.to_numpy(dtype=np.float64, na_value=np.nan))
        return np.column_stack(columns) if columns else np.zeros((len(X), 0))

    def compiled_(self) -> Any:
        """The trees as flat arrays for the numba kernel (built once, not pickled)."""
        cached = self.__dict__.get("_compiled")
        if cached is None:
            from cxml.churn.compiled import compile_trees

            cached = self._compiled = compile_trees(self.booster_.booster_.dump_model())
        return cached

    def walk(
        self,
        X: pd.DataFrame,
        *,
        k: int = 3,
        full: bool = False,
        prepared: pd.DataFrame | None = None,
    ) -> dict[str, np.ndarray]:
        """One pass over the trees: raw log-odds, calibrated probability, top-k path attributions.

        ``top_index`` / ``top_value``: per row the k features with the largest path attributions
        (−1 where fewer are non-zero); with ``full`` also every attribution (``contributions``);
        ``matrix``: the rows as the trees read them (see ``matrix``).
        """
        self._check()
        from cxml.churn.compiled import walk

        matrix = self.matrix(X, prepared)
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
        self._check()
        data = self._data(X)
        values = self.booster_.booster_.predict(data, pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.columns_, "bias"], index=X.index)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_compiled", None)
        return state

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
        """Calibrated churn probability per row, in [0, 1].

        Isotonic calibration is a step function; within a step, ties are broken by the
        trees' raw score (a shift of at most 1e-6), so calibration never costs ranking.
        """
        return self.walk(X, k=0)["probability"]


def _sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-log_odds))


class LogisticBaseline:
    """Logistic regression on one-hot categories and standardised numbers."""

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> LogisticBaseline:
        from sklearn.compose import make_column_transformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

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
        self.model_ = make_pipeline(transformer, LogisticRegression(max_iter=5000, C=1.0))
        self.model_.fit(self._objects(data), np.asarray(y).astype(int))
        return self

    def _objects(self, data: pd.DataFrame) -> pd.DataFrame:
        out = data.copy()
        for column in self.categories_:
            out[column] = out[column].astype(object).where(out[column].notna(), "missing")
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(
            self._objects(prepare(X[self.columns_], self.categories_))
        )[:, 1]


class RuleBaseline:
    """The naive rule: the single most predictive column, split once (a decision stump)."""

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> RuleBaseline:
        from sklearn.tree import DecisionTreeClassifier

        self.logistic_ = LogisticBaseline().fit(X, y)  # reuse its encoding
        encoded = self.logistic_.model_[0].transform(
            self.logistic_._objects(prepare(X[self.logistic_.columns_], self.logistic_.categories_))
        )
        self.stump_ = DecisionTreeClassifier(max_depth=1, random_state=0).fit(
            encoded, np.asarray(y).astype(int)
        )
        names = self.logistic_.model_[0].get_feature_names_out()
        self.rule_ = (
            str(names[self.stump_.tree_.feature[0]])
            if self.stump_.tree_.feature[0] >= 0
            else "(none)"
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        encoded = self.logistic_.model_[0].transform(
            self.logistic_._objects(prepare(X[self.logistic_.columns_], self.logistic_.categories_))
        )
        return self.stump_.predict_proba(encoded)[:, 1]
