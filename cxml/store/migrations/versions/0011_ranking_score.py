"""ranking_score on every score: the model's full score, which orders the at-risk list (the
calibrated probability has plateaus); the list's indexes carry their tie-breaks

Scores written before it get their probability as ranking score (the order they had). Writers
always fill it; the column is nullable only because SQLite cannot add a NOT NULL column
without a default, and rebuilding the score history to add one is not worth it.

Revision ID: 0011
Revises: 0010_feedback_attributes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010_feedback_attributes"
branch_labels = None
depends_on = None

REVENUE = "coalesce(revenue_at_risk, -1.0)"


def upgrade() -> None:
    for table in ("scores", "latest_scores"):
        op.add_column(table, sa.Column("ranking_score", sa.Float, nullable=True))
        op.execute(f"UPDATE {table} SET ranking_score = probability")
    op.drop_index("ix_scores_as_of_probability", table_name="scores")
    op.create_index("ix_scores_as_of_ranking", "scores", ["as_of", "ranking_score"])
    op.drop_index("ix_latest_scores_probability", table_name="latest_scores")
    op.drop_index("ix_latest_scores_revenue", table_name="latest_scores")
    op.create_index(
        "ix_latest_scores_ranking",
        "latest_scores",
        ["ranking_score", sa.text(REVENUE), "customer_id"],
    )
    op.create_index(
        "ix_latest_scores_revenue",
        "latest_scores",
        [sa.text(REVENUE), "ranking_score", "customer_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_latest_scores_revenue", table_name="latest_scores")
    op.drop_index("ix_latest_scores_ranking", table_name="latest_scores")
    op.create_index("ix_latest_scores_revenue", "latest_scores", [sa.text(REVENUE)])
    op.create_index("ix_latest_scores_probability", "latest_scores", ["probability"])
    op.drop_index("ix_scores_as_of_ranking", table_name="scores")
    op.create_index("ix_scores_as_of_probability", "scores", ["as_of", "probability"])
    for table in ("scores", "latest_scores"):
        op.drop_column(table, "ranking_score")
