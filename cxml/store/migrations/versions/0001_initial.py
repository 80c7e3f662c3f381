"""customers, feedback, ingest runs and rejects

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(255), primary_key=True),
        sa.Column("signup_date", sa.Date, nullable=False),
        sa.Column("churn_date", sa.Date, nullable=True),
        sa.Column("monthly_value", sa.Float, nullable=True),
        sa.Column("attributes", JSONType, nullable=False),
        sa.Column("content_hash", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("feedback_id", sa.String(255), primary_key=True),
        sa.Column(
            "customer_id", sa.String(255), sa.ForeignKey("customers.customer_id"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("channel_original", sa.Text, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("nps", sa.SmallInteger, nullable=True),
        sa.Column("csat", sa.SmallInteger, nullable=True),
        sa.Column("ces", sa.SmallInteger, nullable=True),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("content_hash", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("ingested_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_feedback_customer_created", "feedback", ["customer_id", "created_at"])
    op.create_index("ix_feedback_created", "feedback", ["created_at"])
    op.create_table(
        "ingest_runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("counts", JSONType, nullable=True),
    )
    op.create_table(
        "rejects",
        sa.Column("reject_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("ingest_runs.run_id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("field", sa.Text, nullable=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("errors", JSONType, nullable=False),
        sa.Column("raw", JSONType, nullable=False),
        sa.Column("held", sa.Boolean, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("normalized", JSONType, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_rejects_source", "rejects", ["kind", "source"])
    op.create_index("ix_rejects_held_customer", "rejects", ["held", "customer_id"])


def downgrade() -> None:
    op.drop_table("rejects")
    op.drop_table("ingest_runs")
    op.drop_table("feedback")
    op.drop_table("customers")
