"""The store: one database for every channel; the only place that writes SQL.

SQLite by default, PostgreSQL by URL. Bulk writes go through a temporary staging
table filled with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL), then one
``INSERT … SELECT … ON CONFLICT`` statement, so a batch costs a few statements
whatever its size.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import OperationalError

from cxml.errors import NotFoundError, StoreError
from cxml.settings import Settings
from cxml.store import tables
from cxml.store.tables import (
    customers,
    feedback,
    feedback_analysis,
    feedback_themes,
    ingest_runs,
    rejects,
    scores,
)

__all__ = ["Store", "tables"]

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
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET work_mem TO '128MB'")
    dbapi_connection.commit()


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


class Store:
    """A handle on the database; cheap to create, holds a connection pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, settings: Settings | str, *, migrate: bool = True) -> Store:
        """Connect to the database of ``settings`` (or a URL) and bring its schema to head."""
        url = settings.resolved_database_url() if isinstance(settings, Settings) else settings
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
            # Metric queries sort and group a million rows: let PostgreSQL do it in memory.
            event.listen(engine, "connect", _postgres_session)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Apply the Alembic migrations up to head (a no-op when already there)."""
        from alembic import command

        try:
            with self.engine.begin() as connection:
                command.upgrade(_alembic_config(connection), "head")
        except OperationalError as exc:
            raise StoreError(
                f"cannot reach the store at {self.engine.url.render_as_string(hide_password=True)}: "
                f"{exc.orig}"
            ) from exc

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or None for an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # --- staging --------------------------------------------------------------------

    def _stage(
        self,
        connection: Connection,
        name: str,
        columns: Sequence[tuple[str, str]],
        frame: pd.DataFrame,
    ) -> None:
        """Create the temporary table ``name`` and bulk-load ``frame`` into it."""
        column_sql = ", ".join(f"{c} {t}" for c, t in columns)
        names = [c for c, _ in columns]
        if self.dialect == "postgresql":
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            connection.exec_driver_sql(f"CREATE TEMP TABLE {name} ({column_sql}) ON COMMIT DROP")
            if frame.empty:
                return
            buffer = io.StringIO()
            frame[names].to_csv(buffer, header=False, index=False, na_rep="")
            raw = connection.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY {name} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)"
                ) as copy,
            ):
                copy.write(buffer.getvalue())
        else:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
            connection.exec_driver_sql(f"CREATE TEMP TABLE {name} ({column_sql})")
            if frame.empty:
                return
            values = frame[names].astype(object)
            values = values.where(values.notna(), None)
            placeholders = ", ".join("?" for _ in names)
            connection.exec_driver_sql(
                f"INSERT INTO temp.{name} ({', '.join(names)}) VALUES ({placeholders})",
                list(values.itertuples(index=False, name=None)),
            )

    def _drop_stage(self, connection: Connection, name: str) -> None:
        if self.dialect == "sqlite":
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
        else:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")

    def _timestamp_text(self, values: pd.Series) -> pd.Series:
        """Timestamps as the text each database loads fastest (SQLite: SQLAlchemy's own format)."""
        out = values.dt.strftime(_SQLITE_DATETIME)
        return out.astype(object).where(values.notna(), None)

    def _date_text(self, values: pd.Series) -> pd.Series:
        out = values.dt.strftime("%Y-%m-%d")
        return out.astype(object).where(values.notna(), None)

    # --- feedback ------------------------------------------------------------------

    def write_feedback(
        self,
        connection: Connection,
        frame: pd.DataFrame,
        *,
        source: str,
        now: datetime,
        only_new: bool = False,
    ) -> tuple[set[str], dict[str, int]]:
        """Upsert validated feedback rows (with ``content_hash``) in one transaction.

        Returns (customer ids not in the store, {feedback_id: stored hash} for ids that
        existed before). Rows of unknown customers and rows whose hash is unchanged are
        not written; the caller classifies from the returned facts. With ``only_new``
        rows whose id is stored already are not written either.
        """
        stage = frame.copy()
        stage["created_at"] = self._timestamp_text(stage["created_at"])
        self._stage(connection, "stage_feedback", FEEDBACK_STAGE_COLUMNS, stage)
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
        statement = text(
            f"INSERT INTO feedback ({', '.join(names)}, source, ingested_at, updated_at) "
            f"SELECT {', '.join(names)}, :source, :now, :now FROM stage_feedback WHERE true "
            f"ON CONFLICT (feedback_id) DO UPDATE SET {updates}"
        ).bindparams(bindparam("now", type_=DateTime()))
        connection.execute(statement, {"source": source, "now": now})
        self._drop_stage(connection, "stage_feedback")
        return unknown, existing

    # --- customers -----------------------------------------------------------------

    def existing_customers(self, connection: Connection, ids: Sequence[str]) -> pd.DataFrame:
        """The stored rows of the customers in ``ids`` (those that exist)."""
        self._stage(
            connection, "stage_ids", (("customer_id", "TEXT"),), pd.DataFrame({"customer_id": ids})
        )
        query = text(
            "SELECT c.customer_id, c.signup_date, c.churn_date, c.monthly_value, c.attributes, "
            "c.content_hash FROM customers c JOIN stage_ids s ON s.customer_id = c.customer_id"
        )
        rows = connection.execute(query).all()
        self._drop_stage(connection, "stage_ids")
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
        frame["attributes"] = [
            a if isinstance(a, dict) else json.loads(a) for a in frame["attributes"]
        ]
        for column in ("signup_date", "churn_date"):
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
        return frame

    def write_customers(
        self, connection: Connection, frame: pd.DataFrame, *, source: str, now: datetime
    ) -> None:
        """Upsert complete customer rows (already merged with what was stored)."""
        stage = frame.copy()
        stage["signup_date"] = self._date_text(stage["signup_date"])
        stage["churn_date"] = self._date_text(stage["churn_date"])
        stage["attributes"] = [
            json.dumps(a, ensure_ascii=False, allow_nan=False, default=str)
            for a in stage["attributes"]
        ]
        self._stage(connection, "stage_customers", CUSTOMER_STAGE_COLUMNS, stage)
        names = [c for c, _ in CUSTOMER_STAGE_COLUMNS]
        selected = [
            "CAST(attributes AS JSONB)" if c == "attributes" and self.dialect == "postgresql" else c
            for c in names
        ]
        updates = ", ".join(f"{c} = excluded.{c}" for c in [*names[1:], "source", "updated_at"])
        statement = text(
            f"INSERT INTO customers ({', '.join(names)}, source, created_at, updated_at) "
            f"SELECT {', '.join(selected)}, :source, :now, :now FROM stage_customers WHERE true "
            f"ON CONFLICT (customer_id) DO UPDATE SET {updates}"
        ).bindparams(bindparam("now", type_=DateTime()))
        connection.execute(statement, {"source": source, "now": now})
        self._drop_stage(connection, "stage_customers")

    # --- runs and rejects ----------------------------------------------------------

    def start_run(self, kind: str, source: str, now: datetime) -> int:
        """Record the start of an ingestion run; returns its id."""
        with self.begin() as connection:
            result = connection.execute(
                insert(ingest_runs)
                .values(kind=kind, source=source, status="running", started_at=now)
                .returning(ingest_runs.c.run_id)
            )
            return int(result.scalar_one())

    def finish_run(
        self, run_id: int, *, status: str, counts: dict[str, Any], now: datetime
    ) -> None:
        """Record how a run ended, with its counts."""
        with self.begin() as connection:
            connection.execute(
                update(ingest_runs)
                .where(ingest_runs.c.run_id == run_id)
                .values(status=status, finished_at=now, counts=counts)
            )

    def clear_rejects(self, kind: str, source: str) -> int:
        """Forget the rejects of an earlier run over the same file (this run re-checks it)."""
        with self.begin() as connection:
            result = connection.execute(
                rejects.delete().where(rejects.c.kind == kind, rejects.c.source == source)
            )
            return int(result.rowcount or 0)

    def write_rejects(self, connection: Connection, records: list[dict[str, Any]]) -> None:
        """Insert reject records (dicts with the rejects table's columns)."""
        if records:
            connection.execute(insert(rejects), records)

    def held_feedback(self, connection: Connection) -> list[tuple[int, dict[str, Any], str]]:
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

    def delete_rejects(self, connection: Connection, reject_ids: Sequence[int]) -> None:
        """Remove rejects that have been resolved."""
        for start in range(0, len(reject_ids), 10_000):
            part = list(reject_ids[start : start + 10_000])
            connection.execute(rejects.delete().where(rejects.c.reject_id.in_(part)))

    def rejects_frame(self, kind: str | None = None, source: str | None = None) -> pd.DataFrame:
        """The rejects table as a frame, optionally for one kind and source."""
        query = select(rejects).order_by(rejects.c.reject_id)
        if kind:
            query = query.where(rejects.c.kind == kind)
        if source:
            query = query.where(rejects.c.source == source)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in rejects.columns])

    def runs_frame(self) -> pd.DataFrame:
        """Every ingestion run, newest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(ingest_runs).order_by(ingest_runs.c.run_id.desc()))
            return pd.DataFrame([dict(r._mapping) for r in rows])

    # --- reading ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts of customers and feedback, by channel and by language, and of rejects."""
        with self.engine.connect() as connection:
            n_customers = connection.execute(
                select(func.count()).select_from(customers)
            ).scalar_one()
            churned = connection.execute(
                select(func.count())
                .select_from(customers)
                .where(customers.c.churn_date.is_not(None))
            ).scalar_one()
            n_feedback = connection.execute(select(func.count()).select_from(feedback)).scalar_one()
            by_channel: dict[str, int] = dict(
                connection.execute(
                    select(feedback.c.channel, func.count())
                    .group_by(feedback.c.channel)
                    .order_by(feedback.c.channel)
                ).all()
            )
            language = func.coalesce(feedback.c.language, "unknown")
            by_language: dict[str, int] = dict(
                connection.execute(
                    select(language, func.count()).group_by(language).order_by(language)
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
            "feedback_by_channel": {k: int(v) for k, v in by_channel.items()},
            "feedback_by_language": {k: int(v) for k, v in by_language.items()},
            "feedback_first": _iso(first),
            "feedback_last": _iso(last),
            "rejects": int(n_rejects),
            "rejects_held": int(n_held),
        }

    def customer(self, customer_id: str) -> dict[str, Any]:
        """One customer's stored row; NotFoundError when absent."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(customers).where(customers.c.customer_id == customer_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError("customer", customer_id)
        out = dict(row)
        out.pop("content_hash", None)
        return out

    def timeline(self, customer_id: str) -> pd.DataFrame:
        """Every feedback of one customer, across channels, oldest first."""
        self.customer(customer_id)
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
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
        for column in ("channel_original", "language", "text"):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        for score in ("nps", "csat", "ces"):
            frame[score] = frame[score].astype("Int16")
        return frame

    def feedback_frame(
        self,
        *,
        with_text: bool = False,
        customer_ids: Sequence[str] | None = None,
        feedback_ids: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Feedback rows (no bookkeeping columns), oldest first; only those with text if asked,
        only these customers' if ``customer_ids`` is given."""
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
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in columns])
        for score in ("nps", "csat", "ces"):
            frame[score] = frame[score].astype("Int16")
        return frame

    # --- text analysis ---------------------------------------------------------------

    def unanalysed_feedback(self, model_version: str, *, everything: bool = False) -> pd.DataFrame:
        """Feedback with text not yet analysed by ``model_version`` (all of it with ``everything``)."""
        query = (
            select(feedback.c.feedback_id, feedback.c.text, feedback.c.language)
            .select_from(
                feedback.outerjoin(
                    feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
                )
            )
            .where(feedback.c.text.is_not(None))
            .order_by(feedback.c.feedback_id)
        )
        if not everything:
            query = query.where(
                (feedback_analysis.c.model_version.is_(None))
                | (feedback_analysis.c.model_version != model_version)
            )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame(rows, columns=["feedback_id", "text", "language"])
        frame["language"] = frame["language"].astype(object).where(frame["language"].notna(), None)
        return frame

    def write_analysis(self, analysis: pd.DataFrame, themes: pd.DataFrame) -> None:
        """Replace the stored analysis of the feedback in ``analysis`` (one transaction)."""
        with self.begin() as connection:
            self._stage(
                connection,
                "stage_ids",
                (("feedback_id", "TEXT"),),
                analysis[["feedback_id"]],
            )
            for table in (feedback_themes, feedback_analysis):
                connection.execute(
                    table.delete().where(
                        table.c.feedback_id.in_(
                            select(text("feedback_id")).select_from(text("stage_ids"))
                        )
                    )
                )
            self._drop_stage(connection, "stage_ids")
            for table, frame in ((feedback_analysis, analysis), (feedback_themes, themes)):
                if frame.empty:
                    continue
                records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
                connection.execute(insert(table), records)

    def analysis_frame(self) -> pd.DataFrame:
        """Every stored analysis row (for tests and exports)."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(feedback_analysis)).mappings().all()
        return pd.DataFrame(
            [dict(r) for r in rows], columns=[c.name for c in feedback_analysis.columns]
        )

    def churn_inputs(self, customer_ids: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """What customer features are computed from: customers, feedback, analysis, themes
        (everyone's, or only these customers')."""
        people_query = select(
            customers.c.customer_id,
            customers.c.signup_date,
            customers.c.churn_date,
            customers.c.monthly_value,
            customers.c.attributes,
        ).order_by(customers.c.customer_id)
        analysis_query = select(
            feedback_analysis.c.feedback_id,
            feedback_analysis.c.sentiment_score,
            feedback_analysis.c.intents,
        )
        themes_query = select(
            feedback_themes.c.feedback_id,
            feedback_themes.c.theme_id,
            feedback_themes.c.sentiment_score,
            feedback_themes.c.theme_label,
        )
        if customer_ids is not None:
            ids = list(customer_ids)
            people_query = people_query.where(customers.c.customer_id.in_(ids))
            theirs = select(feedback.c.feedback_id).where(feedback.c.customer_id.in_(ids))
            analysis_query = analysis_query.where(feedback_analysis.c.feedback_id.in_(theirs))
            themes_query = themes_query.where(feedback_themes.c.feedback_id.in_(theirs))
        with self.engine.connect() as connection:
            people = pd.DataFrame(
                connection.execute(people_query).all(),
                columns=["customer_id", "signup_date", "churn_date", "monthly_value", "attributes"],
            )
            analysis = pd.DataFrame(
                connection.execute(analysis_query).all(),
                columns=["feedback_id", "sentiment_score", "intents"],
            )
            themes = pd.DataFrame(
                connection.execute(themes_query).all(),
                columns=["feedback_id", "theme_id", "sentiment_score", "theme_label"],
            )
        people["attributes"] = [
            a if isinstance(a, dict) else json.loads(a) for a in people["attributes"]
        ]
        analysis["intents"] = [
            i if isinstance(i, list) else json.loads(i) for i in analysis["intents"]
        ]
        for column in ("signup_date", "churn_date"):
            people[column] = pd.to_datetime(people[column])
        return {
            "customers": people,
            "feedback": self.feedback_frame(customer_ids=customer_ids),
            "analysis": analysis,
            "themes": themes,
        }

    def write_scores(self, frame: pd.DataFrame) -> None:
        """Replace the scores of these customers for this as-of date and model version."""
        if frame.empty:
            return
        with self.begin() as connection:
            keys = frame[["as_of", "model_version"]].drop_duplicates()
            for as_of, version in keys.itertuples(index=False):
                connection.execute(
                    scores.delete().where(
                        scores.c.as_of == as_of, scores.c.model_version == version
                    )
                )
            records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            connection.execute(insert(scores), records)

    def top_scores(self, as_of: Any, limit: int = 10) -> pd.DataFrame:
        """The highest churn probabilities stored for ``as_of`` (any model version), highest first."""
        query = (
            select(scores)
            .where(scores.c.as_of == as_of)
            .order_by(scores.c.probability.desc(), scores.c.customer_id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in scores.columns])

    def table_frame(self, name: str) -> pd.DataFrame:
        """A whole table as a frame (for tests and small exports), sorted by its key."""
        table = tables.metadata.tables[name]
        key = list(table.primary_key.columns)
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(*key)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in table.columns])


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return pd.Timestamp(value).isoformat()


def content_hash(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A 64-bit hash per row of ``columns`` (as signed int64, to fit BIGINT).

    Each column is brought to one canonical dtype first (text as Python strings,
    numbers as float64, times as int64 microseconds), so the same content hashes
    the same whichever reader or path produced it.
    """
    canonical: dict[str, Any] = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            micros = values.astype("datetime64[us]").to_numpy().view(np.int64)
            canonical[column] = np.where(values.isna().to_numpy(), np.iinfo(np.int64).min, micros)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            canonical[column] = values.astype("float64").to_numpy(na_value=np.nan)
        else:
            text = values.to_numpy(dtype=object, na_value=None)
            text = np.where(pd.isna(text), "\x00<null>", text).astype(object)
            if pd.api.types.infer_dtype(text, skipna=False) != "string":
                text = np.array([str(v) for v in text], dtype=object)
            canonical[column] = text
    hashed = pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False).to_numpy()
    return hashed.view(np.int64)
