"""The probability shown: calibrated, and strictly increasing in the model's raw score, so the
at-risk list shows no plateaus (issue #28 §3); models pickled with isotonic steps still score
as they did."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss

from cxml.churn.evaluate import expected_calibration_error
from cxml.churn.model import ChurnModel, LinearChurnModel, _sigmoid, churn_probability
from tests.churn.test_model import synthetic


def fitted(family: type, seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """The family fitted on a synthetic world, and the out-of-fold raw log-odds and labels its
    calibration read."""

    class Recording(family):  # type: ignore[misc, valid-type]
        def _learn_calibration(
            self, log_odds: np.ndarray, labels: np.ndarray, X: pd.DataFrame
        ) -> None:
            self.read = (np.asarray(log_odds), np.asarray(labels))
            super()._learn_calibration(log_odds, labels, X)

    X, y = synthetic(3000, seed)
    model = Recording(tune=False) if family is ChurnModel else Recording()
    model.fit(X, y)
    out_of_fold, labels = model.__dict__.pop("read")
    model.__class__ = family  # the family itself again (it pickles)
    return model, out_of_fold, labels


@pytest.mark.parametrize("family", [ChurnModel, LinearChurnModel])
def test_the_shown_probability_rises_with_every_raw_score(family: type) -> None:
    model, out_of_fold, _ = fitted(family, 11)
    # across the out-of-fold scores' range and beyond it both ways (the top of a list sits
    # beyond the last isotonic block)
    raw = np.linspace(out_of_fold.min() - 3.0, out_of_fold.max() + 3.0, 5000)
    shown = model._calibrated(raw)
    assert (np.diff(shown) > 0).all() and ((shown > 0) & (shown < 1)).all()
    X_test, _ = synthetic(4000, 12)
    walked = model.walk(X_test, k=0)
    order = np.argsort(walked["raw"], kind="stable")
    rising = np.diff(walked["raw"][order]) > 0
    shown = walked["probability"][order]
    assert (np.diff(shown)[rising] > 0).all()
    # as stored (6 decimals) too, wherever 6 decimals can tell two scores apart (from 1 %)
    stored = np.round(shown, 6)
    assert (np.diff(stored)[rising & (shown[1:] >= 0.01)] > 0).all()
    # the list's top 100 shows as many values as it holds distinct customers' scores
    top = np.argsort(-walked["ranking"], kind="stable")[:100]
    shown_top = np.unique(np.round(walked["probability"][top], 6))
    assert len(shown_top) == len(np.unique(walked["raw"][top])) > 30


@pytest.mark.parametrize("family", [ChurnModel, LinearChurnModel])
def test_the_shown_probability_calibrates_like_the_isotonic_steps_on_held_out_rows(
    family: type,
) -> None:
    """On held-out rows of the synthetic world: Brier within 0.0005 and ECE within 0.005 of
    the isotonic steps fitted on the same out-of-fold scores, and ECE under 0.03."""
    model, out_of_fold, labels = fitted(family, 21)
    X_test, y_test = synthetic(6000, 22)
    shown = churn_probability(model, X_test)
    raw = model.raw_score(X_test)
    steps = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    before = steps.fit(_sigmoid(out_of_fold), labels).predict(raw)
    assert brier_score_loss(y_test, shown) <= brier_score_loss(y_test, before) + 0.0005
    ece = expected_calibration_error(y_test, shown)
    assert ece <= expected_calibration_error(y_test, before) + 0.005 and ece < 0.03


@pytest.mark.parametrize("family", [ChurnModel, LinearChurnModel])
def test_a_model_pickled_with_isotonic_steps_scores_as_it_did(family: type) -> None:
    """Champions registered before: ``calibrator_`` an ``IsotonicRegression`` on the raw
    probability (no ``ranking_`` before the ranking score). They load and show their steps,
    ties broken by the raw score (a shift of at most 1e-6), exactly as then."""
    model, out_of_fold, labels = fitted(family, 31)
    steps = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.calibrator_ = steps.fit(_sigmoid(out_of_fold), labels)
    del model.ranking_
    old = pickle.loads(pickle.dumps(model))
    X_test, _ = synthetic(2000, 32)
    raw = old.raw_score(X_test)
    shown = churn_probability(old, X_test)
    assert np.array_equal(shown, np.clip(steps.predict(raw) + 1e-6 * (raw - 0.5), 0.0, 1.0))
    assert np.array_equal(old.walk(X_test, k=0)["ranking"], raw)
