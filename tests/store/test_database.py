from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cxml.store import Store
from cxml.store.records import stats
from cxml.store.tables import metadata


def test_migrations_build_exactly_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert store.schema_revision() == "0008"


def test_migrating_twice_is_a_no_op(store: Store) -> None:
    store.migrate()
    assert store.schema_revision() == "0008"


def test_an_empty_store_reports_zero_counts(store: Store) -> None:
    counts = stats(store)
    assert counts["customers"] == 0 and counts["feedback"] == 0
    assert counts["feedback_by_channel"] == {}
