"""A customer's own statement that they are leaving (``intent_leave_90d``) counts in the score
and the reasons, in both families, even where it is too rare for the trees to cut on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxml.churn.model import MIN_STATEMENTS, STATEMENT, ChurnModel, LinearChurnModel, top_by_size


def world(n: int, seed: int, *, statements: float = 0.015, effect: float = 3.0) -> Any:
    """Customers whose churn rises with a monthly contract and short tenure; a few (share
    ``statements``) said they are leaving, which adds ``effect`` to the log-odds."""
    rng = np.random.default_rng(seed)
    monthly = rng.random(n) < 0.5
    tenure = rng.integers(1, 72, n).astype(float)
    said = rng.random(n) < statements
    logit = -3.0 + 1.2 * monthly - 0.02 * tenure + effect * said
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "monthly": monthly.astype(float),
            "tenure_days": tenure * 30,
            STATEMENT: said.astype(float),
        }
    )
    return X, y


def fit(family: type, X: pd.DataFrame, y: np.ndarray) -> Any:
    # min_child_samples 100, as the grid's second setting: the trees cannot cut off ~45 rows
    params = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 6, "min_child_samples": 100}
    return family(params=params) if family is ChurnModel else family()


@pytest.mark.parametrize("family", [ChurnModel, LinearChurnModel])
def test_a_statement_of_leaving_raises_the_score_and_leads_the_reasons(family: type) -> None:
    X, y = world(3000, 1)
    model = fit(family, X, y).fit(X, y)
    if family is ChurnModel:  # trees that cannot cut on it: the weight is the data's
        assert model.statement_weight_ > 1.0
    # (a linear model weighs the feature itself: what is left for the weight is small)
    # the same customer, with and without a statement
    customer = pd.DataFrame({"monthly": [0.0, 0.0], "tenure_days": [900.0, 900.0]})
    customer[STATEMENT] = [0.0, 1.0]
    walked = model.walk(customer, k=3, full=True)
    assert walked["ranking"][1] > walked["ranking"][0]
    assert walked["raw"][1] - walked["raw"][0] > 1.5  # the world's effect is 3
    assert walked["probability"][1] > 2 * walked["probability"][0]
    j = model.columns_.index(STATEMENT)
    assert walked["top_index"][1][0] == j  # the first reason is what they said
    assert walked["contributions"][0, j] <= 0  # not having said it never raises the risk
    # the reasons still add up to the score, by both ways of attributing it
    exact = model.exact_contributions(walked["matrix"])
    assert np.allclose(exact.sum(axis=1), walked["raw"])
    assert np.allclose(exact[:, j], walked["contributions"][:, j])
    top, chosen = top_by_size(walked["contributions"], 3)
    assert (top == walked["top_index"]).all() and np.allclose(chosen, walked["top_value"])


@pytest.mark.parametrize("family", [ChurnModel, LinearChurnModel])
def test_statements_that_do_not_mean_leaving_add_nothing(family: type) -> None:
    # here those who "said" it stay more often than the others: no weight, scores unchanged
    X, y = world(3000, 2, effect=-2.0)
    model = fit(family, X, y).fit(X, y)
    assert model.statement_weight_ == 0.0
    # too few statements to weigh (fewer than MIN_STATEMENTS rows)
    X, y = world(3000, 3)
    X[STATEMENT] = 0.0
    X.loc[: MIN_STATEMENTS - 2, STATEMENT] = 1.0
    y[: MIN_STATEMENTS - 1] = 1
    assert fit(family, X, y).fit(X, y).statement_weight_ == 0.0


def test_a_model_without_the_statement_column_scores_as_before() -> None:
    X, y = world(2000, 4)
    X = X.drop(columns=[STATEMENT])
    model = fit(ChurnModel, X, y).fit(X, y)
    assert model.statement_weight_ == 0.0 and model._statement(model.matrix(X)) is None
    from cxml.churn.compiled import walk

    assert np.array_equal(
        model.walk(X, k=0)["raw"], walk(model.compiled_(), model.matrix(X))["raw"]
    )
