"""API keys: created with scopes, stored only as a hash, shown once, revocable.

A key reads ``cxml_<key id>_<secret>``: the id finds the stored row, the secret is checked
against its SHA-256 hash (256 random bits, so a fast hash is enough; no salt needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store import keys as stored_keys
from cxml.store.audit import record_action


class Scope(StrEnum):
    """What a key may do; ``admin`` implies every scope but ``pii`` and ``erase``: reading
    customers' raw words (e-mail addresses, phone and card numbers unredacted) and erasing
    customers are granted on their own."""

    SCORE = "score"
    INGEST = "ingest"
    READ = "read"
    ACT = "act"  # record and change follow-ups (closing the loop); read alone only reads
    ADMIN = "admin"
    PII = "pii"
    ERASE = "erase"  # erase customers (privacy); like pii, granted on its own, not by admin


SCOPES = tuple(s.value for s in Scope)
#: Scopes ``admin`` does not imply: each is granted on its own.
NOT_IMPLIED = frozenset({Scope.PII, Scope.ERASE})
PREFIX = "cxml"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    store: Store,
    scopes: Sequence[str],
    *,
    now: datetime,
    name: str | None = None,
    actor: str = "cli",
) -> str:
    """A new key with ``scopes`` (``admin`` implies every scope but ``pii`` and ``erase``); returns it — the
    only time it is shown. The audit log records who made it (never the secret)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ConfigError(
            f"scope(s) {', '.join(unknown) or '(none)'} not allowed: give one or more of {', '.join(SCOPES)}"
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    stored_keys.insert_api_key(store, key_id, _hash(secret), sorted(set(scopes)), name, now)
    record_action(
        store,
        actor=actor,
        action="key.created",
        target=key_id,
        at=now,
        detail={"scopes": sorted(set(scopes)), "name": name},
    )
    return f"{PREFIX}_{key_id}_{secret}"


def verify_key(store: Store, key: str | None) -> dict[str, Any] | None:
    """The key's id and scopes when ``key`` is valid and not revoked, else None."""
    return verify_keys(store, [key])[0]


def verify_keys(store: Store, keys: Sequence[str | None]) -> list[dict[str, Any] | None]:
    """``verify_key`` for several keys with one read of the store (the server checks the keys
    of the requests arriving together at once)."""
    parts = [key.strip().split("_", 2) if key else [] for key in keys]
    wellformed = [p if len(p) == 3 and p[0] == PREFIX else None for p in parts]
    rows = stored_keys.api_key_rows(store, [p[1] for p in wellformed if p is not None])
    found: list[dict[str, Any] | None] = []
    for part in wellformed:
        row = rows.get(part[1]) if part is not None else None
        if (
            part is None
            or row is None
            or row["revoked_at"] is not None
            or not hmac.compare_digest(row["secret_hash"], _hash(part[2]))
        ):
            found.append(None)
            continue
        scopes = set(row["scopes"])
        if Scope.ADMIN in scopes:
            scopes |= set(SCOPES) - NOT_IMPLIED
        found.append({"key_id": row["key_id"], "scopes": scopes, "name": row["name"]})
    return found


def revoke_key(store: Store, key_or_id: str, *, now: datetime, actor: str = "cli") -> str:
    """Revoke a key given itself or its id; returns the id. NotFoundError when unknown."""
    from cxml.errors import NotFoundError

    parts = key_or_id.strip().split("_", 2)
    key_id = parts[1] if len(parts) == 3 and parts[0] == PREFIX else key_or_id.strip()
    if not stored_keys.revoke_api_key(store, key_id, now):
        raise NotFoundError("active API key", key_id)
    record_action(store, actor=actor, action="key.revoked", target=key_id, at=now)
    return key_id
