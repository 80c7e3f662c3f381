"""where each theme was found in a comment (evidence span, offsets in the redacted text); how a
follow-up reached the customer (contact channel)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_themes") as table:
        table.add_column(sa.Column("span_start", sa.Integer, nullable=True))
        table.add_column(sa.Column("span_end", sa.Integer, nullable=True))
    with op.batch_alter_table("follow_ups") as table:
        table.add_column(sa.Column("channel", sa.String(30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follow_ups") as table:
        table.drop_column("channel")
    with op.batch_alter_table("feedback_themes") as table:
        table.drop_column("span_end")
        table.drop_column("span_start")
