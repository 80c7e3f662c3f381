"""The databases a benchmark runs against: a SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from cxml.settings import Settings
from cxml.store import Store


@contextmanager
def bench_store(
    target: str, *, sqlite_path: Path, postgres_url: str, fresh: bool
) -> Iterator[tuple[Settings, Store]]:
    """Yield (settings, store) on ``target``; a PostgreSQL schema is made for the run and dropped after.

    ``fresh`` deletes an existing SQLite file first; otherwise a file from an earlier run is reused.
    """
    schema = None
    if target == "sqlite":
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{sqlite_path.resolve()}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(postgres_url).begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    settings = Settings(database_url=url)
    store = Store.open(settings)
    try:
        yield settings, store
    finally:
        store.close()
        if schema:
            with create_engine(postgres_url).begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
