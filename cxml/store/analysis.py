"""What the text pipeline read in each comment: one analysis row per comment, one row per theme."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, insert, or_, select, text

from cxml.store.database import Store, drop_stage, stage
from cxml.store.tables import feedback, feedback_analysis, feedback_themes


def unanalysed_feedback(
    store: Store,
    model_version: str,
    *,
    everything: bool = False,
    after: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Feedback with text not yet analysed by ``model_version`` (all of it with ``everything``):
    feedback_id, text, language — in id order, after ``after``, at most ``limit`` rows."""
    query = unanalysed_query(model_version, everything=everything)
    if after is not None:
        query = query.where(feedback.c.feedback_id > after)
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["feedback_id", "text", "language"])
    frame["language"] = frame["language"].astype(object).where(frame["language"].notna(), None)
    return frame


def never_analysed(store: Store) -> int:
    """How many comments (feedback with text) no text model has analysed: their sentiment,
    themes and intents are missing from every feature read from the store."""
    query = (
        select(func.count())
        .select_from(
            feedback.outerjoin(
                feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
            )
        )
        .where(feedback.c.text.is_not(None), feedback_analysis.c.feedback_id.is_(None))
    )
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def unanalysed_query(model_version: str, *, everything: bool = False) -> Any:
    """The statement behind ``unanalysed_feedback`` (Spark reads it over JDBC)."""
    query = (
        select(feedback.c.feedback_id, feedback.c.text, feedback.c.language)
        .select_from(
            feedback.outerjoin(
                feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
            )
        )
        .where(feedback.c.text.is_not(None))
        .order_by(feedback.c.feedback_id)
    )
    if not everything:
        query = query.where(
            (feedback_analysis.c.model_version.is_(None))
            | (feedback_analysis.c.model_version != model_version)
        )
    return query


def write_analysis(store: Store, analysis: pd.DataFrame, themes: pd.DataFrame) -> None:
    """Replace the stored analysis of the feedback in ``analysis`` (one transaction)."""
    with store.begin() as connection:
        stage(connection, "stage_ids", (("feedback_id", "TEXT"),), analysis[["feedback_id"]])
        for table in (feedback_themes, feedback_analysis):
            connection.execute(
                table.delete().where(
                    table.c.feedback_id.in_(
                        select(text("feedback_id")).select_from(text("stage_ids"))
                    )
                )
            )
        drop_stage(connection, "stage_ids")
        for table, frame in ((feedback_analysis, analysis), (feedback_themes, themes)):
            if frame.empty:
                continue
            records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            connection.execute(insert(table), records)


def analysis_frame(store: Store) -> pd.DataFrame:
    """Every stored analysis row (for tests and exports)."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(feedback_analysis)).mappings().all()
    return pd.DataFrame(
        [dict(r) for r in rows], columns=[c.name for c in feedback_analysis.columns]
    )


def analysed_timeline(
    store: Store, customer_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """The customer's feedback, newest first, each with what the text pipeline read in it."""
    query = (
        select(
            feedback.c.feedback_id,
            feedback.c.created_at,
            feedback.c.channel,
            feedback.c.text,
            feedback.c.nps,
            feedback.c.csat,
            feedback.c.ces,
            feedback.c.language,
            feedback_analysis.c.sentiment_label,
            feedback_analysis.c.sentiment_score,
            feedback_analysis.c.intents,
        )
        .select_from(
            feedback.outerjoin(
                feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
            )
        )
        .where(feedback.c.customer_id == customer_id)
        .order_by(feedback.c.created_at.desc(), feedback.c.feedback_id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
        ids = [r["feedback_id"] for r in rows]
        themes: dict[str, list[dict[str, Any]]] = {}
        if ids:
            for t in connection.execute(
                select(
                    feedback_themes.c.feedback_id,
                    feedback_themes.c.theme_id,
                    feedback_themes.c.theme_label,
                    feedback_themes.c.sentiment_score,
                    feedback_themes.c.span_start,
                    feedback_themes.c.span_end,
                ).where(feedback_themes.c.feedback_id.in_(ids))
            ).mappings():
                themes.setdefault(t["feedback_id"], []).append(
                    {
                        "id": t["theme_id"],
                        "label": t["theme_label"],
                        "sentiment_score": t["sentiment_score"],
                        "span": _span(t["span_start"], t["span_end"]),
                    }
                )
    for r in rows:
        r["intents"] = _json(r["intents"]) if r["intents"] is not None else []
        r["themes"] = themes.get(r["feedback_id"], [])
    return rows


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _span(start: int | None, end: int | None) -> list[int] | None:
    """[start, end) offsets in the redacted text, or None (``other``, or analysed before spans
    were kept: `cxml analyze --store --all` fills them in)."""
    return None if start is None or end is None else [int(start), int(end)]


def theme_summary(store: Store, *, examples: int = 2) -> pd.DataFrame:
    """One row per theme: its most frequent label, how many comments and customers raised it,
    the mean sentiment in those comments and the share negative, and the ``examples`` newest
    comments' raw text (redact before showing: ``cxml.story.redacted``)."""
    from sqlalchemy import Float, and_, case, cast, func

    counts = (
        select(
            feedback_themes.c.theme_id,
            func.count().label("comments"),
            func.count(func.distinct(feedback.c.customer_id)).label("customers"),
            func.avg(feedback_themes.c.sentiment_score).label("mean_sentiment"),
            func.avg(
                cast(case((feedback_themes.c.sentiment_score < -0.05, 1.0), else_=0.0), Float)
            ).label("negative_share"),
        )
        .select_from(
            feedback_themes.join(feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id)
        )
        .group_by(feedback_themes.c.theme_id)
    )
    ranked = (
        select(
            feedback_themes.c.theme_id,
            feedback.c.text,
            func.row_number()
            .over(
                partition_by=feedback_themes.c.theme_id,
                order_by=(feedback.c.created_at.desc(), feedback.c.feedback_id.desc()),
            )
            .label("rank"),
        )
        .select_from(
            feedback_themes.join(feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id)
        )
        .where(feedback.c.text.is_not(None))
        .subquery()
    )
    newest = select(ranked.c.theme_id, ranked.c.text).where(and_(ranked.c.rank <= examples))
    with store.engine.connect() as connection:
        summary = pd.DataFrame([dict(r) for r in connection.execute(counts).mappings()])
        said = pd.DataFrame([dict(r) for r in connection.execute(newest).mappings()])
    if summary.empty:
        return pd.DataFrame(
            columns=[
                "theme_id",
                "label",
                "comments",
                "customers",
                "mean_sentiment",
                "negative_share",
                "examples",
            ]
        )
    from cxml.store.history import theme_labels

    labels = theme_labels(store)
    summary["label"] = [labels.get(t, t) for t in summary["theme_id"]]
    grouped = said.groupby("theme_id")["text"].apply(list) if not said.empty else pd.Series()
    summary["examples"] = [grouped.get(t, []) for t in summary["theme_id"]]
    columns = ["theme_id", "label", "comments", "customers", "mean_sentiment", "negative_share"]
    return (
        summary[[*columns, "examples"]]
        .sort_values(["comments", "theme_id"], ascending=[False, True])
        .reset_index(drop=True)
    )


def stored_theme_ids(store: Store, among: Sequence[str] | None = None) -> list[str]:
    """The theme ids stored comments raised, sorted; only those ``among`` when given (an
    indexed lookup, where the whole list reads every theme row's id)."""
    query = select(feedback_themes.c.theme_id).distinct()
    if among is not None:
        if not among:
            return []
        query = query.where(feedback_themes.c.theme_id.in_(list(among)))
    with store.engine.connect() as connection:
        return sorted(str(t) for t in connection.execute(query).scalars())


def theme_comments(
    store: Store,
    theme_id: str,
    *,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """The comments that raised ``theme_id``, newest first (keyset page: ``before`` =
    (created_at, feedback_id) of the last row shown), with the evidence span, the theme's own
    sentiment there, the comment's sentiment and its channel and customer. Raw text: redact
    before it leaves (``cxml.story.redacted``); spans refer to the redacted text."""
    query = (
        select(
            feedback.c.feedback_id,
            feedback.c.customer_id,
            feedback.c.created_at,
            feedback.c.channel,
            feedback.c.text,
            feedback.c.nps,
            feedback.c.csat,
            feedback.c.ces,
            feedback_analysis.c.language,
            feedback_analysis.c.sentiment_label,
            feedback_analysis.c.sentiment_score,
            feedback_themes.c.theme_label,
            feedback_themes.c.sentiment_score.label("theme_sentiment"),
            feedback_themes.c.span_start,
            feedback_themes.c.span_end,
        )
        .select_from(
            feedback_themes.join(
                feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id
            ).outerjoin(
                feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
            )
        )
        .where(feedback_themes.c.theme_id == theme_id, feedback.c.text.is_not(None))
        .order_by(feedback.c.created_at.desc(), feedback.c.feedback_id.desc())
        .limit(limit)
    )
    if before is not None:
        at, feedback_id = before
        query = query.where(
            or_(
                feedback.c.created_at < at,
                and_(feedback.c.created_at == at, feedback.c.feedback_id < feedback_id),
            )
        )
    with store.engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    for row in rows:
        row["span"] = _span(row.pop("span_start"), row.pop("span_end"))
    return rows


def theme_mentions(store: Store, customer_ids: list[str]) -> pd.DataFrame:
    """When each of these customers raised each theme (``other`` left out). Columns:
    customer_id, theme_id, theme_label, created_at."""
    columns = ["customer_id", "theme_id", "theme_label", "created_at"]
    if not customer_ids:
        return pd.DataFrame(columns=columns)
    query = (
        select(
            feedback.c.customer_id,
            feedback_themes.c.theme_id,
            feedback_themes.c.theme_label,
            feedback.c.created_at,
        )
        .select_from(
            feedback_themes.join(feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id)
        )
        .where(feedback_themes.c.theme_id != "other")
    )
    frames = []
    with store.engine.connect() as connection:
        for start in range(0, len(customer_ids), 5000):  # bound lists stay within driver limits
            part = customer_ids[start : start + 5000]
            rows = connection.execute(query.where(feedback.c.customer_id.in_(part))).all()
            frames.append(pd.DataFrame(rows, columns=columns))
    frame = pd.concat(frames, ignore_index=True)
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def usual_languages(store: Store, feedback_ids: list[str]) -> list[str | None]:
    """Per feedback id, the usual language of its customer's other comments, else of its
    channel's comments (the language given with a comment, else the one analysed): what a
    short comment falls back to when its own language is unsure. None where neither is known.
    """
    if not feedback_ids:
        return []
    language = func.coalesce(feedback.c.language, feedback_analysis.c.language)
    joined = feedback.outerjoin(
        feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
    )
    with store.begin() as connection:  # a staged table lives as long as its transaction
        ids = pd.DataFrame({"feedback_id": feedback_ids})
        stage(connection, "stage_ids", (("feedback_id", "TEXT"),), ids)
        batch = select(feedback.c.customer_id).where(
            feedback.c.feedback_id.in_(select(text("feedback_id")).select_from(text("stage_ids")))
        )
        rows = connection.execute(
            select(feedback.c.feedback_id, feedback.c.customer_id, feedback.c.channel, language)
            .select_from(joined)
            .where(feedback.c.customer_id.in_(batch))
        ).all()
        channels = connection.execute(
            select(feedback.c.channel, language, func.count())
            .select_from(joined)
            .where(language.is_not(None))
            .group_by(feedback.c.channel, language)
        ).all()
        drop_stage(connection, "stage_ids")
    comments = pd.DataFrame(rows, columns=["feedback_id", "customer_id", "channel", "language"])
    counts = comments.dropna(subset=["language"]).groupby(["customer_id", "language"]).size()
    by_channel = pd.DataFrame(channels, columns=["channel", "language", "n"])
    channel_usual = (
        by_channel.sort_values(["n", "language"], ascending=[False, True])
        .drop_duplicates("channel")
        .set_index("channel")["language"]
        .to_dict()
    )
    own = comments.set_index("feedback_id")
    out: list[str | None] = []
    for feedback_id in feedback_ids:
        if feedback_id not in own.index:
            out.append(None)
            continue
        row = own.loc[feedback_id]
        mine = counts.get(row["customer_id"])
        others = {} if mine is None else dict(mine.items())
        if isinstance(row["language"], str) and row["language"] in others:
            others[row["language"]] -= 1  # its own comment is not its usual language's evidence
        others = {code: n for code, n in others.items() if n > 0}
        if others:
            out.append(max(sorted(others), key=lambda code: others[code]))
        else:
            out.append(channel_usual.get(row["channel"]))
    return out
