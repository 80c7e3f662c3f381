"""The compiled trees against LightGBM itself, on the shapes a small store gives."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from cxml.churn.compiled import compile_trees, walk


def test_a_model_whose_trees_found_no_split_scores_as_lightgbm_does() -> None:
    # Too few rows to split: LightGBM dumps each tree as a bare leaf (no leaf_index either).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = np.array([0, 1] * 6)
    booster = lgb.LGBMClassifier(n_estimators=3, min_child_samples=20, verbose=-1).fit(X, y)
    dump = booster.booster_.dump_model()
    assert all("split_index" not in t["tree_structure"] for t in dump["tree_info"])
    compiled = compile_trees(dump)
    raw = walk(compiled, X, k=0)["raw"]
    expected = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(raw, expected, rtol=1e-9, atol=1e-12)
