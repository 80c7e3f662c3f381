"""What the HTTP service reads and writes: API keys, follow-ups with their audit trail, each
customer's latest score, the ranked at-risk list, one customer's analysed timeline.

The SQL lives here (the store is the only place that writes SQL); the rules (scopes, statuses,
what a change is) live in ``cxml.keys`` and ``cxml.followups``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import (
    DateTime,
    Float,
    String,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from cxml.store import Store
from cxml.store.queries import attribute_expression
from cxml.store.tables import (
    api_keys,
    customers,
    feedback,
    feedback_analysis,
    feedback_themes,
    follow_up_events,
    follow_ups,
    scores,
)

# --- API keys ----------------------------------------------------------------------------


def insert_api_key(
    store: Store,
    key_id: str,
    secret_hash: str,
    scopes: Sequence[str],
    name: str | None,
    now: datetime,
) -> None:
    """Store a new key's id, hash and scopes."""
    with store.begin() as connection:
        connection.execute(
            insert(api_keys).values(
                key_id=key_id,
                secret_hash=secret_hash,
                scopes=list(scopes),
                name=name,
                created_at=now,
                revoked_at=None,
            )
        )


def api_key_row(store: Store, key_id: str) -> dict[str, Any] | None:
    """The stored row of a key id, or None."""
    with store.engine.connect() as connection:
        row = (
            connection.execute(select(api_keys).where(api_keys.c.key_id == key_id))
            .mappings()
            .first()
        )
    if row is None:
        return None
    out = dict(row)
    out["scopes"] = _json(out["scopes"])
    return out


def list_api_keys(store: Store) -> list[dict[str, Any]]:
    """Every key's id, name, scopes and dates (never a hash), oldest first."""
    query = select(
        api_keys.c.key_id,
        api_keys.c.name,
        api_keys.c.scopes,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).order_by(api_keys.c.created_at, api_keys.c.key_id)
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{**dict(r), "scopes": _json(r["scopes"])} for r in rows]


def revoke_api_key(store: Store, key_id: str, now: datetime) -> bool:
    """Mark a key revoked; False when there is no such (unrevoked) key."""
    with store.begin() as connection:
        done = connection.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(done.rowcount)


# --- follow-ups ----------------------------------------------------------------------------

FOLLOW_UP_FIELDS = ("owner", "status", "note", "outcome")


def insert_follow_up(
    store: Store, customer_id: str, values: dict[str, Any], actor: str | None, now: datetime
) -> dict[str, Any]:
    """Create a follow-up and its first audit event in one transaction; returns it."""
    with store.begin() as connection:
        result = connection.execute(
            insert(follow_ups).values(
                customer_id=customer_id,
                **{k: values.get(k) for k in FOLLOW_UP_FIELDS},
                created_at=now,
                updated_at=now,
                created_by=actor,
            )
        )
        assert result.inserted_primary_key is not None
        follow_up_id = int(result.inserted_primary_key[0])
        connection.execute(
            insert(follow_up_events).values(
                follow_up_id=follow_up_id,
                changed_at=now,
                changed_by=actor,
                changes={
                    k: [None, values.get(k)] for k in FOLLOW_UP_FIELDS if values.get(k) is not None
                },
            )
        )
    found = follow_up(store, follow_up_id)
    assert found is not None
    return found


def change_follow_up(
    store: Store, follow_up_id: int, changes: dict[str, list[Any]], actor: str | None, now: datetime
) -> None:
    """Apply ``changes`` ({field: [old, new]}) and record them as one audit event."""
    with store.begin() as connection:
        connection.execute(
            update(follow_ups)
            .where(follow_ups.c.follow_up_id == follow_up_id)
            .values(**{k: new for k, (_, new) in changes.items()}, updated_at=now)
        )
        connection.execute(
            insert(follow_up_events).values(
                follow_up_id=follow_up_id, changed_at=now, changed_by=actor, changes=changes
            )
        )


def follow_up(store: Store, follow_up_id: int) -> dict[str, Any] | None:
    """One follow-up with its history (oldest event first), or None."""
    with store.engine.connect() as connection:
        row = (
            connection.execute(select(follow_ups).where(follow_ups.c.follow_up_id == follow_up_id))
            .mappings()
            .first()
        )
        if row is None:
            return None
        events = connection.execute(
            select(follow_up_events)
            .where(follow_up_events.c.follow_up_id == follow_up_id)
            .order_by(follow_up_events.c.event_id)
        ).mappings()
        history = [
            {
                "changed_at": e["changed_at"],
                "changed_by": e["changed_by"],
                "changes": _json(e["changes"]),
            }
            for e in events
        ]
    return {**dict(row), "history": history}


def customer_follow_ups(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """A customer's follow-ups, newest first, each with its history."""
    with store.engine.connect() as connection:
        ids = connection.execute(
            select(follow_ups.c.follow_up_id)
            .where(follow_ups.c.customer_id == customer_id)
            .order_by(follow_ups.c.updated_at.desc(), follow_ups.c.follow_up_id.desc())
        ).scalars()
        found = [follow_up(store, int(i)) for i in ids]
    return [f for f in found if f is not None]


# --- scores ------------------------------------------------------------------------------


def upsert_scores(store: Store, frame: pd.DataFrame) -> None:
    """Write scores, replacing only the same (customer, as-of date, model version) rows."""
    if frame.empty:
        return
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    with store.begin() as connection:
        for record in records:
            connection.execute(
                delete(scores).where(
                    scores.c.customer_id == record["customer_id"],
                    scores.c.as_of == record["as_of"],
                    scores.c.model_version == record["model_version"],
                )
            )
        connection.execute(insert(scores), records)


def fresh_scores(
    store: Store, customer_ids: Sequence[str], model_version: str, since: datetime
) -> dict[str, dict[str, Any]]:
    """Stored scores still true now, by customer: by ``model_version``, from features cut on or
    after ``since``, and after the last change to the customer, their feedback or its analysis."""
    if not customer_ids:
        return {}
    query = _fresh_scores_query()
    out: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as connection:
        found = connection.execute(
            query, {"ids": list(customer_ids), "version": model_version, "since": since}
        )
        for row in found.mappings():
            if row["customer_id"] not in out:
                out[row["customer_id"]] = {**dict(row), "reasons": _json(row["reasons"])}
    return out


@functools.cache
def _fresh_scores_query() -> Any:
    """Built once: the hot path of POST /v1/score only binds its parameters."""
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
            scores.c.customer_id.in_(bindparam("ids", expanding=True)),
            scores.c.model_version == bindparam("version"),
            cut >= bindparam("since", type_=DateTime()),
            customers.c.updated_at <= cut,
            or_(last_feedback.is_(None), last_feedback <= cut),
            or_(last_analysis.is_(None), last_analysis <= cut),
        )
        .order_by(scores.c.customer_id, cut.desc())
    )


def _latest_scores() -> Any:
    """Each customer's most recent score (by scored_at, then as-of date, then model version)."""
    rank = (
        func.row_number()
        .over(
            partition_by=scores.c.customer_id,
            order_by=(
                scores.c.scored_at.desc(),
                scores.c.as_of.desc(),
                scores.c.model_version.desc(),
            ),
        )
        .label("rank")
    )
    return select(scores, rank).subquery("ranked")


def _latest_follow_ups() -> Any:
    rank = (
        func.row_number()
        .over(
            partition_by=follow_ups.c.customer_id,
            order_by=(follow_ups.c.updated_at.desc(), follow_ups.c.follow_up_id.desc()),
        )
        .label("rank")
    )
    return select(follow_ups, rank).subquery("latest_follow_up")


def latest_score(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The customer's most recent stored score, or None."""
    query = (
        select(scores)
        .where(scores.c.customer_id == customer_id)
        .order_by(scores.c.scored_at.desc(), scores.c.as_of.desc(), scores.c.model_version.desc())
        .limit(1)
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else {**dict(row), "reasons": _json(row["reasons"])}


SORTS = ("probability", "revenue_at_risk")


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
) -> list[dict[str, Any]]:
    """Active customers by their latest score, highest first by ``sort``, after a keyset cursor.

    ``after`` = (sort value, customer_id) of the last row of the previous page. ``themes``:
    customers who raised any of them in the last ``theme_days``; ``follow_up_status``: the
    status of the customer's latest follow-up (``none`` for customers without one);
    ``attributes``: exact matches on customer attributes (compared as text).
    """
    ranked = _latest_scores()
    latest_follow = _latest_follow_ups()
    key = (
        ranked.c.probability
        if sort == "probability"
        else func.coalesce(ranked.c.revenue_at_risk, literal(-1.0, Float))
    ).label("sort_key")
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
            customers.c.monthly_value,
            customers.c.attributes,
            latest_follow.c.follow_up_id,
            latest_follow.c.owner,
            latest_follow.c.status,
            latest_follow.c.note,
            latest_follow.c.outcome,
            latest_follow.c.updated_at.label("follow_up_updated_at"),
            key,
        )
        .select_from(
            ranked.join(customers, customers.c.customer_id == ranked.c.customer_id).outerjoin(
                latest_follow,
                and_(
                    latest_follow.c.customer_id == ranked.c.customer_id,
                    latest_follow.c.rank == 1,
                ),
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
    if after is not None:
        after_value, after_id = after
        query = query.where(
            or_(key < after_value, and_(key == after_value, ranked.c.customer_id > after_id))
        )
    query = query.order_by(key.desc(), ranked.c.customer_id).limit(limit)
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
                "monthly_value": r["monthly_value"],
                "attributes": _json(r["attributes"]),
                "follow_up": follow,
                "sort_key": r["sort_key"],
            }
        )
    return out


# --- one customer's analysed timeline --------------------------------------------------------


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
                ).where(feedback_themes.c.feedback_id.in_(ids))
            ).mappings():
                themes.setdefault(t["feedback_id"], []).append(
                    {
                        "id": t["theme_id"],
                        "label": t["theme_label"],
                        "sentiment_score": t["sentiment_score"],
                    }
                )
    for r in rows:
        r["intents"] = _json(r["intents"]) if r["intents"] is not None else []
        r["themes"] = themes.get(r["feedback_id"], [])
    return rows


def customer_story(store: Store, customer_id: str, timeline_limit: int = 200) -> dict[str, Any]:
    """One customer's profile, latest score, follow-ups and analysed timeline (newest first);
    NotFoundError when the customer is not stored."""
    profile = store.customer(customer_id)
    return {
        "customer_id": profile["customer_id"],
        "signup_date": profile["signup_date"],
        "churn_date": profile["churn_date"],
        "monthly_value": profile["monthly_value"],
        "attributes": _json(profile["attributes"]),
        "score": latest_score(store, customer_id),
        "follow_ups": customer_follow_ups(store, customer_id),
        "timeline": analysed_timeline(store, customer_id, timeline_limit),
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
