"""worklist pulls with a randomised holdout: who pulled which list when, with which model,
seed and holdout share, and each customer's arm (contact or control) with their risk at the
pull, read against retention once the horizon has passed

Revision ID: 0013_pulls
Revises: 0012_privacy
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_pulls"
down_revision = "0012_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worklist_pulls",
        sa.Column("pull_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pulled_at", sa.DateTime, nullable=False),
        sa.Column("pulled_by", sa.String(100), nullable=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("holdout_share", sa.Float, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("model_version", sa.String(50), nullable=True),
        sa.Column("horizon_days", sa.Integer, nullable=False),
        sa.Column("read_after", sa.DateTime, nullable=False),
        sa.Column("readable_announced_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_worklist_pulls_read_after", "worklist_pulls", ["read_after"])
    op.create_table(
        "pull_assignments",
        sa.Column("pull_id", sa.Integer, sa.ForeignKey("worklist_pulls.pull_id"), primary_key=True),
        sa.Column(
            "customer_id", sa.String(255), sa.ForeignKey("customers.customer_id"), primary_key=True
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("band", sa.String(10), nullable=False),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("pre_contact_score", sa.Float, nullable=False),
        sa.Column("revenue_at_risk", sa.Float, nullable=True),
        sa.Column("monthly_value", sa.Float, nullable=True),
    )
    op.create_index("ix_pull_assignments_customer", "pull_assignments", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_pull_assignments_customer", table_name="pull_assignments")
    op.drop_table("pull_assignments")
    op.drop_index("ix_worklist_pulls_read_after", table_name="worklist_pulls")
    op.drop_table("worklist_pulls")
