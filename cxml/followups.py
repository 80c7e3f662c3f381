"""Follow-ups: closing the loop with an at-risk customer or a detractor.

A follow-up has an owner, a status (open → contacted → resolved or lost; any status may be set
again), a note and an outcome. Every change is kept as an event with who made it and the old
and new values, so the audit trail is complete.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from cxml.errors import ConfigError, NotFoundError
from cxml.store import Store
from cxml.store import followups as stored
from cxml.store.records import customer


class Status(StrEnum):
    """Where a follow-up stands."""

    OPEN = "open"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    LOST = "lost"


class StatusFilter(StrEnum):
    """What the at-risk list can filter on: the status of the latest follow-up, or ``none``."""

    NONE = "none"
    OPEN = "open"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    LOST = "lost"


STATUSES = tuple(s.value for s in Status)
STATUS_FILTERS = tuple(s.value for s in StatusFilter)
MAX_TEXT = 10_000


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(stored.FOLLOW_UP_FIELDS))
    if unknown:
        raise ConfigError(
            f"follow-up field(s) {', '.join(unknown)} unknown: expected {', '.join(stored.FOLLOW_UP_FIELDS)}"
        )
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status={status!r} is not one of {', '.join(STATUSES)}")
    for field in ("owner", "note", "outcome"):
        value = values.get(field)
        if value is not None and len(str(value)) > MAX_TEXT:
            raise ConfigError(f"{field} is {len(str(value)):,} characters; at most {MAX_TEXT:,}")
    return values


def open_follow_up(
    store: Store, customer_id: str, values: dict[str, Any], *, actor: str | None, now: datetime
) -> dict[str, Any]:
    """Create a follow-up for a stored customer (status defaults to ``open``)."""
    customer(store, customer_id)  # NotFoundError for an unknown customer
    values = _checked({"status": "open", **{k: v for k, v in values.items() if v is not None}})
    return stored.insert_follow_up(store, customer_id, values, actor, now)


def update_follow_up(
    store: Store,
    customer_id: str,
    follow_up_id: int,
    values: dict[str, Any],
    *,
    actor: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Change some fields; only real changes are recorded. Returns the follow-up with its history."""
    current = stored.follow_up(store, follow_up_id)
    if current is None or current["customer_id"] != customer_id:
        raise NotFoundError(f"follow-up of customer {customer_id}", follow_up_id)
    values = _checked(values)
    if "status" in values and values["status"] is None:
        raise ConfigError("status cannot be empty: give one of " + ", ".join(STATUSES))
    changes = {k: [current[k], v] for k, v in values.items() if current[k] != v}
    if changes:
        stored.change_follow_up(store, follow_up_id, changes, actor, now)
    found = stored.follow_up(store, follow_up_id)
    assert found is not None
    return found
