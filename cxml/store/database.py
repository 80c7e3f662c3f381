"""The database handle: connecting, migrating, transactions and the bulk staging every writer uses.

SQLite by default, PostgreSQL by URL. Bulk writes go through a temporary staging table filled
with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL), then one ``INSERT … SELECT … ON
CONFLICT`` statement, so a batch costs a few statements whatever its size.
"""

from __future__ import annotations

import fcntl
import io
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError

from cxml.errors import StoreError
from cxml.settings import Settings
from cxml.store import tables

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_SQLITE_TIMEOUT = 30.0  # seconds a writer waits for SQLite's write lock
_MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(_SQLITE_TIMEOUT * 1000)}")
    cursor.close()


class _Writers:
    """The queue of one SQLite file's writers, in front of ``BEGIN IMMEDIATE``.

    SQLite lets one writer at a time in, and one kept waiting sleeps in its busy handler for
    1, 2, 5, 10 … 100 ms between tries: under load a waiter wakes long after the lock is free,
    and the other workers' writers take it meanwhile. Here the threads of one process queue
    on a lock, which wakes the next at once, and one of them at a time asks the other
    processes for a lock file beside the database (``flock``), retried every half
    millisecond. Past the busy timeout the writer goes on to SQLite's own wait and its error.
    """

    _POLL_SECONDS = 0.0005

    def __init__(self, database: str | None, timeout: float) -> None:
        self.threads = threading.Lock()
        self.timeout = timeout
        self.fd: int | None = None
        if database and database != ":memory:" and not database.startswith("file:"):
            with suppress(OSError):  # a folder we may not write to: SQLite's wait alone
                self.fd = os.open(f"{database}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def turn(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self.threads.acquire(timeout=self.timeout):
            yield  # waited long enough: SQLite's own wait decides
            return
        try:
            fd = self.fd
            locked = fd is not None and self._lock_file(fd, deadline)
            try:
                yield
            finally:
                if locked and fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()

    def _lock_file(self, fd: int, deadline: float) -> bool:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(self._POLL_SECONDS)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


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
    """A handle on the database; cheap to create, holds a connection pool.

    What is read and written lives in the modules named for it: ``records`` (customers,
    feedback, rejects), ``analysis``, ``history`` (point-in-time reads), ``scores``,
    ``keys``, ``followups``, ``metrics``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writers = (
            _Writers(engine.url.database, _SQLITE_TIMEOUT) if self.dialect == "sqlite" else None
        )

    @classmethod
    def open(cls, settings: Settings | str, *, migrate: bool = True) -> Store:
        """Connect to the database of ``settings`` (or a URL) and bring its schema to head."""
        url = settings.resolved_database_url() if isinstance(settings, Settings) else settings
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": _SQLITE_TIMEOUT})
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

    @property
    def url(self) -> str:
        """The database URL without its password (for messages)."""
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Apply the Alembic migrations up to head (a no-op when already there)."""
        from alembic import command

        try:
            with self.engine.begin() as connection:
                command.upgrade(_alembic_config(connection), "head")
        except OperationalError as exc:
            raise StoreError(
                f"cannot reach the store at {self.url}: {exc.orig}; check the database runs "
                "and CXML_DATABASE_URL (or --database-url) points at it",
                value=self.url,
            ) from exc

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or None for an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises.

        On SQLite it takes the write lock at once (``BEGIN IMMEDIATE``, waiting up to the busy
        timeout): a transaction that first reads and then writes would otherwise fail at its
        first write when another writer committed in between ("database is locked"), after
        waiting its turn among cxml's writers (``_Writers``)."""
        if self.writers is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with self.writers.turn(), self.engine.begin() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    @contextmanager
    def joined(self, connection: Connection | None) -> Iterator[Connection]:
        """The caller's transaction when given one (committed or rolled back by the caller),
        else a new one (``begin``)."""
        if connection is not None:
            yield connection
        else:
            with self.begin() as connection:
                yield connection

    def close(self) -> None:
        """Release the connection pool (and, on SQLite, the writers' lock file)."""
        self.engine.dispose()
        if self.writers is not None:
            self.writers.close()

    def table_frame(self, name: str) -> pd.DataFrame:
        """A whole table as a frame (for tests and small exports), sorted by its key."""
        table = tables.metadata.tables[name]
        key = list(table.primary_key.columns)
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(*key)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in table.columns])


# --- staging ------------------------------------------------------------------------------


def stage(
    connection: Connection,
    name: str,
    columns: Sequence[tuple[str, str]],
    frame: pd.DataFrame,
) -> None:
    """Create the temporary table ``name`` (columns: (name, SQL type)) and bulk-load ``frame``."""
    column_sql = ", ".join(f"{c} {t}" for c, t in columns)
    names = [c for c, _ in columns]
    if connection.dialect.name == "postgresql":
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
            cursor.copy(f"COPY {name} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)") as copy,
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


def drop_stage(connection: Connection, name: str) -> None:
    """Drop a staging table made by ``stage``."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    else:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


def timestamp_text(values: pd.Series) -> pd.Series:
    """Timestamps as the text each database loads fastest (SQLite: SQLAlchemy's own format)."""
    out = values.dt.strftime(_SQLITE_DATETIME)
    return out.astype(object).where(values.notna(), None)


def date_text(values: pd.Series) -> pd.Series:
    """Dates as ISO text (None for missing)."""
    out = values.dt.strftime("%Y-%m-%d")
    return out.astype(object).where(values.notna(), None)


def iso(value: Any) -> str | None:
    """A stored date or time as ISO 8601 text (None stays None)."""
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
