"""follow-ups get a due date from the customer's risk band, and when they were escalated to a
second owner for being overdue

Revision ID: 0014_due_dates
Revises: 0013_pulls
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_due_dates"
down_revision = "0013_pulls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follow_ups") as table:
        table.add_column(sa.Column("due_at", sa.DateTime, nullable=True))
        table.add_column(sa.Column("escalated_at", sa.DateTime, nullable=True))
    op.create_index("ix_follow_ups_due", "follow_ups", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_follow_ups_due", table_name="follow_ups")
    with op.batch_alter_table("follow_ups") as table:
        table.drop_column("escalated_at")
        table.drop_column("due_at")
