"""The randomised holdout's arithmetic (issue #27): stratified assignment and the effect of
contact read from it, against planted truth."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.holdout import run
from cxml.experiments import CONTACT, CONTROL, assign, effect_of_contact


def test_each_band_holds_out_its_share_reproducibly_from_the_seed() -> None:
    bands = np.array(["high"] * 50 + ["medium"] * 120 + ["low"] * 30, dtype=object)
    arms = assign(bands, 0.1, seed=11)
    for band, n in (("high", 50), ("medium", 120), ("low", 30)):
        assert (arms[bands == band] == CONTROL).sum() == round(0.1 * n)
    assert (assign(bands, 0.1, seed=11) == arms).all()
    assert not (assign(bands, 0.1, seed=12) == arms).all()
    assert (assign(bands, 0.0, seed=11) == CONTACT).all()
    with pytest.raises(ValueError, match="holdout share"):
        assign(bands, 1.0, seed=1)


def test_the_effect_is_contact_minus_control_retention() -> None:
    arms = np.array([CONTACT] * 4 + [CONTROL] * 4, dtype=object)
    retained = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    effect = effect_of_contact(retained, arms, np.array(["high"] * 8, dtype=object), np.zeros(8))
    assert effect.retained_contact == 0.75 and effect.retained_control == 0.25
    assert effect.effect == pytest.approx(0.5) and effect.low < 0.5 < effect.high
    assert effect.contact == 4 and effect.control == 4 and effect.mde > 0.5


def test_over_seeds_the_interval_covers_the_planted_effect_and_adjustment_narrows_it() -> None:
    result = run(seeds=40, customers=2000, share=0.1)
    assert 0.85 <= result["covered"] <= 1.0
    assert 0.85 <= result["adjusted_covered"] <= 1.0
    assert result["adjusted_width"] < result["width"]
    assert abs(result["bias"]) < 0.02
