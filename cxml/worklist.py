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

from cxml.store import Store
from cxml.store.pulls import open_controls
from cxml.store.scores import Sort, at_risk
from cxml.uplift import UpliftRanking, rank_by_uplift

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
) -> dict[str, Any]:
    """The ``capacity`` customers to contact first (see the module), with totals and how the
    list was ranked. With an ``uplift`` model good enough to rank, a wider pool of at-risk
    customers is re-ranked by expected revenue saved = estimated uplift × value."""
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
    ranked = "uplift" if by_uplift else "expected_saved" if shares else "revenue_at_risk"
    return {
        "capacity": capacity,
        "ranked_by": ranked,
        "ranking_note": uplift.status["reason"]
        if by_uplift and uplift is not None
        else _ranking_note(impact, shares),
        "uplift": None if uplift is None else _uplift_summary(uplift, items),
        "saved_share": shares,
        "effect": None if impact is None else impact["overall"],
        "handled_days": handled_days,
        "held_out": len(controls),
        "items": items,
        "revenue_at_risk": round(sum(i["revenue_at_risk"] or 0.0 for i in items), 2),
        "expected_saved": round(sum(i["expected_saved"] or 0.0 for i in items), 2)
        if shares or by_uplift
        else None,
    }


def _uplift_summary(uplift: UpliftRanking, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the list is ranked by uplift or by risk and why, what it rests on, and how many
    listed customers a call may push away."""
    return {
        **uplift.status,
        "push_away": sum(1 for i in items if (i.get("uplift") or {}).get("push_away")),
        "by_band": uplift.evidence,
    }


def _ranking_note(impact: dict[str, Any] | None, shares: dict[str, float]) -> str:
    """Why the list is ranked as it is, in words for the team."""
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
