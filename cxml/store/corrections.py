"""Intent corrections as stored: one row per verdict, the current one per (feedback, intent)
has no ``superseded_at``. The rules (which intents and verdicts) live in ``cxml.corrections``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update

from cxml.store.database import Store
from cxml.store.tables import feedback, feedback_analysis, intent_corrections

COLUMNS = [c.name for c in intent_corrections.columns]


def current_correction(store: Store, feedback_id: str, intent: str) -> dict[str, Any] | None:
    """The correction in force for this comment and intent, or None."""
    with store.engine.connect() as connection:
        row = (
            connection.execute(
                select(intent_corrections).where(
                    intent_corrections.c.feedback_id == feedback_id,
                    intent_corrections.c.intent == intent,
                    intent_corrections.c.superseded_at.is_(None),
                )
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def insert_correction(store: Store, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Supersede the comment's current correction of the same intent (kept, with
    ``superseded_at``) and insert this one, in one transaction; returns the new row."""
    with store.begin() as connection:
        connection.execute(
            update(intent_corrections)
            .where(
                intent_corrections.c.feedback_id == values["feedback_id"],
                intent_corrections.c.intent == values["intent"],
                intent_corrections.c.superseded_at.is_(None),
            )
            .values(superseded_at=now)
        )
        result = connection.execute(
            insert(intent_corrections).values(**values, created_at=now, superseded_at=None)
        )
        assert result.inserted_primary_key is not None
        correction_id = int(result.inserted_primary_key[0])
        row = (
            connection.execute(
                select(intent_corrections).where(
                    intent_corrections.c.correction_id == correction_id
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


def corrections(
    store: Store,
    *,
    intent: str | None = None,
    feedback_id: str | None = None,
    customer_id: str | None = None,
    with_superseded: bool = False,
    limit: int | None = None,
) -> pd.DataFrame:
    """Corrections, newest first (only those in force unless ``with_superseded``); every
    column of the table."""
    query = select(intent_corrections).order_by(
        intent_corrections.c.created_at.desc(), intent_corrections.c.correction_id.desc()
    )
    if not with_superseded:
        query = query.where(intent_corrections.c.superseded_at.is_(None))
    if intent is not None:
        query = query.where(intent_corrections.c.intent == intent)
    if feedback_id is not None:
        query = query.where(intent_corrections.c.feedback_id == feedback_id)
    if customer_id is not None:
        query = query.where(intent_corrections.c.customer_id == customer_id)
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("created_at", "superseded_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def corrected_feedback(store: Store, feedback_id: str) -> dict[str, Any] | None:
    """The comment a correction is about: customer_id, text, language, and what the text
    pipeline read in it (intents, model_version; None when not analysed); None if unknown."""
    with store.engine.connect() as connection:
        row = (
            connection.execute(
                select(
                    feedback.c.feedback_id,
                    feedback.c.customer_id,
                    feedback.c.text,
                    feedback.c.language,
                    feedback_analysis.c.language.label("analysed_language"),
                    feedback_analysis.c.intents,
                    feedback_analysis.c.model_version,
                )
                .select_from(
                    feedback.outerjoin(
                        feedback_analysis,
                        feedback_analysis.c.feedback_id == feedback.c.feedback_id,
                    )
                )
                .where(feedback.c.feedback_id == feedback_id)
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None
