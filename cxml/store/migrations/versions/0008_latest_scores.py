"""latest_scores: each customer's latest score, kept by every score write, so the at-risk list
reads one row per customer instead of ranking the whole score history

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
COLUMNS = (
    "customer_id, as_of, model_version, probability, band, revenue_at_risk, reasons, "
    "attribution, scored_at, features_as_of, survival_30, survival_60, survival_90, expected_days"
)


def upgrade() -> None:
    op.create_table(
        "latest_scores",
        sa.Column(
            "customer_id", sa.String(255), sa.ForeignKey("customers.customer_id"), primary_key=True
        ),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("band", sa.String(10), nullable=False),
        sa.Column("revenue_at_risk", sa.Float, nullable=True),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("attribution", sa.String(30), nullable=False),
        sa.Column("scored_at", sa.DateTime, nullable=False),
        sa.Column("features_as_of", sa.DateTime, nullable=True),
        sa.Column("survival_30", sa.Float, nullable=True),
        sa.Column("survival_60", sa.Float, nullable=True),
        sa.Column("survival_90", sa.Float, nullable=True),
        sa.Column("expected_days", sa.Float, nullable=True),
    )
    op.create_index("ix_latest_scores_probability", "latest_scores", ["probability"])
    # The same ranking as cxml.store.scores: latest as_of, then features_as_of, then scored_at.
    op.execute(
        f"INSERT INTO latest_scores ({COLUMNS}) SELECT {COLUMNS} FROM ("
        f"SELECT {COLUMNS}, row_number() OVER (PARTITION BY customer_id "
        "ORDER BY as_of DESC, features_as_of DESC, scored_at DESC) AS rank FROM scores"
        ") ranked WHERE rank = 1"
    )


def downgrade() -> None:
    op.drop_table("latest_scores")
