"""Customers, feedback, ingestion runs and rejects: what ingestion writes and the store reads back.

Writers take an open transaction (the caller's batch); readers open their own connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, DateTime, bindparam, case, func, insert, select, text, update

from cxml.contract import ANONYMOUS_PREFIX
from cxml.errors import NotFoundError
from cxml.store.database import Store, date_text, drop_stage, iso, stage, timestamp_text
from cxml.store.tables import customers, feedback, feedback_analysis, ingest_runs, rejects

FEEDBACK_STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("feedback_id", "TEXT"),
    ("customer_id", "TEXT"),
    ("created_at", "TIMESTAMP"),
    ("channel", "TEXT"),
    ("channel_original", "TEXT"),
    ("text", "TEXT"),
    ("nps", "SMALLINT"),
    ("csat", "SMALLINT"),
    ("ces", "SMALLINT"),
    ("language", "TEXT"),
    ("attributes", "TEXT"),
    ("content_hash", "BIGINT"),
)
CUSTOMER_STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "TEXT"),
    ("signup_date", "DATE"),
    ("churn_date", "DATE"),
    ("monthly_value", "DOUBLE PRECISION"),
    ("attributes", "TEXT"),
    ("content_hash", "BIGINT"),
)


# --- feedback --------------------------------------------------------------------------------


def attributes_text(values: pd.Series | None, length: int) -> list[str | None]:
    """Feedback attributes as JSON text for staging; None where a row has none."""
    if values is None:
        return [None] * length
    return [
        json.dumps(a, ensure_ascii=False, allow_nan=False, default=str)
        if isinstance(a, dict) and a
        else None
        for a in values
    ]


def write_feedback(
    connection: Connection,
    frame: pd.DataFrame,
    *,
    source: str,
    now: datetime,
    only_new: bool = False,
) -> tuple[set[str], dict[str, int]]:
    """Upsert validated feedback rows (with ``content_hash``) in the caller's transaction.

    Returns (customer ids not in the store, {feedback_id: stored hash} for ids that
    existed before). Rows of unknown customers and rows whose hash is unchanged are
    not written; the caller classifies from the returned facts. With ``only_new``
    rows whose id is stored already are not written either.
    """
    staged = frame.copy()
    staged["created_at"] = timestamp_text(staged["created_at"])
    staged["attributes"] = attributes_text(staged.get("attributes"), len(staged))
    stage(connection, "stage_feedback", FEEDBACK_STAGE_COLUMNS, staged)
    unknown = {
        row[0]
        for row in connection.exec_driver_sql(
            "SELECT DISTINCT s.customer_id FROM stage_feedback s "
            "WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = s.customer_id)"
        )
    }
    existing = {
        row[0]: int(row[1])
        for row in connection.exec_driver_sql(
            "SELECT s.feedback_id, f.content_hash FROM stage_feedback s "
            "JOIN feedback f ON f.feedback_id = s.feedback_id"
        )
    }
    if unknown:
        connection.exec_driver_sql(
            "DELETE FROM stage_feedback WHERE NOT EXISTS "
            "(SELECT 1 FROM customers c WHERE c.customer_id = stage_feedback.customer_id)"
        )
    if existing:
        same = "" if only_new else " AND f.content_hash = stage_feedback.content_hash"
        connection.exec_driver_sql(
            "DELETE FROM stage_feedback WHERE EXISTS (SELECT 1 FROM feedback f "
            f"WHERE f.feedback_id = stage_feedback.feedback_id{same})"
        )
    names = [c for c, _ in FEEDBACK_STAGE_COLUMNS]
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*names[1:], "source", "updated_at"])
    postgres = connection.dialect.name == "postgresql"
    selected = ["CAST(attributes AS JSONB)" if c == "attributes" and postgres else c for c in names]
    # PostgreSQL lets another ingest insert the same ids between the read above and this write
    # (SQLite has one writer at a time): the upsert itself then says what happened — a row it
    # inserted, one it changed, or (not returned) one already stored with the same content.
    returning = (
        " WHERE feedback.content_hash IS DISTINCT FROM excluded.content_hash "
        "RETURNING feedback.feedback_id, (xmax = 0) AS inserted"
        if postgres
        else ""
    )
    statement = text(
        f"INSERT INTO feedback ({', '.join(names)}, source, ingested_at, updated_at) "
        f"SELECT {', '.join(selected)}, :source, :now, :now FROM stage_feedback WHERE true "
        f"ON CONFLICT (feedback_id) DO UPDATE SET {updates}{returning}"
    ).bindparams(bindparam("now", type_=DateTime()))
    done = connection.execute(statement, {"source": source, "now": now})
    if postgres:
        written = {str(row[0]): bool(row[1]) for row in done}
        hashes = dict(zip(frame["feedback_id"].astype(str), frame["content_hash"], strict=True))
        for feedback_id, customer_id in zip(
            frame["feedback_id"].astype(str), frame["customer_id"], strict=True
        ):
            if customer_id in unknown or feedback_id in existing:
                continue
            if feedback_id not in written:  # stored meanwhile, same content
                existing[feedback_id] = int(hashes[feedback_id])
            elif not written[feedback_id]:  # stored meanwhile, and changed by this batch
                existing[feedback_id] = int(hashes[feedback_id]) ^ 1
    drop_stage(connection, "stage_feedback")
    return unknown, existing


def feedback_frame(
    store: Store,
    *,
    with_text: bool = False,
    customer_ids: Sequence[str] | None = None,
    feedback_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Feedback rows (no bookkeeping columns), oldest first; only those with text if asked,
    only these customers' or these ids if given."""
    columns = [
        feedback.c.feedback_id,
        feedback.c.customer_id,
        feedback.c.created_at,
        feedback.c.channel,
        feedback.c.text,
        feedback.c.nps,
        feedback.c.csat,
        feedback.c.ces,
        feedback.c.language,
    ]
    query = select(*columns).order_by(feedback.c.created_at, feedback.c.feedback_id)
    if with_text:
        query = query.where(feedback.c.text.is_not(None))
    if customer_ids is not None:
        query = query.where(feedback.c.customer_id.in_(list(customer_ids)))
    if feedback_ids is not None:
        query = query.where(feedback.c.feedback_id.in_(list(feedback_ids)))
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in columns])
    for score in ("nps", "csat", "ces"):
        frame[score] = frame[score].astype("Int16")
    return frame


# --- customers -------------------------------------------------------------------------------


def existing_customers(connection: Connection, ids: Sequence[str]) -> pd.DataFrame:
    """The stored rows of the customers in ``ids`` (those that exist)."""
    if len(ids) <= 500:  # a request's few: bound in one IN list, no staging table
        rows = connection.execute(
            select(
                customers.c.customer_id,
                customers.c.signup_date,
                customers.c.churn_date,
                customers.c.monthly_value,
                customers.c.attributes,
                customers.c.content_hash,
            ).where(customers.c.customer_id.in_(list(ids)))
        ).all()
    else:
        stage(
            connection, "stage_ids", (("customer_id", "TEXT"),), pd.DataFrame({"customer_id": ids})
        )
        query = text(
            "SELECT c.customer_id, c.signup_date, c.churn_date, c.monthly_value, c.attributes, "
            "c.content_hash FROM customers c JOIN stage_ids s ON s.customer_id = c.customer_id"
        )
        rows = connection.execute(query).all()
        drop_stage(connection, "stage_ids")
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "signup_date",
            "churn_date",
            "monthly_value",
            "attributes",
            "content_hash",
        ],
    )
    frame["attributes"] = [a if isinstance(a, dict) else json.loads(a) for a in frame["attributes"]]
    for column in ("signup_date", "churn_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


def write_customers(
    connection: Connection, frame: pd.DataFrame, *, source: str, now: datetime
) -> None:
    """Upsert complete customer rows (already merged with what was stored)."""
    staged = frame.copy()
    staged["signup_date"] = date_text(staged["signup_date"])
    staged["churn_date"] = date_text(staged["churn_date"])
    staged["attributes"] = [
        json.dumps(a, ensure_ascii=False, allow_nan=False, default=str)
        for a in staged["attributes"]
    ]
    stage(connection, "stage_customers", CUSTOMER_STAGE_COLUMNS, staged)
    names = [c for c, _ in CUSTOMER_STAGE_COLUMNS]
    postgres = connection.dialect.name == "postgresql"
    selected = ["CAST(attributes AS JSONB)" if c == "attributes" and postgres else c for c in names]
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*names[1:], "source", "updated_at"])
    statement = text(
        f"INSERT INTO customers ({', '.join(names)}, source, created_at, updated_at) "
        f"SELECT {', '.join(selected)}, :source, :now, :now FROM stage_customers WHERE true "
        f"ON CONFLICT (customer_id) DO UPDATE SET {updates}"
    ).bindparams(bindparam("now", type_=DateTime()))
    connection.execute(statement, {"source": source, "now": now})
    drop_stage(connection, "stage_customers")


def customer(store: Store, customer_id: str) -> dict[str, Any]:
    """One customer's stored row (attributes as a dict); NotFoundError when absent."""
    with store.engine.connect() as connection:
        row = (
            connection.execute(select(customers).where(customers.c.customer_id == customer_id))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError("customer", customer_id)
    out = dict(row)
    out.pop("content_hash", None)
    if isinstance(out["attributes"], str):
        out["attributes"] = json.loads(out["attributes"])
    return out


def timeline(store: Store, customer_id: str) -> pd.DataFrame:
    """Every feedback of one customer, across channels, oldest first (raw text)."""
    customer(store, customer_id)
    query = (
        select(
            feedback.c.created_at,
            feedback.c.channel,
            feedback.c.channel_original,
            feedback.c.feedback_id,
            feedback.c.nps,
            feedback.c.csat,
            feedback.c.ces,
            feedback.c.language,
            feedback.c.text,
        )
        .where(feedback.c.customer_id == customer_id)
        .order_by(feedback.c.created_at, feedback.c.feedback_id)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
    for column in ("channel_original", "language", "text"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    for score in ("nps", "csat", "ces"):
        frame[score] = frame[score].astype("Int16")
    return frame


def stats(store: Store) -> dict[str, Any]:
    """Counts of customers and feedback, by channel and by language, and of rejects.

    Customers are those with a known id: anonymous survey respondents (``--anonymous``) are
    counted apart, as ``anonymous_responses``. A comment's language is the one its analysis
    found (``cxml analyze --store``), else the one its file gave, else ``unknown``.
    """
    anonymous = customers.c.customer_id.startswith(ANONYMOUS_PREFIX, autoescape=True)
    with store.engine.connect() as connection:
        n_customers, churned = connection.execute(
            select(func.count(), func.count(customers.c.churn_date))
            .select_from(customers)
            .where(~anonymous)
        ).one()
        n_feedback = connection.execute(select(func.count()).select_from(feedback)).scalar_one()
        n_anonymous = connection.execute(
            select(func.count())
            .select_from(feedback)
            .where(feedback.c.customer_id.startswith(ANONYMOUS_PREFIX, autoescape=True))
        ).scalar_one()
        by_channel: dict[str, int] = dict(
            connection.execute(
                select(feedback.c.channel, func.count())
                .group_by(feedback.c.channel)
                .order_by(feedback.c.channel)
            ).all()
        )
        language = func.coalesce(feedback_analysis.c.language, feedback.c.language, "unknown")
        by_language: dict[str, int] = dict(
            connection.execute(
                select(language, func.count())
                .select_from(
                    feedback.outerjoin(
                        feedback_analysis,
                        feedback_analysis.c.feedback_id == feedback.c.feedback_id,
                    )
                )
                .group_by(language)
                .order_by(language)
            ).all()
        )
        first, last = connection.execute(
            select(func.min(feedback.c.created_at), func.max(feedback.c.created_at))
        ).one()
        n_rejects, n_held = connection.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((rejects.c.held.is_(True), 1), else_=0)), 0),
            ).select_from(rejects)
        ).one()
        with_text = connection.execute(
            select(func.count()).select_from(feedback).where(feedback.c.text.is_not(None))
        ).scalar_one()
    return {
        "customers": int(n_customers),
        "customers_active": int(n_customers - churned),
        "customers_churned": int(churned),
        "feedback": int(n_feedback),
        "feedback_with_text": int(with_text),
        "anonymous_responses": int(n_anonymous),
        "feedback_by_channel": {k: int(v) for k, v in by_channel.items()},
        "feedback_by_language": {k: int(v) for k, v in by_language.items()},
        "feedback_first": iso(first),
        "feedback_last": iso(last),
        "rejects": int(n_rejects),
        "rejects_held": int(n_held),
    }


# --- runs and rejects --------------------------------------------------------------------------


def start_run(
    store: Store, kind: str, source: str, now: datetime, *, connection: Connection | None = None
) -> int:
    """Record the start of an ingestion run (in ``connection``'s transaction when given);
    returns its id."""
    with store.joined(connection) as connection:
        result = connection.execute(
            insert(ingest_runs)
            .values(kind=kind, source=source, status="running", started_at=now)
            .returning(ingest_runs.c.run_id)
        )
        return int(result.scalar_one())


def finish_run(
    store: Store,
    run_id: int,
    *,
    status: str,
    counts: dict[str, Any],
    now: datetime,
    connection: Connection | None = None,
) -> None:
    """Record how a run ended, with its counts."""
    with store.joined(connection) as connection:
        connection.execute(
            update(ingest_runs)
            .where(ingest_runs.c.run_id == run_id)
            .values(status=status, finished_at=now, counts=counts)
        )


def clear_rejects(
    store: Store, kind: str, source: str, *, connection: Connection | None = None
) -> int:
    """Forget the rejects of an earlier run over the same file (this run re-checks it)."""
    with store.joined(connection) as connection:
        result = connection.execute(
            rejects.delete().where(rejects.c.kind == kind, rejects.c.source == source)
        )
        return int(result.rowcount or 0)


def write_rejects(connection: Connection, records: list[dict[str, Any]]) -> None:
    """Insert reject records (dicts with the rejects table's columns)."""
    if records:
        connection.execute(insert(rejects), records)


def held_feedback(connection: Connection) -> list[tuple[int, dict[str, Any], str]]:
    """Held feedback whose customer is now in the store: (reject_id, normalised row, source)."""
    query = (
        select(rejects.c.reject_id, rejects.c.normalized, rejects.c.source)
        .where(rejects.c.held.is_(True))
        .where(
            select(customers.c.customer_id)
            .where(customers.c.customer_id == rejects.c.customer_id)
            .exists()
        )
        .order_by(rejects.c.reject_id)
    )
    return [(int(r[0]), r[1], r[2]) for r in connection.execute(query)]


def delete_rejects(connection: Connection, reject_ids: Sequence[int]) -> None:
    """Remove rejects that have been resolved."""
    for start in range(0, len(reject_ids), 10_000):
        part = list(reject_ids[start : start + 10_000])
        connection.execute(rejects.delete().where(rejects.c.reject_id.in_(part)))


def rejects_frame(store: Store, kind: str | None = None, source: str | None = None) -> pd.DataFrame:
    """The rejects table as a frame, optionally for one kind and source."""
    query = select(rejects).order_by(rejects.c.reject_id)
    if kind:
        query = query.where(rejects.c.kind == kind)
    if source:
        query = query.where(rejects.c.source == source)
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in rejects.columns])


def runs_frame(store: Store) -> pd.DataFrame:
    """Every ingestion run, newest first."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(ingest_runs).order_by(ingest_runs.c.run_id.desc()))
        return pd.DataFrame([dict(r._mapping) for r in rows])
