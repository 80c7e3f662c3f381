"""privacy operations: customers erased on request stay erased (a keyed hash of their id, no
personal data), the store's own key for that hash, and when a comment's raw text was replaced
by its redacted form under a retention policy

Revision ID: 0012_privacy
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012_privacy"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed_customers",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime, nullable=False),
        sa.Column("erased_by", sa.String(100), nullable=False),
        sa.Column("counts", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("model_versions", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )
    op.create_table(
        "store_secrets",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("feedback") as table:
        table.add_column(sa.Column("text_expired_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as table:
        table.drop_column("text_expired_at")
    op.drop_table("store_secrets")
    op.drop_table("suppressed_customers")
