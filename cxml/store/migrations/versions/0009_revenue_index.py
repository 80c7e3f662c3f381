"""An index on the at-risk list's revenue sort key, so a page sorted by revenue at risk reads
its 50 rows instead of every active customer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_latest_scores_revenue", "latest_scores", [sa.text("coalesce(revenue_at_risk, -1.0)")]
    )


def downgrade() -> None:
    op.drop_index("ix_latest_scores_revenue", table_name="latest_scores")
