"""scores: churn probability, band, revenue at risk and reasons per customer and as-of date

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scores",
        sa.Column(
            "customer_id", sa.String(255), sa.ForeignKey("customers.customer_id"), primary_key=True
        ),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("model_version", sa.String(50), primary_key=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("band", sa.String(10), nullable=False),
        sa.Column("revenue_at_risk", sa.Float, nullable=True),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("attribution", sa.String(30), nullable=False),
        sa.Column("scored_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_scores_as_of_probability", "scores", ["as_of", "probability"])


def downgrade() -> None:
    op.drop_table("scores")
