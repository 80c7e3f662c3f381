"""service tables: API keys (hashed), follow-ups and their audit trail; when a score's features were cut

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "follow_ups",
        sa.Column("follow_up_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id", sa.String(255), sa.ForeignKey("customers.customer_id"), nullable=False
        ),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
    )
    op.create_index("ix_follow_ups_customer", "follow_ups", ["customer_id", "updated_at"])
    op.create_table(
        "follow_up_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "follow_up_id",
            sa.Integer,
            sa.ForeignKey("follow_ups.follow_up_id"),
            nullable=False,
        ),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("changed_by", sa.String(32), nullable=True),
        sa.Column("changes", JSONType, nullable=False),
    )
    op.create_index("ix_follow_up_events_follow_up", "follow_up_events", ["follow_up_id"])
    op.create_index("ix_scores_customer_scored", "scores", ["customer_id", "scored_at"])
    op.add_column("scores", sa.Column("features_as_of", sa.DateTime, nullable=True))


def downgrade() -> None:
    op.drop_column("scores", "features_as_of")
    op.drop_index("ix_scores_customer_scored", "scores")
    op.drop_table("follow_up_events")
    op.drop_table("follow_ups")
    op.drop_table("api_keys")
