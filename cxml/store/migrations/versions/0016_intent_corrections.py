"""intent_corrections: a person's verdict on an intent in a comment (who, when, on which
redacted text); later corrections of the same comment and intent supersede earlier ones,
which stay as history

Revision ID: 0016_intent_corrections
Revises: 0015_webhooks
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_intent_corrections"
down_revision = "0015_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intent_corrections",
        sa.Column("correction_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "feedback_id",
            sa.String(255),
            sa.ForeignKey("feedback.feedback_id"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("intent", sa.String(50), nullable=False),
        sa.Column("verdict", sa.String(50), nullable=False),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("span_start", sa.Integer, nullable=True),
        sa.Column("span_end", sa.Integer, nullable=True),
        sa.Column("detected", sa.String(50), nullable=True),
        sa.Column("model_version", sa.String(50), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("superseded_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_intent_corrections_item", "intent_corrections", ["feedback_id", "intent"])
    op.create_index("ix_intent_corrections_created", "intent_corrections", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_intent_corrections_created", table_name="intent_corrections")
    op.drop_index("ix_intent_corrections_item", table_name="intent_corrections")
    op.drop_table("intent_corrections")
