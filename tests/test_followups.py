"""Follow-ups close the loop; every change is kept with who and when."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxml.demo import World
from cxml.demo_team import OWNERS, plant_follow_ups
from cxml.errors import ConfigError, NotFoundError
from cxml.followups import (
    ImpactBy,
    _stratified,
    follow_up_impact,
    impact_sentence,
    open_follow_up,
    update_follow_up,
)
from cxml.settings import Settings
from cxml.store import Store
from cxml.worklist import worklist
from tests.conftest import NOW, english_words, load_world


def test_changes_are_recorded_only_when_they_change_something(
    store: Store, settings: Settings, world: World, tmp_path: Path
) -> None:
    load_world(store, settings, world, tmp_path, analyse=False)
    opened = open_follow_up(store, "C000001", {"owner": "aiko"}, actor="k1", now=NOW)
    assert opened["status"] == "open" and len(opened["history"]) == 1
    later = NOW + timedelta(hours=1)
    changed = update_follow_up(
        store,
        "C000001",
        opened["follow_up_id"],
        {"status": "contacted", "owner": "aiko"},
        actor="k2",
        now=later,
    )
    assert changed["status"] == "contacted"
    assert changed["history"][-1]["changes"] == {"status": ["open", "contacted"]}
    assert changed["history"][-1]["changed_by"] == "k2"
    same = update_follow_up(
        store, "C000001", opened["follow_up_id"], {"status": "contacted"}, actor="k2", now=later
    )
    assert len(same["history"]) == 2  # nothing changed, nothing recorded


def test_bad_statuses_unknown_customers_and_foreign_follow_ups_are_refused(
    store: Store, settings: Settings, world: World, tmp_path: Path
) -> None:
    load_world(store, settings, world, tmp_path, analyse=False)
    with pytest.raises(NotFoundError):
        open_follow_up(store, "NOPE", {}, actor=None, now=NOW)
    with pytest.raises(ConfigError, match="status='maybe'"):
        open_follow_up(store, "C000001", {"status": "maybe"}, actor=None, now=NOW)
    opened = open_follow_up(store, "C000001", {}, actor=None, now=NOW)
    with pytest.raises(NotFoundError):
        update_follow_up(
            store, "C000002", opened["follow_up_id"], {"note": "x"}, actor=None, now=NOW
        )
    with pytest.raises(ConfigError, match="status cannot be empty"):
        update_follow_up(
            store, "C000001", opened["follow_up_id"], {"status": None}, actor=None, now=NOW
        )


def _units(rows: list[tuple[str, str, bool, int, int]]) -> pd.DataFrame:
    """(run, band, contacted, retained, count) → one unit per customer."""
    out = []
    for run, band, treated, retained, count in rows:
        out += [
            {"as_of": run, "band": band, "treated": treated, "retained": bool(retained)}
        ] * count
    return pd.DataFrame(out)


def test_the_effect_is_the_contacted_weighted_difference_within_run_and_band() -> None:
    units = _units(
        [
            ("r1", "high", True, 1, 40), ("r1", "high", True, 0, 10),  # 80 % of 50 stayed
            ("r1", "high", False, 1, 30), ("r1", "high", False, 0, 20),  # 60 % of 50
            ("r1", "medium", True, 1, 27), ("r1", "medium", True, 0, 3),  # 90 % of 30
            ("r1", "medium", False, 1, 70), ("r1", "medium", False, 0, 10),  # 87.5 % of 80
            ("r2", "high", True, 1, 5),  # no comparable customer in this stratum: left out
        ]
    )  # fmt: skip
    result = _stratified(units)
    weights = np.array([50, 30]) / 80
    effect = weights @ np.array([0.8 - 0.6, 0.9 - 0.875])
    variance = weights**2 @ np.array(
        [0.8 * 0.2 / 50 + 0.6 * 0.4 / 50, 0.9 * 0.1 / 30 + 0.875 * 0.125 / 80]
    )
    assert result["effect_pts"] == pytest.approx(100 * effect)
    assert result["ci_low_pts"] == pytest.approx(100 * (effect - 1.959964 * np.sqrt(variance)))
    assert result["contacted"] == 80 and result["comparable"] == 130
    assert result["unmatched_contacted"] == 5
    assert result["verdict"] == "helps"


@pytest.mark.parametrize(
    ("contacted", "verdict"), [(10, "too little data"), (200, "no measurable effect")]
)
def test_few_contacted_customers_say_so_instead_of_claiming_an_effect(
    contacted: int, verdict: str
) -> None:
    units = _units(
        [
            ("r1", "high", True, 1, contacted // 2), ("r1", "high", True, 0, contacted // 2),
            ("r1", "high", False, 1, 100), ("r1", "high", False, 0, 100),
        ]
    )  # fmt: skip
    result = _stratified(units)
    assert result["verdict"] == verdict
    assert impact_sentence(result).startswith(
        "too little data" if verdict == "too little data" else "no measurable effect"
    )


MEASURED = {
    "contacted": 120, "comparable": 300, "effect_pts": 6.5, "ci_low_pts": 1.2,
    "ci_high_pts": 11.8, "contacted_retention": 0.8, "comparable_retention": 0.735,
}  # fmt: skip


@pytest.mark.parametrize(
    ("result", "english", "japanese"),
    [
        (
            {**MEASURED, "verdict": "helps"},
            "follow-ups raised retention by 6.5 points (95 % interval +1.2 to +11.8 points): 80% "
            "of 120 contacted customers stayed against 74% of 300 comparable ones",
            "フォローアップで継続率が6.5ポイント上がりました（95 %区間 +1.2〜+11.8ポイント）：連絡"
            "した120人のうち80%が継続、比較対象300人では74%",
        ),
        (
            {**MEASURED, "effect_pts": -6.5, "ci_low_pts": -11.8, "ci_high_pts": -1.2,
             "verdict": "hurts"},
            "contacted customers stayed less often, by 6.5 points (95 % interval -11.8 to -1.2 "
            "points; 120 contacted, 300 comparable)",
            "連絡した顧客の方が継続率が6.5ポイント低くなりました（95 %区間 -11.8〜-1.2ポイント、"
            "連絡120人、比較300人）",
        ),
        (
            {**MEASURED, "ci_low_pts": -1.0, "verdict": "no measurable effect"},
            "no measurable effect: +6.5 points (95 % interval -1.0 to +11.8 points; 120 "
            "contacted, 300 comparable customers)",
            "はっきりした効果は見られません：+6.5ポイント（95 %区間 -1.0〜+11.8ポイント、連絡120人、"
            "比較300人）",
        ),
        (
            {**MEASURED, "contacted": 12, "verdict": "too little data"},
            "too little data to say: 12 contacted and 300 comparable customers with known "
            "outcomes; at least 30 of each are needed",
            "判断するにはデータが足りません：結果の分かっている連絡済み12人、比較対象300人。それぞれ"
            "30人以上必要です",
        ),
        (
            {**MEASURED, "contacted": 0, "comparable": 0, "effect_pts": None,
             "verdict": "none recorded yet"},
            "no follow-ups recorded yet: record one from a customer's page, and their effect is "
            "measured once the churn horizon has passed",
            "フォローアップはまだ記録されていません：顧客のページから記録してください。効果は解約の"
            "判定期間が過ぎてから測定されます",
        ),
    ],
)  # fmt: skip
def test_the_effect_is_said_in_english_or_in_japanese(
    result: dict[str, Any], english: str, japanese: str
) -> None:
    assert impact_sentence(result) == english == impact_sentence(result, "en")
    assert impact_sentence(result, "ja") == japanese
    assert not english_words(japanese)


def test_the_planted_effect_of_follow_ups_is_recovered_and_ranks_the_worklist(
    store: Store, settings: Settings, world: World, tmp_path: Path, trained: Any
) -> None:
    """The demo's retention team contacted a random half of each run's at-risk list and kept a
    planted share of the contacted who would have left: the estimate's interval holds the
    truth, and the worklist ranks by what a contact is expected to save."""
    load_world(store, settings, world, tmp_path / "w", pipeline=trained.text_pipeline)
    truth = plant_follow_ups(
        store,
        settings,
        trained.predictor,
        model_version=trained.version,
        today=NOW,
        folder=tmp_path,
        seed=3,
        days_ago=(270, 240, 210, 180, 150, 120),
    )
    assert truth["contacted"] >= 20 and truth["saved"] >= 1
    result = follow_up_impact(
        store,
        today=NOW,
        horizon_days=trained.predictor.horizon_days,
        by=[ImpactBy.OWNER, ImpactBy.BAND],
    )
    overall = result["overall"]
    # a (run, band) whose at-risk customers were all contacted has no comparison: counted apart
    assert overall["contacted"] + overall["unmatched_contacted"] == truth["contacted"]
    assert overall["ci_low_pts"] <= truth["effect_pts"] <= overall["ci_high_pts"], overall
    assert {row["group"] for row in result["by"]["owner"]} <= set(OWNERS)
    assert sum(row["contacted"] for row in result["by"]["owner"]) == overall["contacted"]

    from cxml.batch import score_store

    score_store(
        store, trained.predictor, model_version=trained.version, as_of=pd.Timestamp(NOW), scored_at=NOW,
        bucket_customers=64, top=0,
    )  # fmt: skip
    impact = {**result, "overall": {**overall, "verdict": "helps", "relative_churn_reduction": 0.5}}
    listed = worklist(store, today=NOW, capacity=10, impact=impact)
    assert listed["ranked_by"] == "expected_saved" and len(listed["items"]) <= 10
    saved = [item["expected_saved"] for item in listed["items"]]
    assert saved == sorted(saved, reverse=True)
    assert all(item["band"] in ("high", "medium") for item in listed["items"])
    assert listed["expected_saved"] == pytest.approx(sum(saved), abs=0.05)
    unmeasured = worklist(
        store,
        today=NOW,
        capacity=10,
        impact=result | {"overall": {"verdict": "too little data"}, "by": {}},
    )
    assert unmeasured["ranked_by"] == "revenue_at_risk" and unmeasured["expected_saved"] is None


def test_follow_ups_are_due_by_band_listed_when_overdue_and_escalated_once(
    store: Store, settings: Settings
) -> None:
    from cxml.followups import escalate_overdue, overdue_follow_ups
    from tests.test_pulls import NOW as PULL_NOW
    from tests.test_pulls import _scored

    scored = _scored(store, settings, n=40)
    high = scored.loc[scored["band"] == "high", "customer_id"].iloc[0]
    medium = scored.loc[scored["band"] == "medium", "customer_id"].iloc[0]
    first = open_follow_up(store, high, {"owner": "aiko"}, actor="k", now=PULL_NOW)
    second = open_follow_up(store, medium, {}, actor="k", now=PULL_NOW, due_days={"medium": 10})
    assert first["due_at"] == PULL_NOW + timedelta(days=2)
    assert second["due_at"] == PULL_NOW + timedelta(days=10)
    later = PULL_NOW + timedelta(days=4)
    late = overdue_follow_ups(store, later)
    assert [(r["customer_id"], r["days_overdue"]) for r in late] == [(high, 2)]
    assert escalate_overdue(store, now=later, after_days=3, owner="lead", actor="cron") == []
    much_later = PULL_NOW + timedelta(days=6)
    done = escalate_overdue(store, now=much_later, after_days=3, owner="lead", actor="cron")
    assert [(r["customer_id"], r["previous_owner"], r["owner"]) for r in done] == [
        (high, "aiko", "lead")
    ]
    story = update_follow_up(store, high, first["follow_up_id"], {}, actor="k", now=much_later)
    assert story["owner"] == "lead" and story["escalated_at"] == much_later
    assert story["history"][-1]["changes"] == {
        "owner": ["aiko", "lead"],
        "escalated": [None, "overdue"],
    }
    assert escalate_overdue(store, now=much_later, after_days=3, owner="lead", actor="cron") == []
    update_follow_up(
        store, high, first["follow_up_id"], {"status": "contacted"}, actor="k", now=much_later
    )
    assert overdue_follow_ups(store, much_later) == []
