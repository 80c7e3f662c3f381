"""The champion gate's yardstick for flat tables: the champion graded on the challenger's
held-out folds when the columns match, a refusal naming them when they do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.churn.model import ChurnModel
from cxml.churn.predictor import ChurnPredictor
from cxml.errors import ModelMismatchError
from cxml.jobs.promote import champion_on_folds


def test_a_flat_champion_is_graded_on_the_challengers_folds_or_refused_by_column() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = (X["a"] + rng.normal(size=600) > 0.5).astype(int).to_numpy()
    champion = ChurnPredictor(
        estimator=ChurnModel(tune=False).fit(X, y),
        mode="flat",
        columns=("a", "b"),
        base_rate=float(y.mean()),
        horizon_days=90,
    )
    grades = champion_on_folds(champion, X, y)
    assert 0.7 < grades["roc_auc"] <= 1.0 and set(grades) >= {"roc_auc", "pr_auc", "brier"}
    with pytest.raises(ModelMismatchError, match=r"missing here: b; new here: c"):
        champion_on_folds(champion, X.rename(columns={"b": "c"}), y)
