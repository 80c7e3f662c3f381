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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy import Connection, insert, select, update

from cxml.errors import ConfigError, NotFoundError
from cxml.store import Store
from cxml.store.tables import latest_scores, webhook_endpoints, webhook_outbox

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


@dataclass(frozen=True)
class Event:
    """One event to queue: its payload; ``key`` makes its id deterministic (the same event
    queued again is queued once per endpoint); ``text`` (feedback words) joins the payload only
    for endpoints that asked for text."""

    payload: dict[str, Any]
    key: str | None = None
    text: dict[str, Any] | None = None


def event_id_for(event_type: str, key: str) -> str:
    """The id of the event ``event_type`` about ``key`` (e.g. a theme and a period): the same
    whenever it is queued, so a rerun does not announce it twice."""
    return hashlib.sha256(f"{event_type}\x00{key}".encode()).hexdigest()[:32]


def subscribers(connection: Connection, event_type: str) -> list[dict[str, Any]]:
    """The active endpoints subscribed to ``event_type`` (a small table: read whole)."""
    return [
        dict(r)
        for r in connection.execute(
            select(
                webhook_endpoints.c.endpoint_id,
                webhook_endpoints.c.events,
                webhook_endpoints.c.include_text,
            ).where(webhook_endpoints.c.disabled_at.is_(None))
        ).mappings()
        if event_type in (r["events"] if isinstance(r["events"], list) else json.loads(r["events"]))
    ]


def emit(
    target: Store | Connection,
    event_type: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    text: dict[str, Any] | None = None,
    key: str | None = None,
) -> int:
    """Queue ``event_type`` for every active endpoint subscribed to it, in the caller's
    transaction when given a connection; ``text`` (feedback words) joins the payload only for
    endpoints that asked for it; ``key``: see ``Event``. Returns how many deliveries were
    queued."""
    return emit_many(target, event_type, [Event(payload, key=key, text=text)], now=now)


def emit_many(
    target: Store | Connection,
    event_type: str,
    events: Sequence[Event],
    *,
    now: datetime,
    endpoints: list[dict[str, Any]] | None = None,
) -> int:
    """Queue many events of one type in one statement (``endpoints``: the subscribers, when
    the caller has read them already). An event whose key was queued before for an endpoint
    is not queued again for it. Returns how many deliveries were queued."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown event type {event_type!r}")

    def queue(connection: Connection) -> int:
        subscribed = subscribers(connection, event_type) if endpoints is None else endpoints
        rows = [
            {
                "endpoint_id": r["endpoint_id"],
                "event_id": uuid.uuid4().hex
                if event.key is None
                else event_id_for(event_type, event.key),
                "event_type": event_type,
                "payload": {**event.payload, **(event.text or {})}
                if r["include_text"]
                else event.payload,
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for r in subscribed
            for event in events
        ]
        if not rows:
            return 0
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = (
            postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        )
        # Keyed events already queued for an endpoint are skipped (the unique index on
        # endpoint and event id), so two runs at once cannot both announce them either.
        statement = (
            dialect_insert(webhook_outbox)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
            .returning(webhook_outbox.c.delivery_id)  # what was queued (rowcount is not kept)
        )
        return len(connection.execute(statement, rows).all())

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


def announce_overdue_follow_ups(store: Store, *, now: datetime) -> int:
    """Queue ``follow_up.overdue`` for every open follow-up past its due date, once per
    follow-up and due date (the event id is theirs: a later pass announces nothing again), with
    ``escalated: false``; an escalation later announces it again, handed on. Nothing is read
    when no endpoint subscribes. Returns how many deliveries were queued."""
    from cxml.store.followups import overdue

    with store.engine.connect() as connection:
        if not subscribers(connection, "follow_up.overdue"):
            return 0
    events = [
        Event(
            {
                "follow_up_id": int(row["follow_up_id"]),
                "customer_id": row["customer_id"],
                "due_at": row["due_at"].isoformat(),
                "previous_owner": None,
                "owner": row["owner"],
                "escalated": False,
            },
            key=f"{row['follow_up_id']}\x00{row['due_at'].isoformat()}",
        )
        for row in overdue(store, now)
    ]
    if not events:
        return 0
    with store.begin() as connection:
        return emit_many(connection, "follow_up.overdue", events, now=now)


# --- customer.high_risk ----------------------------------------------------------------------

HIGH_BAND = "high"
_LOOKUP_CHUNK = 5_000  # customer ids per previous-band query (bound-parameter limits)


def queue_high_risk(connection: Connection, scored: pd.DataFrame, *, now: datetime) -> int:
    """Queue ``customer.high_risk`` for the customers of a score run (``scored``: the frame
    about to be written, in the transaction that writes it, before the write) who enter the
    high band: high now, and not high at their latest stored score, or never scored.

    A backdated score (older than the customer's latest) announces nothing: it does not change
    where the customer stands. At most once per customer and as-of date (the event id is
    theirs). Cost: nothing when nobody is high; else one query for the subscribers and, when
    there are any, one per 5,000 high customers for their previous bands, and one insert.
    Returns how many deliveries were queued.
    """
    high = scored[scored["band"] == HIGH_BAND]
    if high.empty:
        return 0
    endpoints = subscribers(connection, "customer.high_risk")
    if not endpoints:
        return 0
    ids = high["customer_id"].astype(str).tolist()
    previous: dict[str, tuple[str, Any]] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        found = connection.execute(
            select(latest_scores.c.customer_id, latest_scores.c.band, latest_scores.c.as_of).where(
                latest_scores.c.customer_id.in_(ids[start : start + _LOOKUP_CHUNK])
            )
        )
        previous.update({str(c): (band, pd.Timestamp(day).date()) for c, band, day in found})
    revenue = pd.to_numeric(high["revenue_at_risk"]).astype(float)
    events = []
    for customer_id, probability, money, version, as_of in zip(
        ids,
        high["probability"].astype(float).tolist(),
        revenue.where(revenue.notna(), None).tolist(),
        high["model_version"].astype(str).tolist(),
        [pd.Timestamp(d).date() for d in high["as_of"]],
        strict=True,
    ):
        before = previous.get(customer_id)
        if before is not None and (before[0] == HIGH_BAND or as_of < before[1]):
            continue
        events.append(
            Event(
                {
                    "customer_id": customer_id,
                    "probability": probability,
                    "band": HIGH_BAND,
                    "previous_band": None if before is None else before[0],
                    "revenue_at_risk": money,
                    "model_version": version,
                    "as_of": as_of.isoformat(),
                },
                key=f"{customer_id}\x00{as_of.isoformat()}",
            )
        )
    if not events:
        return 0
    return emit_many(connection, "customer.high_risk", events, now=now, endpoints=endpoints)


def record_scores(store: Store, scored: pd.DataFrame, *, now: datetime) -> None:
    """Write a score run's scores and queue the ``customer.high_risk`` events they cause, in
    one transaction: nothing announced that was not stored, nothing stored unannounced. Every
    path that stores scores (batch, Spark, the score route) writes through here."""
    from cxml.store.scores import write_scores

    with store.begin() as connection:
        queue_high_risk(connection, scored, now=now)
        write_scores(store, scored, connection)


# --- theme.emerging --------------------------------------------------------------------------


def announce_emerging_themes(
    store: Store,
    *,
    now: datetime,
    period: str = "month",
    baseline_periods: int = 3,
    min_count: int = 10,
) -> int:
    """Queue ``theme.emerging`` for every theme emerging in the latest period (the alert of
    ``cxml alerts`` and the page, same defaults), once per theme and period: the event id is
    the theme's and the period's, so rerunning announces nothing new. Nothing is read when no
    endpoint subscribes. Returns how many deliveries were queued."""
    from cxml.drivers import emerging_themes
    from cxml.store.metrics import theme_period_counts

    with store.engine.connect() as connection:
        if not subscribers(connection, "theme.emerging"):
            return 0
    counts = theme_period_counts(store, period)
    if counts.empty:
        return 0
    table = emerging_themes(counts, baseline_periods=baseline_periods, min_count=min_count)
    if table.empty or not table["alert"].any():
        return 0
    alerts = table[table["alert"]]
    latest = str(alerts["period"].iloc[0])
    languages = _main_languages(store, alerts["theme"].astype(str).tolist(), period, latest)
    events = [
        Event(
            {
                "theme_id": str(row["theme"]),
                "label": str(row["theme_label"]),
                "language": languages.get(str(row["theme"])),
                "period": latest,
                "count": int(row["count"]),
                "baseline": _rounded(row["baseline_share_pct"]),
                "growth": _rounded(row["share_change_pts"]),
            },
            key=f"{row['theme']}\x00{period}\x00{latest}",
        )
        for row in alerts.to_dict(orient="records")
    ]
    with store.begin() as connection:
        return emit_many(connection, "theme.emerging", events, now=now)


def _rounded(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)


def _main_languages(
    store: Store, themes: list[str], period: str, label: str
) -> dict[str, str | None]:
    """Per theme, the language most of its mentions in the period ``label`` were written in."""
    from sqlalchemy import func

    from cxml.store.metrics import period_expression
    from cxml.store.tables import feedback, feedback_analysis, feedback_themes

    in_period = period_expression(store.dialect, feedback.c.created_at, period) == label
    query = (
        select(feedback_themes.c.theme_id, feedback_analysis.c.language, func.count())
        .select_from(
            feedback_themes.join(
                feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id
            ).join(feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id)
        )
        .where(feedback_themes.c.theme_id.in_(themes), in_period)
        .group_by(feedback_themes.c.theme_id, feedback_analysis.c.language)
    )
    with store.engine.connect() as connection:
        found = connection.execute(query).all()
    best: dict[str, tuple[int, str]] = {}
    for theme, language, n in found:
        if language and (int(n), str(language)) > best.get(str(theme), (0, "")):
            best[str(theme)] = (int(n), str(language))
    return {theme: best[theme][1] if theme in best else None for theme in themes}
