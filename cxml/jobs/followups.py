"""The follow-ups impact job: did contacting at-risk customers keep them? Measured over the
churn model's horizon (the one that serves; 90 days without one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxml.jobs.serving import churn_horizon
from cxml.settings import Settings
from cxml.store import Store


@dataclass(frozen=True)
class Impact:
    """The comparison of contacted and comparable uncontacted customers, as ``cxml.followups``
    reports it."""

    report: dict[str, Any]


def run_followups_impact(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    horizon_days: int | None = None,
    contact_window_days: int = 14,
    by: Sequence[str] = (),
) -> Impact:
    """``follow_up_impact`` over ``horizon_days`` (default: the serving churn model's horizon),
    split ``by`` band, owner or theme."""
    from cxml.followups import ImpactBy, follow_up_impact

    if horizon_days is None:
        horizon_days = churn_horizon(settings)
    return Impact(
        follow_up_impact(
            store,
            today=now,
            horizon_days=horizon_days,
            contact_window_days=contact_window_days,
            by=[ImpactBy(s) for s in by],
        )
    )


def run_contact_impact(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    horizon_days: int | None = None,
    contact_window_days: int = 14,
    by: Sequence[str] = (),
    segment: str | None = None,
    observational: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What contact did: the randomised comparison of the worklist pulls first, then the
    observational comparison of follow-ups (``observational``, when already computed), labelled
    as such (``cxml.pulls.contact_impact``)."""
    from cxml.pulls import contact_impact, pull_impact

    if observational is None:
        observational = run_followups_impact(
            settings,
            store,
            now=now,
            horizon_days=horizon_days,
            contact_window_days=contact_window_days,
            by=by,
        ).report
    return contact_impact(pull_impact(store, today=now, segment=segment), observational)
