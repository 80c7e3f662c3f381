"""audit log: who made or revoked keys, promoted or reloaded models, and when; time to churn
in scores

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
TIMING = ("survival_30", "survival_60", "survival_90", "expected_days")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("detail", JSONType, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    for column in TIMING:
        op.add_column("scores", sa.Column(column, sa.Float, nullable=True))


def downgrade() -> None:
    for column in TIMING:
        op.drop_column("scores", column)
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
