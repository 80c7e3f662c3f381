"""The audit log as stored: one row per admin action (who, what, on what, when, details)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from cxml.store.database import Store
from cxml.store.tables import audit_log


def record_action(
    target_of: Store | Connection,
    *,
    actor: str,
    action: str,
    target: str | None,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one row; given a connection, inside its transaction (so the action and its record
    are written together or not at all)."""
    statement = insert(audit_log).values(
        at=at, actor=actor[:100], action=action, target=target, detail=detail or {}
    )
    if isinstance(target_of, Store):
        with target_of.begin() as connection:
            connection.execute(statement)
    else:
        target_of.execute(statement)


#: Actions that read, export or erase personal data (``kind="read"``).
PERSONAL = ("read.", "export.", "customer.")


def audit_rows(
    store: Store, *, limit: int = 100, action: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """The newest rows first; ``kind`` "read" keeps reads, exports and erasures of personal
    data, "admin" the rest."""
    query = select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit)
    if action:
        query = query.where(audit_log.c.action == action)
    personal = or_(*(audit_log.c.action.startswith(p) for p in PERSONAL))
    if kind == "read":
        query = query.where(personal)
    elif kind == "admin":
        query = query.where(~personal)
    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]
