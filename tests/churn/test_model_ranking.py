"""The at-risk list without tie blocks (issue #28 §3) and time to churn that varies (§4)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from scipy.stats import spearmanr

from cxml.churn.survival import ClassifierSurvival
from cxml.store.scores import at_risk
from tests.conftest import Trained


@pytest.mark.slow
def test_the_ranking_score_and_the_shown_probability_order_as_the_raw_score(
    trained: Trained,
) -> None:
    """Both are strictly increasing in the model's raw score (no isotonic plateaus), so they
    order as the model does."""
    estimator = trained.predictor.estimator
    raw = np.linspace(-4.0, 1.0, 500)
    assert (np.diff(estimator._ranking(raw)) > 0).all()
    assert (np.diff(np.round(estimator._calibrated(raw), 6)) > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize(("dialect", "top", "distinct"), [("sqlite", 100, 95)])
def test_a_scored_demo_list_has_no_tie_block_at_the_top(
    trained: Trained, dialect: str, top: int, distinct: int
) -> None:
    store = trained.stores[dialect]
    run = trained.score(dialect, top=top)
    assert run.scored >= top  # enough customers for the goal to apply
    listed = at_risk(store, today=datetime(2025, 7, 1), limit=top)
    assert len({r["sort_key"] for r in listed}) >= distinct
    # the run's own top (printed by `cxml score` and the demo) is the list's order
    assert [r["customer_id"] for r in run.top] == [r["customer_id"] for r in listed]
    # the list orders by the ranking score and never against the probability it shows
    keys = [r["sort_key"] for r in listed]
    shown = [r["probability"] for r in listed]
    assert keys == sorted(keys, reverse=True) and shown == sorted(shown, reverse=True)
    # time to churn differs between the customers at the top, as their risks do: the
    # expected days follow the survival curve's own risk (no block of "~216 days")
    days = [r["expected_days"] for r in listed]
    assert len(set(days[:10])) >= 8
    if isinstance(trained.predictor.survival, ClassifierSurvival):
        # the curve that agrees with the risk shown: days follow the list's order exactly
        # (equal only where 0.1 of a day cannot tell two close scores apart)
        assert days == sorted(days)
        # and "still here in 90 days" is 1 − the risk shown beside it
        gaps = [abs(1 - r["survival_90"] - r["probability"]) for r in listed]
        assert max(gaps) < 1e-5, max(gaps)
    else:  # Cox: its own risk, which differs between customers as the scores do
        assert len(set(days)) >= distinct - 5
    staying = [r["survival_90"] for r in listed]
    assert spearmanr(staying, days).statistic > 0.95
