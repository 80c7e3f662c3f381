"""Point-in-time reads: what the store knew about some customers at an instant ``as_of``.

This is the one place where time is cut. Every read here takes ``as_of`` and filters in SQL:
nothing dated on or after ``as_of`` leaves the database (feedback, its analysis and themes);
customers come only when active at ``as_of`` (signed up before it, not churned before it), and
without their churn date, which is an outcome. Outcomes are read separately
(``churn_dates``), for labels only.

Customers are selected by id (one customer, a request's few) or by a range of ids (a bucket
of a bulk job, see ``customer_buckets``), so a read's size depends on the selection, not on
the store. Rows come ordered by customer, time and id, the order features rely on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Text, cast, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from cxml.contract import AsOf
from cxml.store.active import active_sql, day_cut
from cxml.store.database import Store
from cxml.store.tables import customers, feedback, feedback_analysis, feedback_themes

CUSTOMER_COLUMNS = ("customer_id", "signup_date", "monthly_value", "attributes")
FEEDBACK_COLUMNS = (
    "feedback_id",
    "customer_id",
    "created_at",
    "channel",
    "nps",
    "csat",
    "ces",
    "text",
    "sentiment_score",
    "intents",
)
THEME_COLUMNS = (
    "feedback_id",
    "customer_id",
    "created_at",
    "theme_id",
    "theme_label",
    "sentiment_score",
    "span_start",
    "span_end",
)


@dataclass(frozen=True)
class Selection:
    """Which customers a read is about: all, these ids, or the ids from ``first`` to ``last``
    (a bucket; both included, in the database's order)."""

    ids: tuple[str, ...] | None = None
    first: str | None = None
    last: str | None = None

    @classmethod
    def of(cls, ids: Sequence[str]) -> Selection:
        """These customers."""
        return cls(ids=tuple(dict.fromkeys(str(i) for i in ids)))

    def where(self, column: Any) -> list[ColumnElement[bool]]:
        """The SQL conditions on a customer id ``column``."""
        conditions: list[ColumnElement[bool]] = []
        if self.ids is not None:
            conditions.append(column.in_(list(self.ids)))
        if self.first is not None:
            conditions.append(column >= self.first)
        if self.last is not None:
            conditions.append(column <= self.last)
        return conditions


EVERYONE = Selection()


@dataclass(frozen=True)
class History:
    """What was known at ``as_of`` about the customers active then.

    ``customers``: customer_id, signup_date (datetime64), monthly_value (float),
    attributes (dict). ``feedback``: one row per feedback dated before ``as_of`` —
    ``FEEDBACK_COLUMNS``, with the stored analysis (sentiment_score, intents as a list, or
    missing when not analysed); ``themes``: one row per (feedback, theme) — ``THEME_COLUMNS``.
    Feedback and themes are ordered by customer, created_at, feedback_id (and theme id).
    """

    as_of: AsOf
    customers: pd.DataFrame
    feedback: pd.DataFrame
    themes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(THEME_COLUMNS)))

    @classmethod
    def from_frames(
        cls,
        as_of: AsOf,
        customers: pd.DataFrame,
        feedback: pd.DataFrame,
        themes: pd.DataFrame | None = None,
    ) -> History:
        """A history from frames that are already cut at ``as_of`` (a request's inline data
        merged with a stored history, or a Spark task's bucket): columns completed, dates and
        times parsed as ``read_history`` parses them, attributes from dicts or JSON text, rows
        put in order."""
        people = customers.reindex(columns=list(CUSTOMER_COLUMNS)).copy()
        people["signup_date"] = _times(people["signup_date"])
        people["monthly_value"] = pd.to_numeric(people["monthly_value"], errors="coerce").astype(
            float
        )
        people["attributes"] = pd.Series(
            [a if isinstance(a, dict) else (_json(a) or {}) for a in people["attributes"]],
            dtype=object,
            index=people.index,
        )
        rows = feedback.reindex(columns=list(FEEDBACK_COLUMNS)).copy()
        rows["created_at"] = _times(rows["created_at"])
        for score in ("nps", "csat", "ces", "sentiment_score"):
            rows[score] = pd.to_numeric(rows[score], errors="coerce").astype(float)
        rows = rows.sort_values(["customer_id", "created_at", "feedback_id"], kind="stable")
        mentioned = (
            themes.reindex(columns=list(THEME_COLUMNS)).copy()
            if themes is not None
            else pd.DataFrame(columns=list(THEME_COLUMNS))
        )
        mentioned["created_at"] = _times(mentioned["created_at"])
        for number in ("sentiment_score", "span_start", "span_end"):
            mentioned[number] = pd.to_numeric(mentioned[number], errors="coerce").astype(float)
        mentioned = mentioned.sort_values(
            ["customer_id", "created_at", "feedback_id", "theme_id"], kind="stable"
        )
        return cls(
            as_of,
            people.sort_values("customer_id", kind="stable").reset_index(drop=True),
            rows.reset_index(drop=True),
            mentioned.reset_index(drop=True),
        )

    def only(self, customer_ids: Sequence[str]) -> History:
        """The same history restricted to these customers."""
        wanted = set(customer_ids)
        return History(
            self.as_of,
            self.customers[self.customers["customer_id"].isin(wanted)].reset_index(drop=True),
            self.feedback[self.feedback["customer_id"].isin(wanted)].reset_index(drop=True),
            self.themes[self.themes["customer_id"].isin(wanted)].reset_index(drop=True),
        )


def _ordered(column: Any, dialect: str) -> Any:
    """Byte order for ids, whatever the database's collation (so ties sort alike everywhere)."""
    return column.collate("C") if dialect == "postgresql" else column


@dataclass(frozen=True)
class HistoryQueries:
    """The three statements of a point-in-time read: customers active at the instant, their
    feedback (with its analysis) and the themes mentioned, all dated before it. Dates, times
    and JSON come back as text, so any reader (SQLAlchemy here, Spark over JDBC) gets the same
    values and no per-value conversion."""

    customers: Any
    feedback: Any
    themes: Any

    def sql(self, dialect: Any) -> dict[str, str]:
        """The statements as SQL text with their values inlined (for a JDBC reader)."""
        return {
            name: str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            for name, statement in (
                ("customers", self.customers),
                ("feedback", self.feedback),
                ("themes", self.themes),
            )
        }


def history_queries(dialect: str, as_of: AsOf, selection: Selection = EVERYONE) -> HistoryQueries:
    """The statements ``read_history`` runs (see ``HistoryQueries``)."""
    instant = as_of.to_pydatetime()
    text_of = _as_text(dialect)
    people_query = (
        select(
            customers.c.customer_id,
            text_of(customers.c.signup_date),
            customers.c.monthly_value,
            text_of(customers.c.attributes),
        )
        .where(active_sql(as_of), *selection.where(customers.c.customer_id))
        .order_by(_ordered(customers.c.customer_id, dialect))
    )
    before = feedback.c.created_at < instant
    feedback_query = (
        select(
            feedback.c.feedback_id,
            feedback.c.customer_id,
            text_of(feedback.c.created_at),
            feedback.c.channel,
            feedback.c.nps,
            feedback.c.csat,
            feedback.c.ces,
            feedback.c.text,
            feedback_analysis.c.sentiment_score,
            text_of(feedback_analysis.c.intents),
        )
        .select_from(
            feedback.outerjoin(
                feedback_analysis, feedback_analysis.c.feedback_id == feedback.c.feedback_id
            )
        )
        .where(before, *selection.where(feedback.c.customer_id))
        .order_by(
            _ordered(feedback.c.customer_id, dialect),
            feedback.c.created_at,
            _ordered(feedback.c.feedback_id, dialect),
        )
    )
    themes_query = (
        select(
            feedback_themes.c.feedback_id,
            feedback.c.customer_id,
            text_of(feedback.c.created_at),
            feedback_themes.c.theme_id,
            feedback_themes.c.theme_label,
            feedback_themes.c.sentiment_score,
            feedback_themes.c.span_start,
            feedback_themes.c.span_end,
        )
        .select_from(
            feedback_themes.join(feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id)
        )
        .where(before, *selection.where(feedback.c.customer_id))
        .order_by(
            _ordered(feedback.c.customer_id, dialect),
            feedback.c.created_at,
            _ordered(feedback.c.feedback_id, dialect),
            _ordered(feedback_themes.c.theme_id, dialect),
        )
    )
    return HistoryQueries(people_query, feedback_query, themes_query)


def read_history(
    store: Store,
    as_of: AsOf,
    selection: Selection = EVERYONE,
    *,
    with_text: bool = True,
) -> History:
    """The customers of ``selection`` active at ``as_of``, with everything dated before it."""
    queries = history_queries(store.dialect, as_of, selection)
    with store.engine.connect() as connection:
        people = _frame(connection, queries.customers, CUSTOMER_COLUMNS)
        rows = _frame(connection, queries.feedback, FEEDBACK_COLUMNS)
        themes = _frame(
            connection, queries.themes if with_text else queries.themes.limit(0), THEME_COLUMNS
        )
    return history_from_text(as_of, people, rows, themes, with_text=with_text)


def history_from_text(
    as_of: AsOf,
    people: pd.DataFrame,
    rows: pd.DataFrame,
    themes: pd.DataFrame,
    *,
    with_text: bool = True,
) -> History:
    """A history from the rows of ``HistoryQueries`` as they come back (text dates and JSON),
    already in their order."""
    people["signup_date"] = _times(people["signup_date"])
    people["monthly_value"] = pd.to_numeric(people["monthly_value"]).astype(float)
    people["attributes"] = pd.Series(
        [_json(a) or {} for a in people["attributes"]], dtype=object, index=people.index
    )
    rows["created_at"] = _times(rows["created_at"])
    for score in ("nps", "csat", "ces", "sentiment_score"):
        rows[score] = pd.to_numeric(rows[score]).astype(float)
    if not with_text:
        rows["sentiment_score"] = np.nan
        rows["intents"] = pd.Series([None] * len(rows), dtype=object, index=rows.index)
    themes["created_at"] = _times(themes["created_at"])
    for number in ("sentiment_score", "span_start", "span_end"):
        if number in themes:  # spans: where in the comment the theme was read (NaN: nowhere)
            themes[number] = pd.to_numeric(themes[number]).astype(float)
    return History(as_of, people, rows, themes)


def _as_text(dialect: str) -> Any:
    """Dates, times and JSON read as the database's own text (CAST in the SQL): no per-value
    conversion in Python or a JDBC driver (pandas parses a whole column at once; intents stay
    JSON text)."""

    def text_of(column: Any) -> Any:
        return cast(column, Text).label(column.name)

    return text_of


def _frame(connection: Connection, query: Any, names: Sequence[str]) -> pd.DataFrame:
    """A query's rows as a frame of plain object columns (built column by column).

    The driver's tuples are read straight from the cursor: every column is a plain type
    (dates, times and JSON come as text), so SQLAlchemy has no value to convert and building a
    Row per record would only cost time."""
    result = connection.execute(query)
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    values = np.empty((len(rows), len(names)), dtype=object)
    if rows:
        values[:] = rows
    return pd.DataFrame(values, columns=list(names), dtype=object)


def _times(values: pd.Series) -> pd.Series:
    """Stored dates or times (ISO text, or datetimes) as datetime64[ns]."""
    if values.empty:
        return pd.Series([], dtype="datetime64[ns]", index=values.index)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]")
    return pd.to_datetime(values, format="ISO8601").astype("datetime64[ns]")


def customer_buckets(
    store: Store, size: int, *, signed_up_before: AsOf | None = None
) -> Iterator[Selection]:
    """Consecutive ranges of at most ``size`` customer ids (signed up before the given instant,
    when given), in the database's order: the buckets of a bulk job. Reads ``size`` ids at a
    time, so memory does not grow with the store."""
    after: str | None = None
    while True:
        query = select(customers.c.customer_id).order_by(customers.c.customer_id).limit(size)
        if signed_up_before is not None:
            query = query.where(customers.c.signup_date < day_cut(signed_up_before))
        if after is not None:
            query = query.where(customers.c.customer_id > after)
        with store.engine.connect() as connection:
            ids = connection.execute(query).scalars().all()
        if not ids:
            return
        yield Selection(first=str(ids[0]), last=str(ids[-1]))
        if len(ids) < size:
            return
        after = str(ids[-1])


def count_active(store: Store, as_of: AsOf) -> int:
    """How many customers are active at ``as_of``."""
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(customers).where(active_sql(as_of))
            ).scalar_one()
        )


def churn_dates(store: Store, selection: Selection, *, known_by: AsOf) -> pd.Series:
    """Stored churn dates known by ``known_by`` (later ones are not known yet: NaT), per
    customer id, with each customer's signup date: the outcomes labels are made of."""
    cut = day_cut(known_by)
    query = (
        select(customers.c.customer_id, customers.c.signup_date, customers.c.churn_date)
        .where(customers.c.signup_date < cut, *selection.where(customers.c.customer_id))
        .order_by(customers.c.customer_id)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "signup_date", "churn_date"])
    churn = pd.to_datetime(frame["churn_date"]).astype("datetime64[ns]")
    churn = churn.where(churn < pd.Timestamp(cut))
    return pd.Series(churn.to_numpy(), index=pd.Index(frame["customer_id"], name="customer_id"))


def interaction_times(store: Store, selection: Selection, *, before: AsOf) -> pd.DataFrame:
    """Every interaction (signup or feedback) of the selected customers before ``before``:
    customer_id, at — what inactivity churn is decided from."""
    instant = before.to_pydatetime()
    signups = select(customers.c.customer_id, customers.c.signup_date).where(
        customers.c.signup_date < day_cut(before),
        *selection.where(customers.c.customer_id),
    )
    contacts = select(feedback.c.customer_id, feedback.c.created_at).where(
        feedback.c.created_at < instant, *selection.where(feedback.c.customer_id)
    )
    with store.engine.connect() as connection:
        joined = pd.DataFrame(connection.execute(signups).all(), columns=["customer_id", "at"])
        contacted = pd.DataFrame(connection.execute(contacts).all(), columns=["customer_id", "at"])
    for frame in (joined, contacted):
        frame["at"] = pd.to_datetime(frame["at"]).astype("datetime64[ns]")
    return pd.concat([joined, contacted], ignore_index=True)


# --- what a feature spec is fixed from ---------------------------------------------------------


def theme_mentions(store: Store, before: AsOf) -> dict[str, int]:
    """Mentions per theme id (``other`` left out) in feedback dated before ``before``."""
    instant = before.to_pydatetime()
    query = (
        select(feedback_themes.c.theme_id, func.count())
        .select_from(
            feedback_themes.join(feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id)
        )
        .where(feedback.c.created_at < instant, feedback_themes.c.theme_id != "other")
        .group_by(feedback_themes.c.theme_id)
    )
    with store.engine.connect() as connection:
        return {str(t): int(n) for t, n in connection.execute(query).all()}


def channels_before(store: Store, before: AsOf) -> list[str]:
    """The channels of feedback dated before ``before``, sorted."""
    instant = before.to_pydatetime()
    query = select(feedback.c.channel).where(feedback.c.created_at < instant).distinct()
    with store.engine.connect() as connection:
        return sorted(str(c) for c in connection.execute(query).scalars() if c is not None)


def attribute_names(store: Store, signed_up_before: AsOf | None = None) -> list[str]:
    """The attribute names customers signed up before the given instant have (all customers'
    without one), sorted."""
    where = "" if signed_up_before is None else " WHERE customers.signup_date < :cut"
    if store.dialect == "postgresql":
        query = text(f"SELECT DISTINCT jsonb_object_keys(attributes) FROM customers{where}")
    else:
        query = text(
            f"SELECT DISTINCT j.key FROM customers, json_each(customers.attributes) AS j{where}"
        )
    bound = {} if signed_up_before is None else {"cut": day_cut(signed_up_before)}
    with store.engine.connect() as connection:
        return sorted(str(k) for k in connection.execute(query, bound).scalars())


def theme_labels(store: Store) -> dict[str, str]:
    """Each theme id's most frequent stored label (for reasons in plain words)."""
    query = select(
        feedback_themes.c.theme_id, feedback_themes.c.theme_label, func.count().label("n")
    ).group_by(feedback_themes.c.theme_id, feedback_themes.c.theme_label)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    best: dict[str, tuple[int, str]] = {}
    for theme_id, label, n in sorted(rows, key=lambda r: (str(r[0]), str(r[1]))):
        if theme_id not in best or int(n) > best[theme_id][0]:
            best[str(theme_id)] = (int(n), str(label))
    return {theme_id: label for theme_id, (_, label) in best.items()}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


__all__ = [
    "EVERYONE",
    "History",
    "Selection",
    "attribute_names",
    "channels_before",
    "churn_dates",
    "count_active",
    "customer_buckets",
    "day_cut",
    "interaction_times",
    "read_history",
    "theme_labels",
    "theme_mentions",
]
