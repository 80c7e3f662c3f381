"""API keys as stored: an id, the SHA-256 of the secret, scopes, and when made or revoked.

The rules (key format, scopes, verification) live in ``cxml.keys``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update

from cxml.store.database import Store
from cxml.store.tables import api_keys


def insert_api_key(
    store: Store,
    key_id: str,
    secret_hash: str,
    scopes: Sequence[str],
    name: str | None,
    now: datetime,
) -> None:
    """Store a new key's id, hash and scopes."""
    with store.begin() as connection:
        connection.execute(
            insert(api_keys).values(
                key_id=key_id,
                secret_hash=secret_hash,
                scopes=list(scopes),
                name=name,
                created_at=now,
                revoked_at=None,
            )
        )


# Read on every request: plain SQL text, compiled once (half the cost of building a select).
_KEY_ROWS = (
    text(
        "SELECT key_id, secret_hash, scopes, name, created_at, revoked_at FROM api_keys "
        "WHERE key_id IN :key_ids"
    )
    .bindparams(bindparam("key_ids", expanding=True))
    .columns(
        api_keys.c.key_id,
        api_keys.c.secret_hash,
        api_keys.c.scopes,
        api_keys.c.name,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    )
)


def api_key_rows(store: Store, key_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored rows of these key ids (one read), by id; unknown ids are absent."""
    if not key_ids:
        return {}
    with store.engine.connect() as connection:
        rows = connection.execute(_KEY_ROWS, {"key_ids": sorted(set(key_ids))}).mappings().all()
    return {row["key_id"]: {**row, "scopes": _json(row["scopes"])} for row in rows}


def list_api_keys(store: Store) -> list[dict[str, Any]]:
    """Every key's id, name, scopes and dates (never a hash), oldest first."""
    query = select(
        api_keys.c.key_id,
        api_keys.c.name,
        api_keys.c.scopes,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).order_by(api_keys.c.created_at, api_keys.c.key_id)
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{**dict(r), "scopes": _json(r["scopes"])} for r in rows]


def revoke_api_key(store: Store, key_id: str, now: datetime) -> bool:
    """Mark a key revoked; False when there is no such (unrevoked) key."""
    with store.begin() as connection:
        done = connection.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(done.rowcount)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
