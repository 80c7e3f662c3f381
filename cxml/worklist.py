"""The week's worklist: as many at-risk customers as the team can contact, ranked by the
revenue a contact is expected to save.

Expected revenue saved = revenue at risk (probability × monthly value × horizon) × the share of
churn a contact prevents in the customer's band, as measured on the team's own past follow-ups
(``cxml.followups.follow_up_impact``). Until that share is measured with confidence, it is taken
as 1 in every band — the list is then ranked by revenue at risk, and says so. Customers reached
in the last ``handled_days`` are left out; customers with an open follow-up stay in, with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cxml.churn.explain import Language
from cxml.followups import NONE_RECORDED, VERDICTS_JA, impact_sentence
from cxml.store import Store
from cxml.store.pulls import open_controls
from cxml.store.scores import Sort, at_risk
from cxml.uplift import PUSH_AWAY_JA, UpliftRanking, rank_by_uplift, status_reason

UPLIFT_POOL = 4  # an uplift ranking picks from this many times the capacity of at-risk customers


def saved_shares(impact: dict[str, Any] | None) -> dict[str, float]:
    """Per band, the share of churn contact prevented (relative churn reduction), for bands
    where the effect was measured with confidence ("helps"); else the overall share when the
    overall effect was; else nothing."""
    if not impact:
        return {}
    overall = impact.get("overall") or {}
    shares: dict[str, float] = {}
    for row in (impact.get("by") or {}).get("band", []):
        if row["verdict"] == "helps" and row["relative_churn_reduction"] is not None:
            shares[row["group"]] = max(0.0, min(1.0, float(row["relative_churn_reduction"])))
    if overall.get("verdict") == "helps" and overall.get("relative_churn_reduction") is not None:
        share = max(0.0, min(1.0, float(overall["relative_churn_reduction"])))
        for band in ("high", "medium", "low"):
            shares.setdefault(band, share)
    return shares


def worklist(
    store: Store,
    *,
    today: datetime,
    capacity: int,
    impact: dict[str, Any] | None = None,
    themes: list[str] | None = None,
    bands: list[str] | None = None,
    attributes: dict[str, str] | None = None,
    owner: str | None = None,
    handled_days: int = 30,
    uplift: UpliftRanking | None = None,
    language: Language = "en",
) -> dict[str, Any]:
    """The ``capacity`` customers to contact first (see the module), with totals and how the
    list was ranked. With an ``uplift`` model good enough to rank, a wider pool of at-risk
    customers is re-ranked by expected revenue saved = estimated uplift × value. The notes
    (``ranking_note``, ``uplift.reason``, ``effect.message``, a push-away ``note``) are in
    ``language``; the reasons are the caller's to put in a language (``in_language``)."""
    by_uplift = uplift is not None and uplift.ranks
    shares = {} if by_uplift else saved_shares(impact)
    controls = open_controls(store, today)  # held out by a running pull: not work
    pool = capacity if owner is None else max(capacity * 20, 1000)
    if by_uplift:  # the most movable need not be the riskiest: look further down the list
        pool = max(pool, capacity * UPLIFT_POOL, 200)
    items = at_risk(
        store,
        today=today,
        sort=Sort.EXPECTED_SAVED,
        limit=pool + len(controls),
        bands=bands or ("high", "medium"),
        attributes=attributes,
        themes=themes or (),
        handled_since=today - timedelta(days=handled_days),
        saved_share=shares or None,
    )
    items = [i for i in items if i["customer_id"] not in controls]
    if by_uplift:
        assert uplift is not None and uplift.model is not None
        items = rank_by_uplift(
            store,
            items,
            uplift.model,
            today=today,
            horizon_days=uplift.horizon_days,
            evidence=uplift.evidence,
        )
    items = items[: capacity if owner is None else None]
    if owner is not None:  # an owner's own list: their open follow-ups and nobody else's
        items = [
            i for i in items if i["follow_up"] is None or (i["follow_up"]["owner"] or "") == owner
        ][:capacity]
    for item in items:
        item.pop("sort_key", None)
        if not shares and not by_uplift:
            item["expected_saved"] = None
        item.setdefault("uplift", None)
        if language == "ja" and (item["uplift"] or {}).get("note"):
            item["uplift"] = {**item["uplift"], "note": PUSH_AWAY_JA}
    ranked = "uplift" if by_uplift else "expected_saved" if shares else "revenue_at_risk"
    summary = None if uplift is None else _uplift_summary(uplift, items, language)
    return {
        "capacity": capacity,
        "ranked_by": ranked,
        "ranking_note": summary["reason"]
        if by_uplift and summary is not None
        else _ranking_note(impact, shares, language),
        "uplift": summary,
        "saved_share": shares,
        "effect": _effect(impact, language),
        "handled_days": handled_days,
        "held_out": len(controls),
        "items": items,
        "revenue_at_risk": round(sum(i["revenue_at_risk"] or 0.0 for i in items), 2),
        "expected_saved": round(sum(i["expected_saved"] or 0.0 for i in items), 2)
        if shares or by_uplift
        else None,
    }


def _uplift_summary(
    uplift: UpliftRanking, items: list[dict[str, Any]], language: Language
) -> dict[str, Any]:
    """Whether the list is ranked by uplift or by risk and why (in ``language``), what it
    rests on, and how many listed customers a call may push away."""
    return {
        **uplift.status,
        "reason": uplift.status["reason"]
        if language == "en"
        else status_reason(uplift.status, language),
        "push_away": sum(1 for i in items if (i.get("uplift") or {}).get("push_away")),
        "by_band": uplift.evidence,
    }


def _effect(impact: dict[str, Any] | None, language: Language) -> dict[str, Any] | None:
    """The overall effect of past follow-ups, its ``message`` in ``language`` (a copy: the
    impact may be shared)."""
    if impact is None:
        return None
    overall: dict[str, Any] = impact["overall"]
    return (
        overall if language == "en" else {**overall, "message": impact_sentence(overall, language)}
    )


def _ranking_note(
    impact: dict[str, Any] | None, shares: dict[str, float], language: Language = "en"
) -> str:
    """Why the list is ranked as it is, in words for the team, in ``language``."""
    if language == "ja":
        return _ranking_note_ja(impact, shares)
    if shares:
        return (
            "ranked by expected revenue saved: revenue at risk × the share of churn your "
            "follow-ups were measured to prevent in each band"
        )
    overall = (impact or {}).get("overall") or {}
    if not overall or overall.get("verdict") == "none recorded yet":
        return (
            "ranked by revenue at risk: no follow-ups recorded yet, so what a contact saves "
            "is not known; it is measured once follow-ups have passed the churn horizon"
        )
    return (
        "ranked by revenue at risk: the effect of past follow-ups is not yet measured with "
        f"confidence ({overall.get('verdict', 'too little data')})"
    )


def _ranking_note_ja(impact: dict[str, Any] | None, shares: dict[str, float]) -> str:
    """``_ranking_note`` in Japanese."""
    if shares:
        return (
            "救える見込みの収益の順：リスク収益 × 過去のフォローアップで各リスク帯の解約を防いだと"
            "測定された割合"
        )
    overall = (impact or {}).get("overall") or {}
    if not overall or overall.get("verdict") == NONE_RECORDED:
        return (
            "リスク収益の順：フォローアップがまだ記録されていないため、連絡で救える収益は分かり"
            "ません。フォローアップが解約の判定期間を過ぎると測定されます"
        )
    verdict = str(overall.get("verdict", "too little data"))
    return (
        "リスク収益の順：過去のフォローアップの効果はまだ確かには測れていません"
        f"（{VERDICTS_JA.get(verdict, verdict)}）"
    )
