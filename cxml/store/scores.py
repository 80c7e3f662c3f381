"""Churn scores as stored: one row per customer, as-of date and model version.

"A customer's score" always means the one with the latest ``as_of`` (ties: the latest
``features_as_of``, then the latest ``scored_at``): a backdated run is kept as history and
never shadows a newer one, whenever it was computed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)

from cxml.contract import ANONYMOUS_PREFIX
from cxml.store.database import Store, date_text, drop_stage, stage, timestamp_text
from cxml.store.metrics import attribute_expression
from cxml.store.tables import (
    customers,
    feedback,
    feedback_analysis,
    feedback_themes,
    follow_ups,
    latest_scores,
    scores,
)

#: Time to churn (NULL when the scoring model has no survival companion).
TIMING_COLUMNS = ("survival_30", "survival_60", "survival_90", "expected_days")
SCORE_COLUMNS = (
    "customer_id",
    "as_of",
    "model_version",
    "probability",
    "ranking_score",
    "band",
    "revenue_at_risk",
    "reasons",
    "attribution",
    "scored_at",
    "features_as_of",
    *TIMING_COLUMNS,
)
_STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", "TEXT"),
    ("as_of", "DATE"),
    ("model_version", "TEXT"),
    ("probability", "DOUBLE PRECISION"),
    ("ranking_score", "DOUBLE PRECISION"),
    ("band", "TEXT"),
    ("revenue_at_risk", "DOUBLE PRECISION"),
    ("reasons", "TEXT"),
    ("attribution", "TEXT"),
    ("scored_at", "TIMESTAMP"),
    ("features_as_of", "TIMESTAMP"),
    *((c, "DOUBLE PRECISION") for c in TIMING_COLUMNS),
)


class Sort(StrEnum):
    """How the at-risk list is ordered (highest first). ``probability`` orders by the
    ranking score, the model's full score (the calibrated probability shown has plateaus);
    exact ties by the revenue at risk."""

    PROBABILITY = "probability"
    REVENUE_AT_RISK = "revenue_at_risk"
    EXPECTED_SAVED = "expected_saved"  # revenue at risk × the share contact saves, by band


SORTS = tuple(s.value for s in Sort)
SMALL_WRITE = 200


def write_scores(store: Store, frame: pd.DataFrame, connection: Connection | None = None) -> int:
    """Upsert scores (``SCORE_COLUMNS``): a row replaces only the same (customer, as-of date,
    model version). One statement through a staging table; in ``connection``'s transaction
    when given. Returns the rows written."""
    if frame.empty:
        return 0
    missing: dict[str, Any] = {c: np.nan for c in TIMING_COLUMNS if c not in frame.columns}
    if "ranking_score" not in frame.columns:  # a frame from before ranking scores: the order
        missing["ranking_score"] = frame["probability"]  # it had
    if missing:
        frame = frame.assign(**missing)
    if len(frame) <= SMALL_WRITE:  # a request's few: bound rows, no staging table
        if connection is not None:
            _upsert_rows(connection, frame)
        else:
            with store.begin() as conn:
                _upsert_rows(conn, frame)
        return len(frame)
    staged = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(object).to_numpy(),
            "as_of": date_text(pd.to_datetime(frame["as_of"])),
            "model_version": frame["model_version"].astype(str).to_numpy(),
            "probability": frame["probability"].to_numpy(dtype=float),
            "ranking_score": frame["ranking_score"].to_numpy(dtype=float),
            "band": frame["band"].to_numpy(dtype=object),
            "revenue_at_risk": pd.to_numeric(frame["revenue_at_risk"]).to_numpy(dtype=float),
            "reasons": [
                r if isinstance(r, str) else json.dumps(r, ensure_ascii=False, default=str)
                for r in frame["reasons"]
            ],
            "attribution": frame["attribution"].to_numpy(dtype=object),
            "scored_at": timestamp_text(pd.to_datetime(frame["scored_at"])),
            "features_as_of": timestamp_text(pd.to_datetime(frame["features_as_of"])),
            **{c: pd.to_numeric(frame[c]).to_numpy(dtype=float) for c in TIMING_COLUMNS},
        }
    )

    def write(conn: Connection) -> None:
        stage(conn, "stage_scores", _STAGE_COLUMNS, staged)
        postgres = conn.dialect.name == "postgresql"
        selected = [
            "CAST(reasons AS JSONB)" if c == "reasons" and postgres else c for c in SCORE_COLUMNS
        ]
        updates = ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS[3:])
        conn.exec_driver_sql(
            f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}) "
            f"SELECT {', '.join(selected)} FROM stage_scores WHERE true "
            f"ON CONFLICT (customer_id, as_of, model_version) DO UPDATE SET {updates}"
        )
        # A run's rows are usually each customer's newest: one keyed upsert keeps them; only
        # customers whose latest row shares the as-of date of a written row without being that
        # row (a same-day rerun, two versions on one day) are ranked again over their history.
        conn.exec_driver_sql(_NEWER_LATEST)
        conn.exec_driver_sql(_REFRESH_LATEST.format(customers=_SAME_DAY))
        drop_stage(conn, "stage_scores")

    if connection is not None:
        write(connection)
    else:
        with store.begin() as conn:
            write(conn)
    return len(staged)


def _upsert_rows(connection: Connection, frame: pd.DataFrame) -> None:
    """The same upsert as the staged one, with the rows bound as parameters."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert: Any = (
        postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    )
    rows = []
    for values in zip(*(frame[c].tolist() for c in SCORE_COLUMNS), strict=True):
        record = dict(zip(SCORE_COLUMNS, values, strict=True))
        record["as_of"] = pd.Timestamp(record["as_of"]).date()
        record["model_version"] = str(record["model_version"])
        for column in ("scored_at", "features_as_of"):
            record[column] = pd.Timestamp(record[column]).to_pydatetime()
        if isinstance(record["reasons"], str):
            record["reasons"] = json.loads(record["reasons"])
        record["ranking_score"] = float(record["ranking_score"])
        for column in ("revenue_at_risk", *TIMING_COLUMNS):
            value = record[column]
            record[column] = None if value is None or value != value else float(value)
        rows.append(record)
    statement = dialect_insert(scores)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id", "as_of", "model_version"],
            set_={c: statement.excluded[c] for c in SCORE_COLUMNS[3:]},
        ),
        rows,
    )
    connection.execute(
        text(_REFRESH_LATEST.format(customers=":ids")).bindparams(bindparam("ids", expanding=True)),
        {"ids": sorted({r["customer_id"] for r in rows})},
    )


# Each written customer's latest score (the ranking of ``_ordering``) into latest_scores, in
# the write's transaction: a backdated run changes nothing there, a newer one replaces the row.
_COLUMNS = ", ".join(SCORE_COLUMNS)
_RANKED = "row_number() OVER (PARTITION BY customer_id ORDER BY as_of DESC, features_as_of DESC, scored_at DESC)"
_NEWER_LATEST = (
    f"INSERT INTO latest_scores ({_COLUMNS}) SELECT {_COLUMNS} FROM ("
    f"SELECT {', '.join('s.' + c for c in SCORE_COLUMNS)}, row_number() OVER ("
    "PARTITION BY s.customer_id ORDER BY s.as_of DESC, s.features_as_of DESC, s.scored_at DESC"
    ") AS rank FROM scores s JOIN stage_scores t ON t.customer_id = s.customer_id "
    "AND t.as_of = s.as_of AND t.model_version = s.model_version) written WHERE rank = 1 "
    "ON CONFLICT (customer_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS[1:])
    + " WHERE excluded.as_of > latest_scores.as_of"
)
_SAME_DAY = (
    "(SELECT l.customer_id FROM latest_scores l JOIN stage_scores t "
    "ON t.customer_id = l.customer_id AND t.as_of = l.as_of "
    "WHERE NOT (t.model_version = l.model_version AND t.scored_at = l.scored_at AND "
    "(t.features_as_of = l.features_as_of OR (t.features_as_of IS NULL AND l.features_as_of IS NULL))))"
)
_REFRESH_LATEST = (
    f"INSERT INTO latest_scores ({_COLUMNS}) "
    f"SELECT {_COLUMNS} FROM ("
    f"SELECT {_COLUMNS}, {_RANKED} AS rank "
    "FROM scores WHERE customer_id IN {customers}) ranked WHERE rank = 1 "
    "ON CONFLICT (customer_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS[1:])
)


def _ordering() -> tuple[Any, ...]:
    return (scores.c.as_of.desc(), scores.c.features_as_of.desc(), scores.c.scored_at.desc())


def has_scores(store: Store) -> bool:
    """Whether any customer has a stored score (one row read)."""
    with store.engine.connect() as connection:
        return connection.execute(select(latest_scores.c.customer_id).limit(1)).first() is not None


def latest_score(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The customer's score with the latest as-of date, or None."""
    query = (
        select(scores).where(scores.c.customer_id == customer_id).order_by(*_ordering()).limit(1)
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else {**dict(row), "reasons": _json(row["reasons"])}


def score_history(store: Store, customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The customer's scores, latest as-of date first (without reasons)."""
    query = (
        select(
            scores.c.as_of,
            scores.c.model_version,
            scores.c.probability,
            scores.c.band,
            scores.c.revenue_at_risk,
            scores.c.scored_at,
            scores.c.survival_90,
            scores.c.expected_days,
        )
        .where(scores.c.customer_id == customer_id)
        .order_by(*_ordering())
        .limit(limit)
    )
    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def top_scores(store: Store, as_of: date, limit: int = 10) -> pd.DataFrame:
    """The highest churn risks stored for the day ``as_of`` (the scores' as-of date, any model
    version), highest ranking score first (ties: the larger revenue at risk)."""
    query = (
        select(scores)
        .where(scores.c.as_of == as_of)
        .order_by(
            scores.c.ranking_score.desc(),
            func.coalesce(scores.c.revenue_at_risk, -1.0).desc(),
            scores.c.customer_id.desc(),
        )
        .limit(limit)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in scores.columns])


def fresh_scores(
    store: Store, customer_ids: Sequence[str], model_version: str, since: datetime
) -> dict[str, dict[str, Any]]:
    """Stored scores still true now, by customer: by ``model_version``, from features cut on or
    after ``since``, and after the last change to the customer, their feedback or its analysis."""
    if not customer_ids:
        return {}
    out: dict[str, dict[str, Any]] = {}
    one = len(customer_ids) == 1
    with store.engine.connect() as connection:
        found = connection.execute(
            _fresh_scores_query(one),
            {
                "ids": customer_ids[0] if one else list(customer_ids),
                "version": model_version,
                "since": since,
            },
        )
        for row in found.mappings():
            if row["customer_id"] not in out:
                out[row["customer_id"]] = {**dict(row), "reasons": _json(row["reasons"])}
    return out


@functools.cache
def _fresh_scores_query(one: bool) -> Any:
    """Built once: the hot path of POST /v1/score only binds its parameters (one customer:
    an equality, which is compiled once; several: an expanding IN list)."""
    cut = scores.c.features_as_of
    last_feedback = (
        select(func.max(feedback.c.updated_at))
        .where(feedback.c.customer_id == scores.c.customer_id)
        .scalar_subquery()
    )
    last_analysis = (
        select(func.max(feedback_analysis.c.analysed_at))
        .select_from(
            feedback_analysis.join(
                feedback, feedback.c.feedback_id == feedback_analysis.c.feedback_id
            )
        )
        .where(feedback.c.customer_id == scores.c.customer_id)
        .scalar_subquery()
    )
    return (
        select(scores)
        .join(customers, customers.c.customer_id == scores.c.customer_id)
        .where(
            scores.c.customer_id == bindparam("ids")
            if one
            else scores.c.customer_id.in_(bindparam("ids", expanding=True)),
            scores.c.model_version == bindparam("version"),
            cut >= bindparam("since", type_=DateTime()),
            customers.c.updated_at <= cut,
            or_(last_feedback.is_(None), last_feedback <= cut),
            or_(last_analysis.is_(None), last_analysis <= cut),
        )
        .order_by(scores.c.customer_id, cut.desc())
    )


@functools.cache
def _latest_scores() -> Any:
    """Each customer's score with the latest as-of date (ties: latest cut, then computation),
    as ``latest_scores`` keeps it; ``rank`` is 1 on every row (the readers' condition). Built
    once: its column collection costs more to build than the query costs to run."""
    return select(latest_scores, literal(1).label("rank")).subquery("ranked")


@functools.cache
def _latest_follow_up() -> Any:
    return follow_ups.alias("latest_follow_up")


def _latest_follow_up_of(customer_id: Any) -> Any:
    """The id of the customer's latest follow-up (one index lookup per customer read, not a
    ranking of every follow-up)."""
    return (
        select(follow_ups.c.follow_up_id)
        .where(follow_ups.c.customer_id == customer_id)
        .order_by(follow_ups.c.updated_at.desc(), follow_ups.c.follow_up_id.desc())
        .limit(1)
        .scalar_subquery()
    )


def at_risk_query(
    store: Store,
    *,
    today: datetime,
    sort: str = "probability",
    limit: int = 50,
    after: tuple[float, str] | None = None,
    bands: Sequence[str] = (),
    min_probability: float | None = None,
    attributes: dict[str, str] | None = None,
    themes: Sequence[str] = (),
    theme_days: int = 90,
    follow_up_status: Sequence[str] = (),
    handled_since: datetime | None = None,
    saved_share: dict[str, float] | None = None,
) -> Any:
    """The SELECT behind ``at_risk`` (same arguments), not run: to run, or to explain."""
    ranked = _latest_scores()
    latest_follow = _latest_follow_up()
    # As the index ix_latest_scores_revenue is written (a constant, so the index serves it).
    revenue = func.coalesce(ranked.c.revenue_at_risk, literal_column("-1.0", Float))
    factor = (
        case(
            *(
                (ranked.c.band == band, literal(float(share), Float))
                for band, share in (saved_share or {}).items()
            ),
            else_=literal(1.0, Float),
        )
        if saved_share
        else literal(1.0, Float)
    )
    expected = (revenue * factor).label("expected_saved")
    # (sort key, its tie-break): ties are broken by what matters next, never by the id; the
    # id (descending, so one index serves the whole order) only makes the order total for
    # the page cursor, for rows equal in both.
    first, second = (
        (ranked.c.ranking_score, revenue)
        if sort == "probability"
        else (revenue, ranked.c.ranking_score)
        if sort == "revenue_at_risk"
        else (revenue * factor, ranked.c.ranking_score)
    )
    key = first.label("sort_key")
    query = (
        select(
            ranked.c.customer_id,
            ranked.c.probability,
            ranked.c.band,
            ranked.c.revenue_at_risk,
            ranked.c.reasons,
            ranked.c.attribution,
            ranked.c.model_version,
            ranked.c.as_of,
            ranked.c.scored_at,
            *(ranked.c[c] for c in TIMING_COLUMNS),
            customers.c.monthly_value,
            customers.c.attributes,
            latest_follow.c.follow_up_id,
            latest_follow.c.owner,
            latest_follow.c.status,
            latest_follow.c.note,
            latest_follow.c.outcome,
            latest_follow.c.updated_at.label("follow_up_updated_at"),
            latest_follow.c.channel.label("follow_up_channel"),
            expected,
            key,
        )
        .select_from(
            ranked.join(customers, customers.c.customer_id == ranked.c.customer_id).outerjoin(
                latest_follow,
                latest_follow.c.follow_up_id == _latest_follow_up_of(ranked.c.customer_id),
            )
        )
        .where(ranked.c.rank == 1)
        .where(or_(customers.c.churn_date.is_(None), customers.c.churn_date > today.date()))
    )
    if bands:
        query = query.where(ranked.c.band.in_(list(bands)))
    if min_probability is not None:
        query = query.where(ranked.c.probability >= min_probability)
    for name, value in (attributes or {}).items():
        expression = attribute_expression(store.dialect, name)
        if store.dialect == "sqlite":
            expression = cast(expression, String)
        query = query.where(expression == value)
    if themes:
        since = today - timedelta(days=theme_days)
        query = query.where(
            exists(
                select(literal(1))
                .select_from(
                    feedback_themes.join(
                        feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id
                    )
                )
                .where(
                    feedback.c.customer_id == ranked.c.customer_id,
                    feedback.c.created_at >= since,
                    feedback_themes.c.theme_id.in_(list(themes)),
                )
            )
        )
    if follow_up_status:
        wanted = [s for s in follow_up_status if s != "none"]
        condition = latest_follow.c.status.in_(wanted) if wanted else literal(False)
        if "none" in follow_up_status:
            condition = or_(condition, latest_follow.c.follow_up_id.is_(None))
        query = query.where(condition)
    if handled_since is not None:
        query = query.where(
            or_(
                latest_follow.c.follow_up_id.is_(None),
                latest_follow.c.status.not_in(["contacted", "resolved", "lost"]),
                latest_follow.c.updated_at < handled_since,
            )
        )
    if after is not None:
        after_value, after_id = after
        # The cursor row's tie-break, read again (the cursor carries the key and the id).
        cursor = latest_scores.alias("cursor_row")
        cursor_second = (
            select(
                func.coalesce(cursor.c.revenue_at_risk, literal_column("-1.0", Float))
                if sort == "probability"
                else cursor.c.ranking_score
            )
            .where(cursor.c.customer_id == after_id)
            .scalar_subquery()
        )
        query = query.where(
            tuple_(first, second, ranked.c.customer_id)
            < tuple_(literal(float(after_value), Float), cursor_second, literal(str(after_id)))
        )
    query = query.order_by(key.desc(), second.desc(), ranked.c.customer_id.desc()).limit(limit)
    return query


def at_risk(
    store: Store,
    *,
    today: datetime,
    sort: str = "probability",
    limit: int = 50,
    after: tuple[float, str] | None = None,
    bands: Sequence[str] = (),
    min_probability: float | None = None,
    attributes: dict[str, str] | None = None,
    themes: Sequence[str] = (),
    theme_days: int = 90,
    follow_up_status: Sequence[str] = (),
    handled_since: datetime | None = None,
    saved_share: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Active customers by their latest score, highest first by ``sort``, after a keyset cursor.

    ``handled_since``: leave out customers whose latest follow-up reached them (contacted,
    resolved, lost) since then. ``saved_share``: per band, the share of the revenue at risk a
    contact saves (``sort="expected_saved"``; a band not given counts as 1, so without any the
    order is the revenue at risk); each row then has ``expected_saved``.

    Order: ``sort="probability"`` by the ranking score (the model's full score; the
    calibrated probability shown has plateaus), ties by revenue at risk; by revenue at risk
    (or expected saved), ties by the ranking score; rows equal in both by customer id,
    descending, only so that pages never overlap.

    ``after`` = (sort value, customer_id) of the last row of the previous page. ``themes``:
    customers who raised any of them in the last ``theme_days``; ``follow_up_status``: the
    status of the customer's latest follow-up (``none`` for customers without one);
    ``attributes``: exact matches on customer attributes (compared as text, bound as
    parameters).
    """
    query = at_risk_query(
        store,
        today=today,
        sort=sort,
        limit=limit,
        after=after,
        bands=bands,
        min_probability=min_probability,
        attributes=attributes,
        themes=themes,
        theme_days=theme_days,
        follow_up_status=follow_up_status,
        handled_since=handled_since,
        saved_share=saved_share,
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    out = []
    for r in rows:
        follow = (
            None
            if r["follow_up_id"] is None
            else {
                "follow_up_id": r["follow_up_id"],
                "owner": r["owner"],
                "status": r["status"],
                "note": r["note"],
                "outcome": r["outcome"],
                "channel": r["follow_up_channel"],
                "updated_at": r["follow_up_updated_at"],
            }
        )
        out.append(
            {
                "customer_id": r["customer_id"],
                "probability": r["probability"],
                "band": r["band"],
                "revenue_at_risk": r["revenue_at_risk"],
                "reasons": _json(r["reasons"]),
                "attribution": r["attribution"],
                "model_version": r["model_version"],
                "as_of": r["as_of"],
                "scored_at": r["scored_at"],
                **{c: r[c] for c in TIMING_COLUMNS},
                "monthly_value": r["monthly_value"],
                "attributes": _json(r["attributes"]),
                "follow_up": follow,
                "expected_saved": None
                if r["revenue_at_risk"] is None or not saved_share
                else round(float(r["expected_saved"]), 2),
                "sort_key": r["sort_key"],
            }
        )
    return out


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _active_latest(today: datetime) -> tuple[Any, Any]:
    """The latest-score subquery and the condition 'its customer is still active today'."""
    ranked = _latest_scores()
    active = and_(
        ranked.c.rank == 1,
        or_(customers.c.churn_date.is_(None), customers.c.churn_date > today.date()),
    )
    return ranked, active


def at_risk_summary(store: Store, *, today: datetime) -> list[dict[str, Any]]:
    """Per band, the active customers by their latest score: how many, their revenue at risk
    and mean probability (bands with nobody are left out)."""
    ranked, active = _active_latest(today)
    query = (
        select(
            ranked.c.band,
            func.count().label("customers"),
            func.sum(func.coalesce(ranked.c.revenue_at_risk, 0.0)).label("revenue_at_risk"),
            func.avg(ranked.c.probability).label("mean_probability"),
        )
        .select_from(ranked.join(customers, customers.c.customer_id == ranked.c.customer_id))
        .where(active)
        .group_by(ranked.c.band)
    )
    with store.engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    for row in rows:  # money in cents, as each score holds it (a float sum is not)
        row["revenue_at_risk"] = round(float(row["revenue_at_risk"] or 0.0), 2)
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(rows, key=lambda r: order.get(r["band"], 3))


def score_coverage(store: Store, *, today: datetime) -> dict[str, Any]:
    """How much of the customer base the scores cover on ``today``, so that the at-risk totals
    are not read as the whole base. Anonymous survey respondents are no customers here.

    Returns ``store_customers`` (churned included), ``active_customers`` (not churned by
    ``today``, as ``at_risk_summary`` counts them), ``scored_customers`` (active, with a score:
    those ``at_risk_summary`` counts), ``unscored_customers`` (the other active ones),
    ``scored_as_of`` (the latest as-of date of any score, None before the first) and
    ``unscored``: the unscored customers by why —

    - ``joined_after_snapshot``: signed up on or after ``scored_as_of``, so no scoring run saw
      them yet;
    - ``loaded_after_scoring``: signed up before it, but loaded into the store after the latest
      scoring run;
    - ``never_scored``: the rest (every active customer before the first score; later, those
      left out of the runs, e.g. when only some were scored one by one through the API).
    """
    with store.engine.connect() as connection:
        scored_as_of, scored_at = connection.execute(
            select(func.max(latest_scores.c.as_of), func.max(latest_scores.c.scored_at))
        ).one()
        active = or_(customers.c.churn_date.is_(None), customers.c.churn_date > today.date())
        unscored = and_(active, latest_scores.c.customer_id.is_(None))
        joined: ColumnElement[bool]
        loaded: ColumnElement[bool]
        if scored_as_of is None:  # nothing scored yet: no snapshot to have joined after
            joined, loaded = literal(False), literal(False)
        else:
            joined = customers.c.signup_date >= scored_as_of
            loaded = and_(
                customers.c.signup_date < scored_as_of, customers.c.created_at > scored_at
            )

        def counted(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        row = connection.execute(
            select(
                func.count().label("store_customers"),
                counted(active).label("active_customers"),
                counted(and_(active, latest_scores.c.customer_id.is_not(None))).label("scored"),
                counted(and_(unscored, joined)).label("joined_after_snapshot"),
                counted(and_(unscored, loaded)).label("loaded_after_scoring"),
            )
            .select_from(
                customers.outerjoin(
                    latest_scores, latest_scores.c.customer_id == customers.c.customer_id
                )
            )
            .where(~customers.c.customer_id.startswith(ANONYMOUS_PREFIX, autoescape=True))
        ).one()
    active_customers, scored = int(row.active_customers), int(row.scored)
    joined_after, loaded_after = int(row.joined_after_snapshot), int(row.loaded_after_scoring)
    return {
        "store_customers": int(row.store_customers),
        "active_customers": active_customers,
        "scored_customers": scored,
        "unscored_customers": active_customers - scored,
        "scored_as_of": None if scored_as_of is None else pd.Timestamp(scored_as_of).date(),
        "unscored": {
            "joined_after_snapshot": joined_after,
            "loaded_after_scoring": loaded_after,
            "never_scored": active_customers - scored - joined_after - loaded_after,
        },
    }


def at_risk_by_theme(
    store: Store,
    *,
    today: datetime,
    theme_days: int = 90,
    bands: Sequence[str] = ("high", "medium"),
) -> dict[str, dict[str, float]]:
    """Per theme: the active customers in ``bands`` (latest score) who raised it in the last
    ``theme_days``, and the sum of their revenue at risk."""
    ranked, active = _active_latest(today)
    raised = (
        select(feedback.c.customer_id, feedback_themes.c.theme_id)
        .select_from(
            feedback_themes.join(feedback, feedback.c.feedback_id == feedback_themes.c.feedback_id)
        )
        .where(feedback.c.created_at >= today - timedelta(days=theme_days))
        .distinct()
        .subquery("raised")
    )
    query = (
        select(
            raised.c.theme_id,
            func.count().label("customers"),
            func.sum(func.coalesce(ranked.c.revenue_at_risk, 0.0)).label("revenue"),
        )
        .select_from(
            ranked.join(customers, customers.c.customer_id == ranked.c.customer_id).join(
                raised, raised.c.customer_id == ranked.c.customer_id
            )
        )
        .where(active, ranked.c.band.in_(list(bands)))
        .group_by(raised.c.theme_id)
    )
    with store.engine.connect() as connection:
        return {
            str(r["theme_id"]): {"customers": int(r["customers"]), "revenue": float(r["revenue"])}
            for r in connection.execute(query).mappings()
        }


def score_dates(store: Store, *, until: Any) -> list[Any]:
    """The as-of dates of stored scores on or before ``until``, oldest first."""
    with store.engine.connect() as connection:
        return sorted(
            pd.Timestamp(d).date()
            for d in connection.execute(
                select(scores.c.as_of).where(scores.c.as_of <= until).distinct()
            ).scalars()
        )


def scored_on(store: Store, dates: Sequence[Any], *, bands: Sequence[str]) -> pd.DataFrame:
    """The customers scored as of each of ``dates`` in ``bands`` (per customer and date, the
    latest computation). Columns: customer_id, as_of, probability, band, revenue_at_risk."""
    if not dates:
        return pd.DataFrame(
            columns=["customer_id", "as_of", "probability", "band", "revenue_at_risk"]
        )
    rank = (
        func.row_number()
        .over(
            partition_by=(scores.c.customer_id, scores.c.as_of),
            order_by=(scores.c.scored_at.desc(), scores.c.model_version.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            scores.c.customer_id,
            scores.c.as_of,
            scores.c.probability,
            scores.c.band,
            scores.c.revenue_at_risk,
            rank,
        )
        .where(scores.c.as_of.in_(list(dates)))
        .subquery()
    )
    query = select(
        ranked.c.customer_id,
        ranked.c.as_of,
        ranked.c.probability,
        ranked.c.band,
        ranked.c.revenue_at_risk,
    ).where(ranked.c.rank == 1, ranked.c.band.in_(list(bands)))
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(
        rows, columns=["customer_id", "as_of", "probability", "band", "revenue_at_risk"]
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame
