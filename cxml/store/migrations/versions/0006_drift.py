"""drift reports: each `cxml drift` check kept whole, the newest served by GET /v1/drift

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "drift_reports",
        sa.Column("report_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("reference", sa.String(50), nullable=False),
        sa.Column("current", sa.String(50), nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("report", JSONType, nullable=False),
    )
    op.create_index("ix_drift_reports_created", "drift_reports", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_drift_reports_created", "drift_reports")
    op.drop_table("drift_reports")
