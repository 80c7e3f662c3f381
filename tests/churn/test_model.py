"""The churn estimator and its grading on small synthetic data with a known signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.churn.evaluate import calibration_table, grade
from cxml.churn.model import (
    GRID,
    ChurnModel,
    LinearChurnModel,
    LogisticBaseline,
    RuleBaseline,
    churn_probability,
)
from cxml.errors import ModelMismatchError, NotFittedError


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["monthly", "annual", "two-year"], n)
    tenure = rng.integers(1, 72, n)
    complaints = rng.poisson(1.0, n)
    logit = -2 + 1.5 * (contract == "monthly") - 0.03 * tenure + 0.6 * complaints * (tenure < 24)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {"contract": contract, "tenure": tenure.astype(str), "complaints": complaints}
    ), y


def test_the_model_ranks_and_calibrates_on_unseen_rows() -> None:
    X, y = synthetic(3000, 1)
    X_test, y_test = synthetic(2000, 2)
    model = ChurnModel().fit(X, y)
    p = churn_probability(model, X_test)
    assert ((p >= 0) & (p <= 1)).all()
    assert np.allclose(model.predict_proba(X_test).sum(axis=1), 1.0)
    graded = grade(y_test, p)
    assert graded["roc_auc"] > 0.75
    assert graded["lift_top10"] > 1.5
    table = calibration_table(y_test, p)
    assert max(abs(row["predicted"] - row["observed"]) for row in table) < 0.12
    assert model.best_params_ in [dict(g) for g in GRID]


def test_the_model_beats_the_naive_rule() -> None:
    X, y = synthetic(3000, 3)
    X_test, y_test = synthetic(2000, 4)
    model_auc = grade(y_test, churn_probability(ChurnModel(tune=False).fit(X, y), X_test))[
        "roc_auc"
    ]
    rule_auc = grade(y_test, churn_probability(RuleBaseline().fit(X, y), X_test))["roc_auc"]
    logistic_auc = grade(y_test, churn_probability(LogisticBaseline().fit(X, y), X_test))["roc_auc"]
    assert model_auc > rule_auc
    assert logistic_auc > rule_auc


def test_grading_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    graded = grade(y, p)
    assert graded["precision_top10"] == 1.0 and graded["lift_top10"] == pytest.approx(5.0)
    assert graded["recall_top20"] == pytest.approx(0.5)


def test_unfitted_model_says_so_and_scoring_needs_the_training_columns() -> None:
    with pytest.raises(NotFittedError, match=r"ChurnModel is not fitted yet: call fit\(X, y\)"):
        ChurnModel().predict_proba(pd.DataFrame({"a": [1]}))
    X, y = synthetic(400, 5)
    model = ChurnModel(tune=False).fit(X, y)
    with pytest.raises(ModelMismatchError, match="complaints"):
        model.predict_proba(X.drop(columns=["complaints"]))


def test_bulk_path_attributions_add_up_like_exact_treeshap() -> None:
    X, y = synthetic(1500, 6)
    model = ChurnModel(tune=False).fit(X, y)
    raw = model.booster_.booster_.predict(model._data(X), raw_score=True)
    fast = model.path_contributions(X)
    exact = model.contributions(X)
    assert np.abs(fast.sum(axis=1).to_numpy() - raw).max() < 1e-9
    assert np.abs(exact.sum(axis=1).to_numpy() - raw).max() < 1e-9
    top_fast = fast.drop(columns="bias").abs().to_numpy().argmax(axis=1)
    top_exact = exact.drop(columns="bias").abs().to_numpy().argmax(axis=1)
    assert (top_fast == top_exact).mean() > 0.6


def test_compiled_trees_walk_to_lightgbms_leaves_with_missing_and_unseen_values() -> None:
    from cxml.churn.compiled import walk

    X, y = synthetic(3000, 7)
    X = X.assign(spend=np.random.default_rng(7).normal(50, 20, len(X)))
    model = ChurnModel(params={**GRID[2], "n_estimators": 60}).fit(X, y)
    probe = X.head(600).copy()
    rng = np.random.default_rng(8)
    for column in probe.columns:
        probe.loc[rng.random(len(probe)) < 0.15, column] = None
    probe.loc[rng.random(len(probe)) < 0.1, "contract"] = "never-seen"
    probe.loc[rng.random(len(probe)) < 0.1, "spend"] = 0.0
    booster = model.booster_.booster_
    data = model._data(probe)
    out = walk(model.compiled_(), model.matrix(probe), k=3, full=True, leaves=True)
    assert np.array_equal(out["raw"], booster.predict(data, raw_score=True))
    expected_leaves = booster.predict(data, pred_leaf=True)
    outputs = np.array(
        [
            [booster.get_leaf_output(t, int(leaf)) for t, leaf in enumerate(row)]
            for row in expected_leaves
        ]
    )
    assert np.array_equal(model.compiled_().leaf_value[out["leaves"]], outputs)
    # the top-k are the largest path attributions by size, in order
    sizes = np.abs(out["contributions"])
    assert np.array_equal(out["top_index"][:, 0], sizes.argmax(axis=1))
    picked = np.take_along_axis(out["contributions"], out["top_index"], axis=1)
    assert np.array_equal(picked, out["top_value"])
    assert (np.abs(out["top_value"][:, 0]) >= np.abs(out["top_value"][:, 1])).all()


def test_probability_is_the_same_for_one_row_and_in_bulk() -> None:
    X, y = synthetic(2000, 9)
    model = ChurnModel(tune=False).fit(X, y)
    bulk = churn_probability(model, X)
    alone = np.array([churn_probability(model, X.iloc[[i]])[0] for i in range(0, 2000, 97)])
    assert np.array_equal(bulk[::97], alone)


def test_the_linear_candidate_ranks_calibrates_and_explains_exactly() -> None:
    """The regularised logistic candidate reads the same rows as the trees, is calibrated, and
    its attributions add up to its log-odds; an unseen category or a missing number is read as
    the training average and contributes nothing of its own."""
    import pickle

    X, y = synthetic(3000, 7)
    X_test, y_test = synthetic(2000, 8)
    model = LinearChurnModel().fit(X, y)
    p = churn_probability(model, X_test)
    graded = grade(y_test, p)
    reference = grade(y_test, churn_probability(LogisticBaseline().fit(X, y), X_test))
    assert graded["roc_auc"] >= reference["roc_auc"] - 0.01 and graded["roc_auc"] > 0.7
    table = calibration_table(y_test, p)
    assert max(abs(row["predicted"] - row["observed"]) for row in table) < 0.12
    assert model.best_params_["family"] == "linear" and model.best_params_["C"] in model.Cs

    walked = model.walk(X_test, k=2, full=True)
    exact = model.contributions(X_test)
    assert np.abs(exact.sum(axis=1).to_numpy() - walked["raw"]).max() < 1e-9
    assert np.array_equal(model.path_contributions(X_test).to_numpy(), exact.to_numpy())
    top = np.abs(walked["contributions"]).argmax(axis=1)
    assert (walked["top_index"][:, 0] == top).all()
    odd = X_test.head(2).assign(contract=["never-seen", "monthly"], complaints=[np.nan, 1])
    credit = model.contributions(odd)
    assert credit.loc[0, "complaints"] == 0.0
    assert credit.loc[0, "contract"] == pytest.approx(
        -float(model.coef_[slice(*model.slices_[0])] @ model.centre_[slice(*model.slices_[0])])
    )
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(churn_probability(again, X_test), p)
    with pytest.raises(ModelMismatchError, match="complaints"):
        model.predict_proba(X_test.drop(columns=["complaints"]))


def test_a_linear_champion_scores_with_reasons_like_the_trees() -> None:
    """Scoring reads either family the same way: probability, band, revenue, the top reasons by
    size with the customer's own values, and says how they were computed."""
    from datetime import datetime

    from cxml.churn.predictor import ChurnPredictor
    from cxml.scoring import score

    X, y = synthetic(2000, 9)
    model = LinearChurnModel().fit(X, y)
    predictor = ChurnPredictor(
        estimator=model, mode="flat", columns=tuple(X.columns), base_rate=float(y.mean()),
        horizon_days=90,
    )  # fmt: skip
    features = X.head(50).set_index(pd.Index([f"C{i}" for i in range(50)], name="customer_id"))
    for attribution in ("exact", "path"):
        scored = score(
            predictor, features, as_of=pd.Timestamp("2026-01-01"), scored_at=datetime(2026, 1, 2),
            model_version="7", attribution=attribution,
        )  # fmt: skip
        assert np.allclose(scored["probability"], churn_probability(model, features), atol=1e-6)
        assert set(scored["attribution"]) == {"exact (linear)"}
        credit = model.contributions(features).drop(columns="bias")
        for i, reasons in enumerate(scored["reasons"]):
            assert reasons and reasons[0]["feature"] == credit.iloc[i].abs().idxmax()
            assert reasons[0]["contribution"] == pytest.approx(credit.iloc[i].max(), abs=1e-4) or (
                reasons[0]["contribution"] == pytest.approx(credit.iloc[i].min(), abs=1e-4)
            )
            by_name = {r["feature"]: r for r in reasons}
            if "contract" in by_name:
                assert by_name["contract"]["value"] == features.iloc[i]["contract"]
