"""Privacy operations as stored: erase one customer everywhere and keep them erased, replace
expired raw text by its redacted form, gather everything held about one customer, and record
who read whose data.

Which tables hold a customer is read from the schema, not listed here: every table with a
``customer_id`` column, every table hanging off one of their feedback items (``feedback_id``)
or follow-ups (``follow_up_id``). A table added later is erased without anyone remembering
to add it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, insert, select, update

from cxml.store.audit import record_action
from cxml.store.database import Store
from cxml.store.tables import (
    audit_log,
    customers,
    feedback,
    follow_ups,
    metadata,
    rejects,
    store_secrets,
    suppressed_customers,
)

ERASED = "customer.erased"
ALLOWED_BACK = "customer.allowed_back"
_KEY_NAME = "suppression_key"


def privacy_key(connection: Connection, configured: str | None = None, *, now: datetime) -> bytes:
    """The key of the suppression hash: ``configured`` (CXML_PRIVACY_KEY) when set, else the
    store's own random key, made on first use (then a copy of the database holds its key:
    set CXML_PRIVACY_KEY to keep the key apart)."""
    if configured:
        return configured.encode()
    found = connection.execute(
        select(store_secrets.c.value).where(store_secrets.c.name == _KEY_NAME)
    ).scalar()
    if found is None:
        found = secrets.token_hex(32)
        connection.execute(
            insert(store_secrets).values(name=_KEY_NAME, value=found, created_at=now)
        )
    return bytes.fromhex(found)


def id_hash(key: bytes, customer_id: str) -> str:
    """The keyed hash (HMAC-SHA256) a suppressed customer is known by."""
    return hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed: rows per table, and the model versions that had read the
    customer's data (they keep what they learned until the next retrain replaces them)."""

    customer_hash: str
    counts: dict[str, int] = field(default_factory=dict)
    model_versions: tuple[str, ...] = ()

    @property
    def nothing_held(self) -> bool:
        return not any(self.counts.values())


def _holding_tables() -> list[tuple[Table, str]]:
    """Every table holding a customer's rows, children first, and the column that ties each
    to the customer: ``feedback_id``, ``follow_up_id`` or ``customer_id``."""
    out = []
    for table in reversed(metadata.sorted_tables):
        columns = table.c
        if "feedback_id" in columns and table is not feedback:
            out.append((table, "feedback_id"))
        elif "follow_up_id" in columns and table is not follow_ups:
            out.append((table, "follow_up_id"))
        elif "customer_id" in columns:
            out.append((table, "customer_id"))
    return out


def _rejects_naming(connection: Connection, customer_id: str) -> list[int]:
    """Rejected or held rows that name the customer in what was sent (a refused customer row
    has no ``customer_id`` of its own)."""
    candidates = connection.execute(
        select(rejects.c.reject_id, rejects.c.raw, rejects.c.normalized).where(
            func.cast(rejects.c.raw, type_=rejects.c.reason.type).contains(customer_id)
            | func.cast(rejects.c.normalized, type_=rejects.c.reason.type).contains(customer_id)
        )
    ).all()
    out = []
    for reject_id, raw, normalized in candidates:
        values = [*_values(raw), *_values(normalized)]
        if any(str(v).strip() == customer_id for v in values):
            out.append(int(reject_id))
    return out


def _values(document: Any) -> list[Any]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return [document]
    return list(document.values()) if isinstance(document, dict) else []


def erase_customer(
    store: Store, customer_id: str, *, actor: str, now: datetime, key: str | None = None
) -> Erasure:
    """Remove every row about ``customer_id`` in one transaction, add them to the suppression
    list, record the erasure (no personal data: a keyed hash, counts, model versions), then
    make the removed bytes unrecoverable (SQLite: deleted content overwritten, the file
    rebuilt and its write-ahead log emptied; PostgreSQL: the tables vacuumed). Idempotent: a
    second call removes nothing and says so."""
    with store.begin() as connection:
        if store.dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA secure_delete=ON")
        customer_hash = id_hash(privacy_key(connection, key, now=now), customer_id)
        versions = _model_versions(connection, customer_id)
        counts: dict[str, int] = {}
        own_feedback = select(feedback.c.feedback_id).where(feedback.c.customer_id == customer_id)
        own_follow_ups = select(follow_ups.c.follow_up_id).where(
            follow_ups.c.customer_id == customer_id
        )
        for table, column in _holding_tables():
            condition: ColumnElement[bool]
            if column == "feedback_id":
                condition = table.c.feedback_id.in_(own_feedback)
            elif column == "follow_up_id":
                condition = table.c.follow_up_id.in_(own_follow_ups)
            else:
                condition = table.c.customer_id == customer_id
            if table is customers:
                continue
            removed = connection.execute(delete(table).where(condition)).rowcount
            counts[table.name] = counts.get(table.name, 0) + int(removed or 0)
        named = _rejects_naming(connection, customer_id)
        if named:
            connection.execute(delete(rejects).where(rejects.c.reject_id.in_(named)))
            counts["rejects"] = counts.get("rejects", 0) + len(named)
        counts["customers"] = int(
            connection.execute(
                delete(customers).where(customers.c.customer_id == customer_id)
            ).rowcount
            or 0
        )
        # Audit rows about the customer (reads of their record) keep what happened, not who.
        connection.execute(
            update(audit_log).where(audit_log.c.target == customer_id).values(target=customer_hash)
        )
        counts = {name: n for name, n in sorted(counts.items()) if n}
        erasure = Erasure(customer_hash, counts, tuple(versions))
        already = connection.execute(
            select(suppressed_customers.c.id_hash).where(
                suppressed_customers.c.id_hash == customer_hash
            )
        ).scalar()
        if already is None:
            connection.execute(
                insert(suppressed_customers).values(
                    id_hash=customer_hash,
                    erased_at=now,
                    erased_by=actor[:100],
                    counts=counts,
                    model_versions=list(versions),
                )
            )
        record_action(
            connection,
            actor=actor,
            action=ERASED,
            target=customer_hash,
            at=now,
            detail={"counts": counts, "model_versions": list(versions), "nothing_held": not counts},
        )
        if store.dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA secure_delete=OFF")
    if not erasure.nothing_held:
        scrub(store, sorted(counts))
    return erasure


def _model_versions(connection: Connection, customer_id: str) -> list[str]:
    """The model versions that scored the customer or analysed their comments."""
    found: set[str] = set()
    for table in metadata.sorted_tables:
        if "model_version" not in table.c:
            continue
        if "customer_id" in table.c:
            where = table.c.customer_id == customer_id
        elif "feedback_id" in table.c:
            where = table.c.feedback_id.in_(
                select(feedback.c.feedback_id).where(feedback.c.customer_id == customer_id)
            )
        else:
            continue
        found |= {
            str(v) for v in connection.execute(select(table.c.model_version).where(where)).scalars()
        }
    return sorted(found)


def scrub(store: Store, table_names: list[str]) -> None:
    """Make deleted rows unrecoverable from the database files.

    SQLite: ``VACUUM`` rewrites the file (free pages left by earlier writes go with it), then
    the write-ahead log is checkpointed and truncated. PostgreSQL: ``VACUUM`` on the tables
    erased from (dead rows are removed; the space is reused, not zeroed: see the README)."""
    if store.dialect == "sqlite":
        assert store.writers is not None
        with store.writers.turn(), store.engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA secure_delete=ON")
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("PRAGMA secure_delete=OFF")
        return
    with store.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for name in table_names:
            autocommit.exec_driver_sql(f"VACUUM {metadata.tables[name].name}")


def suppressed(
    connection: Connection, ids: list[str], *, now: datetime, key: str | None = None
) -> set[str]:
    """Which of ``ids`` belong to customers erased on request."""
    if not ids:
        return set()
    listed = connection.execute(select(func.count()).select_from(suppressed_customers)).scalar()
    if not listed:
        return set()
    secret = privacy_key(connection, key, now=now)
    hashes = {id_hash(secret, i): i for i in ids}
    found = connection.execute(
        select(suppressed_customers.c.id_hash).where(
            suppressed_customers.c.id_hash.in_(list(hashes))
        )
    ).scalars()
    return {hashes[h] for h in found}


def allow_back(
    store: Store, customer_id: str, *, actor: str, now: datetime, key: str | None = None
) -> bool:
    """Take a customer who comes back on purpose off the suppression list (recorded);
    False when they were not on it."""
    with store.begin() as connection:
        customer_hash = id_hash(privacy_key(connection, key, now=now), customer_id)
        removed = connection.execute(
            delete(suppressed_customers).where(suppressed_customers.c.id_hash == customer_hash)
        ).rowcount
        if removed:
            record_action(
                connection, actor=actor, action=ALLOWED_BACK, target=customer_hash, at=now
            )
    return bool(removed)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _rows(connection: Connection, statement: Any) -> list[dict[str, Any]]:
    return [_plain(dict(row)) for row in connection.execute(statement).mappings()]


SUBJECT_FIELDS = {
    "customer": "the customer's record: signup date, churn date, monthly value, attributes",
    "feedback": "every comment, survey answer or message, as sent, with its channel and date",
    "analyses": "what cxml read in each comment: language, sentiment, intents (e.g. leave)",
    "themes": "the themes found in each comment, with where in the (redacted) text",
    "scores": "every churn-risk score: probability, band, revenue at risk, reasons, model",
    "follow_ups": "contacts the retention team recorded, and every change to them",
    "held_or_refused_rows": "rows of theirs an ingest held or refused, with why",
    "reads": "who read this customer's record, and when (the audit)",
}


def subject_record(store: Store, customer_id: str) -> dict[str, Any]:
    """Everything held about ``customer_id`` (a subject-access request), as one document a
    person can read: ``about`` explains each part. Raw text included: it is theirs."""
    with store.engine.connect() as connection:
        record: dict[str, Any] = {"customer_id": customer_id, "about": SUBJECT_FIELDS}
        found = _rows(connection, select(customers).where(customers.c.customer_id == customer_id))
        record["customer"] = found[0] if found else None
        own = select(feedback.c.feedback_id).where(feedback.c.customer_id == customer_id)
        record["feedback"] = _rows(
            connection,
            select(feedback)
            .where(feedback.c.customer_id == customer_id)
            .order_by(feedback.c.created_at),
        )
        tables = metadata.tables
        record["analyses"] = _rows(
            connection,
            select(tables["feedback_analysis"]).where(
                tables["feedback_analysis"].c.feedback_id.in_(own)
            ),
        )
        record["themes"] = _rows(
            connection,
            select(tables["feedback_themes"]).where(
                tables["feedback_themes"].c.feedback_id.in_(own)
            ),
        )
        record["scores"] = _rows(
            connection,
            select(tables["scores"])
            .where(tables["scores"].c.customer_id == customer_id)
            .order_by(tables["scores"].c.scored_at),
        )
        follow = _rows(
            connection, select(follow_ups).where(follow_ups.c.customer_id == customer_id)
        )
        events = tables["follow_up_events"]
        for item in follow:
            item["history"] = _rows(
                connection,
                select(events)
                .where(events.c.follow_up_id == item["follow_up_id"])
                .order_by(events.c.changed_at),
            )
        record["follow_ups"] = follow
        named = _rejects_naming(connection, customer_id)
        record["held_or_refused_rows"] = _rows(
            connection,
            select(rejects).where(
                rejects.c.customer_id == customer_id
                if not named
                else (rejects.c.customer_id == customer_id) | rejects.c.reject_id.in_(named)
            ),
        )
        record["reads"] = _rows(
            connection,
            select(audit_log.c.at, audit_log.c.actor, audit_log.c.action)
            .where(audit_log.c.target == customer_id)
            .order_by(audit_log.c.at),
        )
    return record


def expire_text(
    store: Store,
    days_by_channel: dict[str, int],
    *,
    now: datetime,
    rewrite: Callable[[str], str],
    batch: int = 5_000,
) -> dict[str, int]:
    """Replace the raw text of comments older than their channel's retention (days) by
    ``rewrite(text)`` — its redacted form, or nothing — marking when; analyses, themes and
    scores stay, so what was computed from them does not move (the text pipeline reads the
    redacted text anyway). A channel not in ``days_by_channel`` keeps its text. Returns how
    many comments per channel expired now; running it again expires nothing new."""
    done: dict[str, int] = {}
    for channel, days in sorted(days_by_channel.items()):
        cutoff = now - timedelta(days=int(days))
        expired = 0
        while True:
            with store.begin() as connection:
                if store.dialect == "sqlite":
                    connection.exec_driver_sql("PRAGMA secure_delete=ON")
                rows = connection.execute(
                    select(feedback.c.feedback_id, feedback.c.text)
                    .where(
                        (feedback.c.channel == channel)
                        & (feedback.c.created_at < cutoff)
                        & feedback.c.text_expired_at.is_(None)
                    )
                    .limit(batch)
                ).all()
                for feedback_id, text in rows:
                    kept = None if text is None else rewrite(text)
                    connection.execute(
                        update(feedback)
                        .where(feedback.c.feedback_id == feedback_id)
                        .values(text=kept, text_expired_at=now)
                    )
                if store.dialect == "sqlite":
                    connection.exec_driver_sql("PRAGMA secure_delete=OFF")
            expired += len(rows)
            if len(rows) < batch:
                break
        done[channel] = expired
    return done
