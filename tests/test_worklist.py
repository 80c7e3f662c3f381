"""The worklist's notes — how it is ranked, why not by uplift, what follow-ups did — in the
language asked, English unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from cxml.followups import follow_up_impact, impact_sentence
from cxml.store import Store
from cxml.uplift import UpliftRanking, status
from cxml.worklist import worklist
from tests.conftest import english_words

TODAY = datetime(2026, 12, 1, 9, 0)
FEW = {
    "contacted": 12, "comparable": 300, "unmatched_contacted": 0, "effect_pts": 4.0,
    "ci_low_pts": -9.0, "ci_high_pts": 17.0, "contacted_retention": 0.8,
    "comparable_retention": 0.76, "relative_churn_reduction": 0.17, "verdict": "too little data",
}  # fmt: skip
HELPS = {**FEW, "contacted": 120, "ci_low_pts": 1.0, "verdict": "helps"}


def _impact(overall: dict[str, Any], bands: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "overall": {**overall, "message": impact_sentence(overall)},
        "by": {"band": bands},
    }


@pytest.mark.parametrize(
    ("impact", "english"),
    [
        (
            None,  # the store's own: no follow-ups recorded
            "ranked by revenue at risk: no follow-ups recorded yet, so what a contact saves is "
            "not known; it is measured once follow-ups have passed the churn horizon",
        ),
        (
            _impact(FEW, []),
            "ranked by revenue at risk: the effect of past follow-ups is not yet measured with "
            "confidence (too little data)",
        ),
        (
            _impact(HELPS, [{**HELPS, "group": "high"}]),
            "ranked by expected revenue saved: revenue at risk × the share of churn your "
            "follow-ups were measured to prevent in each band",
        ),
    ],
)
def test_the_notes_are_in_japanese_when_asked_and_unchanged_in_english(
    store: Store, impact: dict[str, Any] | None, english: str
) -> None:
    impact = impact or follow_up_impact(store, today=TODAY)
    message = impact["overall"]["message"]
    uplift = UpliftRanking(None, None, status({"contact": 0, "control": 0}, 200, None, None), {})
    listed = {
        language: worklist(
            store, today=TODAY, capacity=5, impact=impact, uplift=uplift, language=language
        )
        for language in ("en", "ja")
    }
    en, ja = listed["en"], listed["ja"]
    assert en["ranking_note"] == english
    assert en["effect"]["message"] == message and en["uplift"]["reason"] == uplift.status["reason"]
    for note in (ja["ranking_note"], ja["effect"]["message"], ja["uplift"]["reason"]):
        assert not english_words(note), note
    assert ja["effect"] == {**en["effect"], "message": impact_sentence(impact["overall"], "ja")}
    assert impact["overall"]["message"] == message  # the shared impact is left as it was
    assert uplift.status["reason"] == en["uplift"]["reason"]
