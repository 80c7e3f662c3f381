"""Worklist pulls as jobs: pull the list for action with a randomised holdout, and read what
contact did once the pulls' horizons have passed (``cxml.pulls``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cxml.pulls import pull_impact, pull_worklist
from cxml.settings import Settings
from cxml.store import Store


def pull(
    store: Store,
    settings: Settings,
    *,
    today: datetime,
    capacity: int,
    actor: str | None,
    horizon_days: int,
    holdout_share: float | None = None,
    seed: int | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """A recorded pull of ``capacity`` customers to contact plus the holdout's controls
    (``holdout_share``, by default the setting)."""
    return pull_worklist(
        store,
        today=today,
        capacity=capacity,
        actor=actor,
        holdout_share=settings.holdout_share if holdout_share is None else holdout_share,
        seed=seed,
        horizon_days=horizon_days,
        **filters,
    )


def read_pulls(
    store: Store, *, today: datetime, pull_id: int | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Per pull and overall: contact vs control retention once the horizon has passed (the
    overall read split by band, theme, owner, channel and the attribute ``segment``)."""
    return pull_impact(store, today=today, pull_id=pull_id, segment=segment)
