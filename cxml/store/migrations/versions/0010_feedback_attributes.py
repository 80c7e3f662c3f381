"""the respondent's attributes at a response (journey stage, plan, segment: a feedback file's
columns outside the contract), kept with the feedback item and groupable in metrics

Revision ID: 0010_feedback_attributes
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010_feedback_attributes"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as table:
        table.add_column(
            sa.Column("attributes", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback") as table:
        table.drop_column("attributes")
