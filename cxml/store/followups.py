"""Follow-ups as stored, and their audit trail: every change is one event (who, when, old → new).

The rules (statuses, what a change is) live in ``cxml.followups``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, select, update

from cxml.store.database import Store
from cxml.store.tables import follow_up_events, follow_ups

FOLLOW_UP_FIELDS = ("owner", "status", "note", "outcome", "channel")


def insert_follow_up(
    store: Store,
    customer_id: str,
    values: dict[str, Any],
    actor: str | None,
    now: datetime,
    *,
    extra: dict[str, list[Any]] | None = None,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """Create a follow-up and its first audit event in one transaction (``extra``: more
    changes to record with it, e.g. a holdout overridden); returns it."""
    with store.begin() as connection:
        result = connection.execute(
            insert(follow_ups).values(
                customer_id=customer_id,
                **{k: values.get(k) for k in FOLLOW_UP_FIELDS},
                created_at=now,
                updated_at=now,
                created_by=actor,
                due_at=due_at,
            )
        )
        assert result.inserted_primary_key is not None
        follow_up_id = int(result.inserted_primary_key[0])
        connection.execute(
            insert(follow_up_events).values(
                follow_up_id=follow_up_id,
                changed_at=now,
                changed_by=actor,
                changes={
                    **{
                        k: [None, values.get(k)]
                        for k in FOLLOW_UP_FIELDS
                        if values.get(k) is not None
                    },
                    **(extra or {}),
                },
            )
        )
    found = follow_up(store, follow_up_id)
    assert found is not None
    return found


def change_follow_up(
    store: Store, follow_up_id: int, changes: dict[str, list[Any]], actor: str | None, now: datetime
) -> None:
    """Apply ``changes`` ({field: [old, new]}) and record them as one audit event."""
    with store.begin() as connection:
        connection.execute(
            update(follow_ups)
            .where(follow_ups.c.follow_up_id == follow_up_id)
            .values(**{k: new for k, (_, new) in changes.items()}, updated_at=now)
        )
        connection.execute(
            insert(follow_up_events).values(
                follow_up_id=follow_up_id, changed_at=now, changed_by=actor, changes=changes
            )
        )


def follow_up(store: Store, follow_up_id: int) -> dict[str, Any] | None:
    """One follow-up with its history (oldest event first), or None."""
    with store.engine.connect() as connection:
        row = (
            connection.execute(select(follow_ups).where(follow_ups.c.follow_up_id == follow_up_id))
            .mappings()
            .first()
        )
        if row is None:
            return None
        events = connection.execute(
            select(follow_up_events)
            .where(follow_up_events.c.follow_up_id == follow_up_id)
            .order_by(follow_up_events.c.event_id)
        ).mappings()
        history = [
            {
                "changed_at": e["changed_at"],
                "changed_by": e["changed_by"],
                "changes": _json(e["changes"]),
            }
            for e in events
        ]
    return {**dict(row), "history": history}


def customer_follow_ups(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """A customer's follow-ups, newest first, each with its history."""
    with store.engine.connect() as connection:
        ids = list(
            connection.execute(
                select(follow_ups.c.follow_up_id)
                .where(follow_ups.c.customer_id == customer_id)
                .order_by(follow_ups.c.updated_at.desc(), follow_ups.c.follow_up_id.desc())
            ).scalars()
        )
    found = [follow_up(store, int(i)) for i in ids]
    return [f for f in found if f is not None]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


REACHED = ("contacted", "resolved", "lost")


def contact_log(store: Store) -> pd.DataFrame:
    """Every follow-up with whether the customer was ever reached (its status is or once was
    contacted, resolved or lost). Columns: follow_up_id, customer_id, owner, channel, status,
    created_at, reached."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(
                follow_ups.c.follow_up_id,
                follow_ups.c.customer_id,
                follow_ups.c.owner,
                follow_ups.c.channel,
                follow_ups.c.status,
                follow_ups.c.created_at,
            )
        ).all()
        events = connection.execute(
            select(follow_up_events.c.follow_up_id, follow_up_events.c.changes)
        ).all()
    frame = pd.DataFrame(
        rows, columns=["follow_up_id", "customer_id", "owner", "channel", "status", "created_at"]
    )
    ever = {
        int(follow_up_id)
        for follow_up_id, changes in events
        if any(
            field == "status" and values and values[-1] in REACHED
            for field, values in (_json(changes) or {}).items()
        )
    }
    frame["reached"] = frame["status"].isin(REACHED) | frame["follow_up_id"].isin(ever)
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def overdue(store: Store, now: datetime, *, escalated: bool | None = None) -> list[dict[str, Any]]:
    """Open follow-ups past their due date, most overdue first (``escalated``: only those
    already escalated, or only those not yet)."""
    query = (
        select(follow_ups)
        .where(
            (follow_ups.c.status == "open")
            & follow_ups.c.due_at.is_not(None)
            & (follow_ups.c.due_at < now)
        )
        .order_by(follow_ups.c.due_at, follow_ups.c.follow_up_id)
    )
    if escalated is True:
        query = query.where(follow_ups.c.escalated_at.is_not(None))
    elif escalated is False:
        query = query.where(follow_ups.c.escalated_at.is_(None))
    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def escalate(
    store: Store,
    follow_up_id: int,
    owner: str,
    *,
    actor: str | None,
    now: datetime,
    also: Callable[[Connection], Any] | None = None,
) -> None:
    """Hand one follow-up to ``owner`` for being overdue, recorded as one event; ``also``
    runs in the same transaction (the webhook's outbox row)."""
    current = follow_up(store, follow_up_id)
    assert current is not None
    with store.begin() as connection:
        connection.execute(
            update(follow_ups)
            .where(follow_ups.c.follow_up_id == follow_up_id)
            .values(owner=owner, escalated_at=now, updated_at=now)
        )
        connection.execute(
            insert(follow_up_events).values(
                follow_up_id=follow_up_id,
                changed_at=now,
                changed_by=actor,
                changes={"owner": [current["owner"], owner], "escalated": [None, "overdue"]},
            )
        )
        if also is not None:
            also(connection)
