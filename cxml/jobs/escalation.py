"""Overdue follow-ups: list them, and hand those long overdue to the escalation owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cxml.errors import ConfigError
from cxml.followups import escalate_overdue, overdue_follow_ups
from cxml.settings import Settings
from cxml.store import Store


def overdue(store: Store, *, now: datetime) -> list[dict[str, Any]]:
    """Open follow-ups past their due date, most overdue first."""
    return overdue_follow_ups(store, now)


def escalate(
    store: Store, settings: Settings, *, now: datetime, actor: str | None
) -> list[dict[str, Any]]:
    """Escalate follow-ups more than ``escalate_after_days`` past due to the escalation owner
    (ConfigError when none is set)."""
    if not settings.escalation_owner:
        raise ConfigError(
            "no escalation owner: set CXML_ESCALATION_OWNER (who overdue follow-ups go to)",
            field="escalation_owner",
        )
    return escalate_overdue(
        store,
        now=now,
        after_days=settings.escalate_after_days,
        owner=settings.escalation_owner,
        actor=actor,
    )
