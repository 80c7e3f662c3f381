"""feedback_analysis and feedback_themes: what the text pipeline read in each comment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "feedback_analysis",
        sa.Column(
            "feedback_id", sa.String(255), sa.ForeignKey("feedback.feedback_id"), primary_key=True
        ),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("sentiment_label", sa.String(10), nullable=True),
        sa.Column("sentiment_score", sa.Float, nullable=True),
        sa.Column("intents", JSONType, nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("analysed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "feedback_themes",
        sa.Column(
            "feedback_id", sa.String(255), sa.ForeignKey("feedback.feedback_id"), primary_key=True
        ),
        sa.Column("theme_id", sa.String(100), primary_key=True),
        sa.Column("theme_label", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("sentiment_score", sa.Float, nullable=True),
    )
    op.create_index("ix_feedback_themes_theme", "feedback_themes", ["theme_id"])


def downgrade() -> None:
    op.drop_table("feedback_themes")
    op.drop_table("feedback_analysis")
