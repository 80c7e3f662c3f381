"""Signed webhooks: tell the systems around cxml (CRM, ticketing, chat) what happened, without
polling.

- **Endpoints** are registered by admins for event types; each gets a secret, shown once.
- **Events** go into an outbox in the store, in the same transaction as what they announce, one
  row per subscribed endpoint. Nothing is sent from the request that caused them.
- **Delivery** is at least once: the server's worker posts due rows, marks them delivered on a
  2xx answer, and otherwise retries with exponential backoff up to a limit; a row in flight
  when the server dies is sent again after restart (receivers deduplicate by event id).
- **Signature**: HMAC-SHA256 over ``timestamp + "." + body`` with the endpoint's secret, in
  ``X-Cxml-Signature`` (hex), the Unix time in ``X-Cxml-Timestamp``; ``Verifier`` is the
  reference receiver: it refuses bad signatures, deliveries older than five minutes, and
  event ids it has already accepted.
- **Where to**: HTTPS to public addresses only, unless the setting allows private ones
  (loopback, for tests and on-premises receivers).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, insert, select, update

from cxml.errors import ConfigError, NotFoundError
from cxml.store import Store
from cxml.store.tables import webhook_endpoints, webhook_outbox

EVENTS = (
    "customer.high_risk",  # a customer entered the high band at a score run
    "follow_up.overdue",  # an open follow-up passed its due date and was escalated
    "model.promoted",  # a model version became champion
    "drift.alert",  # a drift check raised an alert
    "theme.emerging",  # a theme is growing faster than usual
    "pull.readable",  # a worklist pull's horizon has passed: its result can be read
)
TOLERANCE_SECONDS = 300
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 30.0
LEASE_SECONDS = 15.0  # a claimed row waits this long before another worker may try it (> timeout)


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if cxml may post to it: HTTPS to a public address; with ``allow_private``
    also HTTP and private or loopback addresses. Else ConfigError naming why."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"url {url!r}: expected https://host/path", field="url", value=url)
    if parts.scheme != "https" and not allow_private:
        raise ConfigError(
            f"url {url!r}: webhooks are sent over HTTPS only (CXML_WEBHOOK_ALLOW_PRIVATE=true "
            "allows http and private addresses, e.g. for a receiver on this machine)",
            field="url",
            value=url,
        )
    try:
        found = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError as exc:
        raise ConfigError(
            f"url {url!r}: its host does not resolve ({exc})", field="url", value=url
        ) from exc
    for address in found:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global and not allow_private:
            raise ConfigError(
                f"url {url!r}: {address} is a private, loopback or reserved address; "
                "webhooks go to public addresses unless CXML_WEBHOOK_ALLOW_PRIVATE=true",
                field="url",
                value=url,
            )
    return url


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp.body`` with ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class VerifyError(ValueError):
    """A delivery the reference verifier refuses, and why."""


class Verifier:
    """The reference receiver's check (copy it into yours): the signature must match, the
    timestamp be within ``tolerance`` seconds, and the event id not seen before."""

    def __init__(self, secret: str, tolerance: int = TOLERANCE_SECONDS) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.seen: set[str] = set()

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> dict[str, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            timestamp = int(lower["x-cxml-timestamp"])
            signature = lower["x-cxml-signature"]
        except (KeyError, ValueError) as exc:
            raise VerifyError("missing or malformed X-Cxml-Timestamp / X-Cxml-Signature") from exc
        if not hmac.compare_digest(sign(self.secret, timestamp, body), signature):
            raise VerifyError("signature does not match")
        if abs((time.time() if now is None else now) - timestamp) > self.tolerance:
            raise VerifyError(f"timestamp more than {self.tolerance} s away: a replay?")
        event = json.loads(body)
        if event["event_id"] in self.seen:
            raise VerifyError(f"event {event['event_id']} already accepted: a replay")
        self.seen.add(event["event_id"])
        return dict(event)


# --- endpoints -------------------------------------------------------------------------------


def register(
    store: Store,
    url: str,
    events: list[str],
    *,
    actor: str | None,
    now: datetime,
    include_text: bool = False,
    allow_private: bool = False,
) -> dict[str, Any]:
    """A new endpoint for ``events``; the answer holds its secret, the only time it is shown."""
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise ConfigError(
            f"event(s) {', '.join(unknown) or '(none)'} unknown: give one or more of "
            f"{', '.join(EVENTS)}",
            field="events",
            value=events,
        )
    check_url(url, allow_private=allow_private)
    row = {
        "endpoint_id": secrets.token_hex(8),
        "url": url,
        "events": sorted(set(events)),
        "secret": secrets.token_hex(32),
        "include_text": include_text,
        "created_at": now,
        "created_by": (actor or "")[:100] or None,
    }
    with store.begin() as connection:
        connection.execute(insert(webhook_endpoints).values(**row))
    return {**row, "disabled_at": None}


def endpoints(store: Store) -> list[dict[str, Any]]:
    """Registered endpoints, without their secrets."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(webhook_endpoints).order_by(webhook_endpoints.c.created_at)
        ).mappings()
        return [{k: v for k, v in r.items() if k != "secret"} for r in rows]


def disable(store: Store, endpoint_id: str, *, now: datetime) -> None:
    """Stop sending to an endpoint (its pending deliveries are not sent)."""
    with store.begin() as connection:
        done = connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.endpoint_id == endpoint_id)
            .values(disabled_at=now)
        ).rowcount
    if not done:
        raise NotFoundError("webhook endpoint", endpoint_id)


# --- the outbox ------------------------------------------------------------------------------


def emit(
    target: Store | Connection,
    event_type: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    text: dict[str, Any] | None = None,
) -> int:
    """Queue ``event_type`` for every active endpoint subscribed to it, in the caller's
    transaction when given a connection; ``text`` (feedback words) joins the payload only for
    endpoints that asked for it. Returns how many deliveries were queued."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown event type {event_type!r}")

    def queue(connection: Connection) -> int:
        subscribed = [
            r
            for r in connection.execute(
                select(webhook_endpoints).where(webhook_endpoints.c.disabled_at.is_(None))
            ).mappings()
            if event_type
            in (r["events"] if isinstance(r["events"], list) else json.loads(r["events"]))
        ]
        rows = [
            {
                "endpoint_id": r["endpoint_id"],
                "event_id": uuid.uuid4().hex,
                "event_type": event_type,
                "payload": {**payload, **(text or {})} if r["include_text"] else payload,
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for r in subscribed
        ]
        if rows:
            connection.execute(insert(webhook_outbox), rows)
        return len(rows)

    if isinstance(target, Store):
        with target.begin() as connection:
            return queue(connection)
    return queue(target)


def _claim(store: Store, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Due pending rows of active endpoints, each claimed for ``LEASE_SECONDS`` (a row another
    worker claimed first is skipped)."""
    with store.engine.connect() as connection:
        due = connection.execute(
            select(webhook_outbox, webhook_endpoints.c.url, webhook_endpoints.c.secret)
            .join(
                webhook_endpoints,
                webhook_endpoints.c.endpoint_id == webhook_outbox.c.endpoint_id,
            )
            .where(
                (webhook_outbox.c.status == "pending")
                & (webhook_outbox.c.next_attempt_at <= now)
                & webhook_endpoints.c.disabled_at.is_(None)
            )
            .order_by(webhook_outbox.c.delivery_id)
            .limit(limit)
        ).mappings()
        rows = [dict(r) for r in due]
    claimed = []
    lease = now + timedelta(seconds=LEASE_SECONDS)
    for row in rows:
        with store.begin() as connection:
            taken = connection.execute(
                update(webhook_outbox)
                .where(
                    (webhook_outbox.c.delivery_id == row["delivery_id"])
                    & (webhook_outbox.c.next_attempt_at == row["next_attempt_at"])
                    & (webhook_outbox.c.status == "pending")
                )
                .values(next_attempt_at=lease)
            ).rowcount
        if taken:
            claimed.append(row)
    return claimed


Post = Callable[[str, bytes, dict[str, str]], int]


def body_of(row: Mapping[str, Any]) -> bytes:
    payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
    event = {
        "event_id": row["event_id"],
        "type": row["event_type"],
        "created_at": row["created_at"].isoformat(),
        "payload": payload,
    }
    return json.dumps(event, ensure_ascii=False, default=str).encode()


def deliver_due(store: Store, post: Post, *, now: datetime, limit: int = 50) -> dict[str, int]:
    """Send what is due (``post(url, body, headers)`` answers the HTTP status, or raises):
    2xx marks a row delivered; anything else retries after 30 s · 2^(attempts − 1), up to
    ``MAX_ATTEMPTS``, then the row is failed (redeliver by hand)."""
    done = {"delivered": 0, "retrying": 0, "failed": 0}
    for row in _claim(store, now, limit):
        body = body_of(row)
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Cxml-Event-Id": row["event_id"],
            "X-Cxml-Event": row["event_type"],
            "X-Cxml-Timestamp": str(stamp),
            "X-Cxml-Signature": sign(row["secret"], stamp, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            status = post(row["url"], body, headers)
        except Exception as exc:  # the receiver's failure is data here, not ours
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = row["attempts"] + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status": status,
            "last_error": error,
        }
        if status is not None and 200 <= status < 300:
            values.update(status="delivered", delivered_at=now)
            done["delivered"] += 1
        elif attempts >= MAX_ATTEMPTS:
            values.update(status="failed")
            done["failed"] += 1
        else:
            wait = min(BACKOFF_SECONDS * 2 ** (attempts - 1), 86_400.0)
            values.update(next_attempt_at=now + timedelta(seconds=wait))
            done["retrying"] += 1
        with store.begin() as connection:
            connection.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.delivery_id == row["delivery_id"])
                .values(**values)
            )
    return done


def deliveries(store: Store, endpoint_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest first."""
    with store.engine.connect() as connection:
        known = connection.execute(
            select(webhook_endpoints.c.endpoint_id).where(
                webhook_endpoints.c.endpoint_id == endpoint_id
            )
        ).scalar()
        if known is None:
            raise NotFoundError("webhook endpoint", endpoint_id)
        rows = connection.execute(
            select(webhook_outbox)
            .where(webhook_outbox.c.endpoint_id == endpoint_id)
            .order_by(webhook_outbox.c.delivery_id.desc())
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


def redeliver(store: Store, endpoint_id: str, delivery_id: int, *, now: datetime) -> None:
    """Send a delivery again (same event id: receivers deduplicate), now."""
    with store.begin() as connection:
        done = connection.execute(
            update(webhook_outbox)
            .where(
                (webhook_outbox.c.delivery_id == delivery_id)
                & (webhook_outbox.c.endpoint_id == endpoint_id)
            )
            .values(status="pending", next_attempt_at=now, attempts=0)
        ).rowcount
    if not done:
        raise NotFoundError(f"delivery of endpoint {endpoint_id}", delivery_id)


def announce_readable_pulls(store: Store, *, now: datetime) -> int:
    """Queue ``pull.readable`` for pulls whose horizon has passed and that were not announced
    yet, in the transaction that marks them announced; returns how many."""
    from cxml.store.tables import worklist_pulls

    pending = select(worklist_pulls.c.pull_id, worklist_pulls.c.read_after).where(
        (worklist_pulls.c.read_after <= now) & worklist_pulls.c.readable_announced_at.is_(None)
    )
    with store.engine.connect() as connection:  # most ticks: nothing to announce, no write
        if not connection.execute(pending.limit(1)).first():
            return 0
    with store.begin() as connection:
        ready = connection.execute(pending).all()
        for pull_id, read_after in ready:
            emit(
                connection,
                "pull.readable",
                {"pull_id": int(pull_id), "read_after": read_after.isoformat()},
                now=now,
            )
            connection.execute(
                update(worklist_pulls)
                .where(worklist_pulls.c.pull_id == pull_id)
                .values(readable_announced_at=now)
            )
    return len(ready)
