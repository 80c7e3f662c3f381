"""Counts for drift checks, in SQL, one statement per mix; and the drift reports as stored.

A window is ``[start, end)`` on the comment's ``created_at``. Channel mix counts every
feedback row; language, sentiment and theme mixes count analysed comments (what the text
pipeline read, ``cxml analyze --store``).
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any, Literal

import pandas as pd
from sqlalchemy import and_, case, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from cxml.store.database import Store
from cxml.store.tables import drift_reports, feedback, feedback_analysis, feedback_themes

Mix = Literal["channel", "language", "sentiment", "theme", "sentiment_score"]
MIXES: tuple[Mix, ...] = ("theme", "sentiment", "sentiment_score", "language", "channel")
#: Sentiment scores (−1 … 1) in ten equal bins, labelled by their lower edge.
SCORE_EDGES = tuple(round(-1 + 0.2 * i, 1) for i in range(11))


def _score_bin(column: Any) -> ColumnElement[Any]:
    """The lower edge of a score's bin, as text ("-1.0", "-0.8", … "0.8"), in portable SQL."""
    # bins [-1, -0.8) … [0.6, 0.8), then [0.8, 1]
    whens = [(column < upper, f"{lower:.1f}") for lower, upper in pairwise(SCORE_EDGES[:-1])]
    return case(*whens, else_=f"{SCORE_EDGES[-2]:.1f}")


def mix_counts(store: Store, mix: Mix, start: datetime, end: datetime) -> pd.DataFrame:
    """How many comments in ``[start, end)`` fall in each value of ``mix``.

    Columns: value, label (a theme's label, else the value), n."""
    inside = and_(feedback.c.created_at >= start, feedback.c.created_at < end)
    if mix == "channel":
        value: Any = feedback.c.channel
        label: Any = feedback.c.channel
        source: Any = feedback
    elif mix == "theme":
        value = feedback_themes.c.theme_id
        label = func.max(feedback_themes.c.theme_label)
        source = feedback_themes.join(
            feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id
        )
    else:
        value = {
            "language": func.coalesce(feedback_analysis.c.language, "(none)"),
            "sentiment": func.coalesce(feedback_analysis.c.sentiment_label, "(none)"),
            "sentiment_score": _score_bin(feedback_analysis.c.sentiment_score),
        }[mix]
        label = value
        source = feedback_analysis.join(
            feedback, feedback.c.feedback_id == feedback_analysis.c.feedback_id
        )
        if mix == "sentiment_score":
            inside = and_(inside, feedback_analysis.c.sentiment_score.is_not(None))
    query = (
        select(value.label("value"), label.label("label"), func.count().label("n"))
        .select_from(source)
        .where(inside)
        .group_by(value)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["value", "label", "n"])
    frame["value"] = frame["value"].astype(str)
    frame["n"] = frame["n"].astype(int)
    return frame.sort_values("value", kind="stable").reset_index(drop=True)


def write_report(store: Store, report: dict[str, Any], *, at: datetime) -> int:
    """Keep a drift report; returns its id."""
    with store.begin() as connection:
        result = connection.execute(
            insert(drift_reports).values(
                created_at=at,
                reference=report["reference"]["label"],
                current=report["current"]["label"],
                alerts=len(report["alerts"]),
                report=report,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def latest_report(store: Store) -> dict[str, Any] | None:
    """The newest stored drift report (with its id and when it was made), or None."""
    query = select(drift_reports).order_by(drift_reports.c.report_id.desc()).limit(1)
    with store.engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return {**row["report"], "report_id": row["report_id"], "made_at": row["created_at"]}
