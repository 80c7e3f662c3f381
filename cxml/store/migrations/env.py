"""Alembic environment: runs on the connection cxml hands it (see cxml.store.database.Store.migrate)."""

from __future__ import annotations

from alembic import context

from cxml.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `cxml db upgrade` (cxml.store.database.Store.migrate)"
    )
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
