"""webhook_outbox: an event reaches an endpoint once (unique endpoint and event id), so events
with deterministic ids (theme.emerging per theme and period, customer.high_risk per customer
and day) are not queued twice by a rerun or by two runs at once

Revision ID: 0017_events_outbox_event_ids
Revises: 0016_intent_corrections
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0017_events_outbox_event_ids"
down_revision = "0016_intent_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Event ids so far are random (uuid4) and one per row: no existing row collides.
    op.create_index(
        "ux_webhook_outbox_event", "webhook_outbox", ["endpoint_id", "event_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_webhook_outbox_event", table_name="webhook_outbox")
