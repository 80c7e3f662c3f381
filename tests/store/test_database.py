from __future__ import annotations

import fcntl
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, insert, select

from cxml.store import Store
from cxml.store.records import stats
from cxml.store.tables import audit_log, metadata


def test_migrations_build_exactly_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as connection, warnings.catch_warnings():
        # SQLAlchemy cannot read back an index on an expression; checked by name below
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        names = (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'latest_scores'"
            if store.dialect == "sqlite"
            else "SELECT indexname FROM pg_indexes WHERE tablename = 'latest_scores'"
        )
        indexes = set(connection.exec_driver_sql(names).scalars())
    assert differences == []
    assert {"ix_latest_scores_ranking", "ix_latest_scores_revenue"} <= indexes
    assert store.schema_revision() == "0017_events_outbox_event_ids"


def test_migrating_twice_is_a_no_op(store: Store) -> None:
    store.migrate()
    assert store.schema_revision() == "0017_events_outbox_event_ids"


def test_an_empty_store_reports_zero_counts(store: Store) -> None:
    counts = stats(store)
    assert counts["customers"] == 0 and counts["feedback"] == 0
    assert counts["feedback_by_channel"] == {}


def _lock_free(path: Path) -> bool:
    """Whether another process could take the writers' lock file now."""
    with open(path, "rb") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_sqlite_writers_hold_the_lock_file_for_a_transaction_and_let_go_after_it(
    tmp_path: Path,
) -> None:
    """On SQLite a transaction holds the lock file beside the database (another process, here
    another store with its own open file, waits for it), lets go when it commits or fails,
    and a writer kept out past the timeout goes on to SQLite's own wait instead of hanging."""
    url = f"sqlite:///{tmp_path / 'cxml.db'}"
    first, second = Store.open(url), Store.open(url)
    lock_file = tmp_path / "cxml.db-writers.lock"
    row = {"at": datetime(2026, 1, 1), "actor": "t", "action": "test", "detail": {}}
    with first.begin() as connection:
        assert not _lock_free(lock_file)
        connection.execute(insert(audit_log).values(**row))
    assert _lock_free(lock_file)
    with pytest.raises(RuntimeError), first.begin():
        raise RuntimeError("a failing transaction")
    assert _lock_free(lock_file)
    with open(lock_file, "rb") as holder:  # something that never lets go
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert second.writers is not None
        second.writers.timeout = 0.2
        with second.begin() as connection:
            connection.execute(insert(audit_log).values(**row))
    with second.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(audit_log)).scalar() == 2
    first.close()
    second.close()


def test_sqlite_writers_of_many_threads_and_stores_take_turns(tmp_path: Path) -> None:
    """Writers from several threads of two stores (as two server workers) all get their turn,
    one at a time: each reads the count and writes the next number, none fails or repeats."""
    url = f"sqlite:///{tmp_path / 'cxml.db'}"
    stores = [Store.open(url), Store.open(url)]

    def write(worker: int) -> None:
        for _ in range(15):
            with stores[worker % 2].begin() as connection:
                n = connection.execute(select(func.count()).select_from(audit_log)).scalar()
                connection.execute(
                    insert(audit_log).values(
                        at=datetime(2026, 1, 1), actor=str(worker), action="n", detail={"n": n}
                    )
                )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    with stores[0].engine.connect() as connection:
        numbers = [r[0]["n"] for r in connection.execute(select(audit_log.c.detail))]
    assert sorted(numbers) == list(range(120))
    for store in stores:
        store.close()
