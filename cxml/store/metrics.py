"""Aggregation queries for CX metrics: the counting is pushed into SQL, one statement per call.

Dimensions: ``period`` (day, week, month, quarter, year), ``channel``, ``language``,
``theme`` (from the stored text analysis), and any customer attribute by name
(a segment, e.g. ``plan``). Weeks start on Monday and are labelled by that Monday.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.sql.elements import ColumnElement

from cxml.contract import ANONYMOUS_PREFIX
from cxml.errors import ConfigError
from cxml.metrics import LEVELS, PERIODS
from cxml.store.database import Store
from cxml.store.tables import customers, feedback, feedback_analysis, feedback_themes

BUILTIN_DIMENSIONS = ("period", "channel", "language", "theme")
SCORES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def period_expression(dialect: str, column: Any, period: str) -> ColumnElement[Any]:
    """A text label of the period holding ``column``: 2025-03, 2025-Q1, 2025-W label = its Monday."""
    if period not in PERIODS:
        raise ConfigError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    if dialect == "postgresql":
        formats = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}
        if period == "week":
            return func.to_char(func.date_trunc("week", column), "YYYY-MM-DD")
        return func.to_char(column, formats[period])
    if period == "day":
        return func.substr(column, 1, 10)
    if period == "month":
        return func.substr(column, 1, 7)
    if period == "year":
        return func.substr(column, 1, 4)
    if period == "quarter":
        month = cast(func.substr(column, 6, 2), Integer)
        quarter = cast(cast((month + 2) / 3, Integer), String)
        return func.substr(column, 1, 4).op("||")(literal("-Q")).op("||")(quarter)
    return func.date(column, "weekday 0", "-6 days")


def attribute_expression(dialect: str, name: str, column: Any = None) -> ColumnElement[Any]:
    """The customer attribute ``name`` (or the attribute in ``column``, e.g. a feedback
    item's) as a groupable value."""
    if "\x00" in name or not name.strip() or len(name) > 255:
        raise ConfigError(
            f"attribute name {name[:60]!r} is not usable: expected 1-255 characters, no NUL"
        )
    column = customers.c.attributes if column is None else column
    if dialect == "postgresql":
        return column.op("->>")(literal(name))
    path = '$."' + name.replace('"', '\\"') + '"'
    return func.json_extract(column, path)


def feedback_attribute_names(store: Store) -> list[str]:
    """The attribute names feedback items carry (a survey file's columns outside the contract:
    journey stage, plan, segment, as the respondent was at that response), sorted."""
    if store.dialect == "postgresql":
        query = text(
            "SELECT DISTINCT jsonb_object_keys(attributes) FROM feedback "
            "WHERE attributes IS NOT NULL"
        )
    else:
        query = text(
            "SELECT DISTINCT j.key FROM feedback, json_each(feedback.attributes) AS j "
            "WHERE feedback.attributes IS NOT NULL"
        )
    with store.engine.connect() as connection:
        return sorted(str(k) for k in connection.execute(query).scalars())


def survey_aggregates(
    store: Store,
    score: str,
    *,
    by: Sequence[str] = (),
    period: str = "month",
    start: datetime | None = None,
    end: datetime | None = None,
    level: str = "response",
) -> pd.DataFrame:
    """Per group: n and the sums the metric needs (one SQL statement).

    nps: ``promoters`` (9–10), ``passives`` (7–8), ``detractors`` (0–6);
    csat: ``satisfied`` (4–5), ``total``, ``total_sq``; ces: ``low_effort`` (1–3),
    ``total``, ``total_sq``. ``level='customer'`` keeps each customer's latest
    response per period (and per the other dimensions except theme).
    """
    if score not in SCORES:
        raise ConfigError(f"unknown score {score!r}: expected one of {', '.join(SCORES)}")
    if level not in LEVELS:
        raise ConfigError(f"level {level!r} must be one of {', '.join(LEVELS)}", field="level")
    dialect = store.dialect
    value = feedback.c[score]
    segments = [d for d in by if d not in BUILTIN_DIMENSIONS]
    needs_themes = "theme" in by
    source: Any = feedback
    if "language" in by:
        source = source.outerjoin(
            feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
        )
    columns: dict[str, ColumnElement[Any]] = {}
    for dimension in by:
        if dimension == "period":
            columns["period"] = period_expression(dialect, feedback.c.created_at, period)
        elif dimension == "channel":
            columns["channel"] = feedback.c.channel
        elif dimension == "language":
            columns["language"] = func.coalesce(
                feedback.c.language, feedback_analysis.c.language, literal("unknown")
            )
    conditions: list[ColumnElement[bool]] = [value.is_not(None)]
    if start is not None:
        conditions.append(feedback.c.created_at >= start)
    if end is not None:
        conditions.append(feedback.c.created_at < end)
    # A segment is the response's own attribute (the respondent at that response) where it
    # has one, else the customer's: ``_at_<i>`` carries the response's through the subqueries.
    at_response = {
        f"_at_{i}": attribute_expression(dialect, name, feedback.c.attributes)
        for i, name in enumerate(segments)
    }
    selected = [
        feedback.c.feedback_id.label("feedback_id"),
        feedback.c.customer_id.label("customer_id"),
        value.label("value"),
        *[expression.label(name) for name, expression in columns.items()],
        *[expression.label(name) for name, expression in at_response.items()],
    ]
    rows_query = select(*selected).select_from(source).where(and_(*conditions))
    if level == "customer":
        # Each customer's latest answer per period (and per the other dimensions).
        partition = [feedback.c.customer_id, *columns.values()]
        if "period" not in columns:
            partition.append(period_expression(dialect, feedback.c.created_at, period))
        if dialect == "sqlite":
            # SQLite returns the bare columns of the row holding max(): one grouped pass.
            latest_key = func.max(feedback.c.created_at.op("||")(feedback.c.feedback_id))
            base = (
                rows_query.add_columns(latest_key.label("latest")).group_by(*partition).subquery()
            )
        else:
            # PostgreSQL: DISTINCT ON keeps the first row per partition in one sort.
            base = (
                rows_query.ext(distinct_on(*partition))
                .order_by(*partition, feedback.c.created_at.desc(), feedback.c.feedback_id.desc())
                .subquery()
            )
    else:
        base = rows_query.subquery()

    keys: list[Any] = [base.c[name] for name in columns]
    from_clause: Any = base
    if needs_themes:
        from_clause = base.join(
            feedback_themes, feedback_themes.c.feedback_id == base.c.feedback_id
        )
        keys.append(feedback_themes.c.theme_id.label("theme"))
    if segments:
        # Aggregate per customer first, then attach the segment: attributes are read once
        # per customer and group, not once per response.
        keys.append(base.c.customer_id)
        keys.extend(base.c[name] for name in at_response)
    sums = _score_sums(score, base.c.value)
    query = select(*keys, func.count().label("n"), *sums).select_from(from_clause)
    if keys:
        query = query.group_by(*keys)
    key_names = [*columns, *(["theme"] if needs_themes else [])]
    sum_names = ["n", *[s.name for s in sums]]
    if segments:
        pre = query.subquery()
        segment_columns = [
            func.coalesce(pre.c[f"_at_{i}"], attribute_expression(dialect, name)).label(name)
            for i, name in enumerate(segments)
        ]
        outer_keys = [*segment_columns, *[pre.c[name] for name in key_names]]
        query = (
            select(*outer_keys, *[func.sum(pre.c[name]).label(name) for name in sum_names])
            .select_from(pre.join(customers, customers.c.customer_id == pre.c.customer_id))
            .group_by(*outer_keys)
        )
        key_names = [*segments, *key_names]
    elif keys:
        query = query.order_by(*keys)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=[*key_names, *sum_names])
    for column in sum_names:
        frame[column] = pd.to_numeric(frame[column]).fillna(0)
    ordered = [name for name in by if name in frame.columns]
    return (
        frame[[*ordered, *sum_names]].sort_values(ordered).reset_index(drop=True)
        if ordered
        else frame
    )


def _score_sums(score: str, v: Any) -> list[Any]:
    """The aggregate columns each score's metric is computed from."""
    if score == "nps":
        return [
            func.sum(case((v >= 9, 1), else_=0)).label("promoters"),
            func.sum(case((and_(v >= 7, v <= 8), 1), else_=0)).label("passives"),
            func.sum(case((v <= 6, 1), else_=0)).label("detractors"),
        ]
    good = case((v >= 4, 1), else_=0) if score == "csat" else case((v <= 3, 1), else_=0)
    return [
        func.sum(good).label("satisfied" if score == "csat" else "low_effort"),
        func.sum(cast(v, Float)).label("total"),
        func.sum(cast(v, Float) * cast(v, Float)).label("total_sq"),
    ]


def _known_customer() -> ColumnElement[bool]:
    """Not an anonymous survey respondent: someone whose churn can be known (``--anonymous``)."""
    return ~customers.c.customer_id.startswith(ANONYMOUS_PREFIX, autoescape=True)


def churn_counts(store: Store) -> tuple[int, int]:
    """(customers, customers with a churn date) in the store; anonymous respondents are no
    customers here."""
    query = (
        select(func.count(), func.count(customers.c.churn_date))
        .select_from(customers)
        .where(_known_customer())
    )
    with store.engine.connect() as connection:
        total, churned = connection.execute(query).one()
    return int(total or 0), int(churned or 0)


def customer_table(store: Store, attributes: Sequence[str] = ()) -> pd.DataFrame:
    """Customers' signup and churn dates, monthly value and the named attributes."""
    dialect = store.dialect
    query = select(
        customers.c.customer_id,
        customers.c.signup_date,
        customers.c.churn_date,
        customers.c.monthly_value,
        *[attribute_expression(dialect, name).label(name) for name in attributes],
    ).where(_known_customer())
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(
        rows, columns=["customer_id", "signup_date", "churn_date", "monthly_value", *attributes]
    )
    for column in ("signup_date", "churn_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def response_themes(store: Store) -> pd.DataFrame:
    """One row per (scored or text) feedback and theme: feedback_id, customer_id, created_at, nps, theme, sentiment."""
    query = (
        select(
            feedback.c.feedback_id,
            feedback.c.customer_id,
            feedback.c.created_at,
            feedback.c.nps,
            feedback_themes.c.theme_id.label("theme"),
            feedback_themes.c.theme_label.label("theme_label"),
            feedback_themes.c.sentiment_score.label("sentiment"),
        )
        .select_from(
            feedback.outerjoin(
                feedback_themes, feedback_themes.c.feedback_id == feedback.c.feedback_id
            )
        )
        .order_by(feedback.c.feedback_id)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "feedback_id",
            "customer_id",
            "created_at",
            "nps",
            "theme",
            "theme_label",
            "sentiment",
        ],
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["nps"] = pd.to_numeric(frame["nps"])
    return frame


def theme_period_counts(store: Store, period: str, segment: str | None = None) -> pd.DataFrame:
    """Per period (and segment): analysed responses, and per theme: count, sentiment sum and sum of squares."""
    dialect = store.dialect
    period_column = period_expression(dialect, feedback.c.created_at, period).label("period")
    keys: list[ColumnElement[Any]] = [period_column]
    source: Any = feedback.join(
        feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
    )
    if segment:
        source = source.join(customers, customers.c.customer_id == feedback.c.customer_id)
        keys.append(attribute_expression(dialect, segment).label("segment"))
    totals = select(*keys, func.count().label("responses")).select_from(source).group_by(*keys)
    themed = (
        select(
            *keys,
            feedback_themes.c.theme_id.label("theme"),
            func.max(feedback_themes.c.theme_label).label("theme_label"),
            func.count().label("count"),
            func.sum(func.coalesce(feedback_themes.c.sentiment_score, 0.0)).label("sentiment_sum"),
            func.sum(
                func.coalesce(feedback_themes.c.sentiment_score, 0.0)
                * func.coalesce(feedback_themes.c.sentiment_score, 0.0)
            ).label("sentiment_sq"),
        )
        .select_from(
            source.join(feedback_themes, feedback_themes.c.feedback_id == feedback.c.feedback_id)
        )
        .group_by(*keys, feedback_themes.c.theme_id)
    )
    with store.engine.connect() as connection:
        total_rows = connection.execute(totals).all()
        theme_rows = connection.execute(themed).all()
    key_names = ["period", *(["segment"] if segment else [])]
    total_frame = pd.DataFrame(total_rows, columns=[*key_names, "responses"])
    theme_frame = pd.DataFrame(
        theme_rows,
        columns=[*key_names, "theme", "theme_label", "count", "sentiment_sum", "sentiment_sq"],
    )
    return theme_frame.merge(total_frame, on=key_names, how="left")


__all__ = [
    "PERIODS",
    "SCORES",
    "attribute_expression",
    "churn_counts",
    "customer_table",
    "feedback_attribute_names",
    "period_expression",
    "response_themes",
    "survey_aggregates",
    "theme_period_counts",
]
