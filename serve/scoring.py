"""POST /v1/score's work: turn a request's items into histories, score them, and answer one
result per item — a score, or an error with the HTTP status it stands for.

By id: the customer's history as stored now (three indexed reads of that customer's rows).
Inline: attributes and feedback in the item, validated by the ingestion contract, on top of
anything stored; merged as ingestion would merge them, read by the text model, never stored.
Either way the features, the model and the reasons are the library's, the same ones a bulk
run uses (``cxml.batch``), so a request and a bulk job give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, cast

import numpy as np
import pandas as pd

from cxml import contract
from cxml.churn.predictor import ChurnPredictor
from cxml.contract import AsOf, parse_as_of
from cxml.ingest import merge_customers
from cxml.io import to_text
from cxml.scoring import score
from cxml.store import Store
from cxml.store.active import active_mask
from cxml.store.history import History, Selection, read_history
from cxml.store.records import existing_customers
from cxml.store.scores import fresh_scores
from cxml.webhooks import record_scores
from serve.coalesce import Same


def is_inline(item: dict[str, Any]) -> bool:
    """An item that brings its own attributes or feedback (scored on top of the store, never
    stored or reused)."""
    return bool(item.get("attributes") or item.get("feedback"))


def reused_scores(
    store: Store, items: list[dict[str, Any]], *, now: datetime, model_version: str
) -> list[dict[str, Any] | None]:
    """Per item, today's stored score when it is still true (by this model, from features cut
    after the customer's last change), else None. Only by-id items. One indexed query."""
    plain = [not is_inline(item) for item in items]
    wanted = sorted({item["customer_id"] for item, p in zip(items, plain, strict=True) if p})
    found = fresh_scores(store, wanted, model_version, parse_as_of(now).normalize().to_pydatetime())
    return [
        {**_clean(found[item["customer_id"]]), "recorded": True, "reused": True}
        if p and item["customer_id"] in found
        else None
        for item, p in zip(items, plain, strict=True)
    ]


def score_items(
    predictor: ChurnPredictor,
    store: Store,
    items: list[dict[str, Any]],
    *,
    now: datetime,
    model_version: str,
    text_pipeline: Any,
    text_version: str,
    max_text_chars: int,
    future_tolerance_days: int,
    record: bool = True,
    reused: list[dict[str, Any] | None] | None = None,
) -> list[dict[str, Any]]:
    """One result per item, in order: the score, or ``error`` (status, field, value, reason).

    ``reused``: per item, a stored score still true (``reused_scores``), or None to compute.
    By-id scores computed here are recorded in the store when ``record``.
    """
    results: list[dict[str, Any] | None] = list(reused) if reused else [None] * len(items)
    todo = [p for p in range(len(items)) if results[p] is None]
    if not todo:
        return [r for r in results if r is not None]
    as_of = parse_as_of(now)
    by_id = [p for p in todo if not is_inline(items[p])]
    inline = [p for p in todo if is_inline(items[p])]
    scored: dict[tuple[str, bool], dict[str, Any]] = {}
    recorded = pd.DataFrame()
    wanted = sorted({items[p]["customer_id"] for p in by_id})
    if wanted:
        history = read_history(store, as_of, Selection.of(wanted))
        if len(history.customers):
            recorded = _scores(predictor, history, now, model_version)
            for row in recorded.to_dict(orient="records"):
                scored[(str(row["customer_id"]), False)] = _clean(row)
    inline_ids: dict[int, str] = {}
    if inline:
        history, errors, inline_ids = inline_history(
            [items[p] for p in inline],
            store,
            as_of=as_of,
            text_pipeline=text_pipeline,
            text_version=text_version,
            max_text_chars=max_text_chars,
            future_tolerance_days=future_tolerance_days,
        )
        inline_ids = {inline[index]: customer for index, customer in inline_ids.items()}
        for index, problems in errors.items():
            position = inline[index]
            results[position] = {
                "customer_id": items[position]["customer_id"],
                "error": {"status": 422, **problems[0], "errors": problems},
            }
        if len(history.customers):
            for row in _scores(predictor, history, now, model_version).to_dict(orient="records"):
                scored[(str(row["customer_id"]), True)] = _clean(row)
    unanswered = [
        p
        for p in todo
        if results[p] is None and (str(items[p]["customer_id"]), is_inline(items[p])) not in scored
    ]
    known = (
        _known(store, sorted({items[p]["customer_id"] for p in unanswered})) if unanswered else {}
    )
    for position in todo:
        if results[position] is not None:
            continue
        customer_id = items[position]["customer_id"]
        inline_item = is_inline(items[position])
        row = scored.get((inline_ids.get(position, customer_id), inline_item))
        if row is not None:  # answered under the id as sent (the store's may be normalised)
            results[position] = {
                **row,
                "customer_id": customer_id,
                "recorded": record and not inline_item,
                "reused": False,
            }
        elif not inline_item and customer_id not in known:
            results[position] = _error(
                404,
                customer_id,
                "not in the store; send attributes (and feedback) inline to score it",
            )
        else:
            churned = known.get(customer_id)
            reason = (
                f"churned on {pd.Timestamp(churned).date()}: only active customers are scored"
                if churned is not None and not pd.isna(churned)
                else "not active now (signed up later, or churned)"
            )
            results[position] = _error(409, customer_id, reason)
    if record and not recorded.empty:  # with the customer.high_risk events it causes
        record_scores(store, recorded, now=now)
    return [r for r in results if r is not None]


def _scores(
    predictor: ChurnPredictor, history: History, now: datetime, model_version: str
) -> pd.DataFrame:
    features = predictor.features(history)
    return score(
        predictor,
        features,
        as_of=history.as_of,
        scored_at=now,
        model_version=model_version,
        attribution="exact",
        history=history,
    )


def inline_history(
    items: list[dict[str, Any]],
    store: Store,
    *,
    as_of: AsOf,
    text_pipeline: Any,
    text_version: str,
    max_text_chars: int,
    future_tolerance_days: int,
) -> tuple[History, dict[int, list[dict[str, Any]]], dict[int, str]]:
    """The history of customers described in a request, on top of what the store holds.

    Each item: ``customer_id``, ``attributes`` (contract columns like signup_date and
    monthly_value, or any attribute), ``feedback`` (contract fields). Attributes merge over the
    stored customer as ingestion merges them; inline feedback joins the stored feedback and is
    read by ``text_pipeline``. Nothing is written. Returns the history, the contract's errors
    per item position, and each valid item's customer id as the contract normalised it.
    """
    from cxml.text.training import analysis_frames

    errors: dict[int, list[dict[str, Any]]] = {}
    rows = np.arange(1, len(items) + 1)
    raw_customers = [
        {
            **{str(k): to_text(v) for k, v in (item.get("attributes") or {}).items()},
            "customer_id": item["customer_id"],
        }
        for item in items
    ]
    # Items are validated in groups of the same fields: a field an item does not send must
    # keep the stored value (in one frame it would be a blank sent by every other item).
    shapes: dict[tuple[str, ...], list[int]] = {}
    for position, raw in enumerate(raw_customers):
        shapes.setdefault(tuple(sorted(raw)), []).append(position)
    parts: list[tuple[pd.DataFrame, set[str]]] = []
    for positions in shapes.values():
        checked = contract.validate_customers(
            pd.DataFrame([raw_customers[p] for p in positions], dtype=object),
            rows[positions],
            now=as_of,
            as_of=as_of,
        )
        for row, field, value, reason in checked.errors.itertuples(index=False, name=None):
            errors.setdefault(int(row) - 1, []).append(
                {"field": f"attributes.{field}", "value": value, "reason": reason}
            )
        parts.append((checked.valid, set(checked.valid.attrs.get("present", []))))
    valid = pd.concat([part for part, _ in parts], ignore_index=True).sort_values("row")
    twice = valid["customer_id"].duplicated(keep="first").to_numpy()
    for row, customer_id in zip(
        valid.loc[twice, "row"], valid.loc[twice, "customer_id"], strict=True
    ):
        errors.setdefault(int(row) - 1, []).append(
            {
                "field": "customer_id",
                "value": customer_id,
                "reason": "this customer is described inline twice in one request: send it once",
            }
        )
    kept_rows = set(valid.loc[~twice, "row"].tolist())
    valid = valid[~twice]
    ids = {int(row) - 1: str(c) for row, c in zip(valid["row"], valid["customer_id"], strict=True)}
    with store.engine.connect() as connection:  # a read: no write lock
        existing = existing_customers(connection, valid["customer_id"].tolist())
    merged = pd.concat(
        [
            merge_customers(part[part["row"].isin(kept_rows)], existing, present)
            for part, present in parts
        ],
        ignore_index=True,
    ).sort_values("row")
    is_active = active_mask(merged, as_of) if len(merged) else np.zeros(0, bool)
    active = []
    for customer, now_active in zip(merged.to_dict(orient="records"), is_active, strict=True):
        position = int(customer["row"]) - 1
        if pd.isna(customer["signup_date"]):
            errors.setdefault(position, []).append(
                {
                    "field": "attributes.signup_date",
                    "value": "",
                    "reason": "signup_date (or tenure_months) is required for a customer not "
                    "in the store",
                }
            )
        elif now_active:
            active.append(customer)
    raw_feedback, owners = [], []
    for position, item in enumerate(items):
        for number, entry in enumerate(item.get("feedback") or []):
            fields = {str(k): to_text(v) for k, v in entry.items()}
            fields.setdefault("feedback_id", f"inline:{item['customer_id']}:{number + 1}")
            raw_feedback.append({**fields, "customer_id": item["customer_id"]})
            owners.append((position, number))
    new_feedback = pd.DataFrame(columns=["feedback_id", "customer_id", "created_at", "text"])
    if raw_feedback:
        checked_feedback = contract.validate_feedback(
            pd.DataFrame(raw_feedback, dtype=object),
            np.arange(1, len(raw_feedback) + 1),
            now=as_of,
            max_text_chars=max_text_chars,
            future_tolerance_days=future_tolerance_days,
        )
        for row, field, value, reason in checked_feedback.errors.itertuples(index=False, name=None):
            position, number = owners[int(row) - 1]
            errors.setdefault(position, []).append(
                {"field": f"feedback[{number}].{field}", "value": value, "reason": reason}
            )
        new_feedback = checked_feedback.valid
        later = new_feedback["created_at"] >= as_of
        for row, value in zip(
            new_feedback.loc[later, "row"], new_feedback.loc[later, "created_at"], strict=True
        ):
            position, number = owners[int(row) - 1]
            errors.setdefault(position, []).append(
                {
                    "field": f"feedback[{number}].created_at",
                    "value": str(value),
                    "reason": f"created_at {value} is after now ({as_of}): a score is as of now",
                }
            )
        new_feedback = new_feedback[~later]
    failed = {ids[p] for p in errors if p in ids}
    people = pd.DataFrame(
        [c for c in active if c["customer_id"] not in failed],
        columns=["customer_id", "signup_date", "monthly_value", "attributes"],
    )
    kept = set(people["customer_id"])
    new_feedback = new_feedback[new_feedback["customer_id"].isin(kept)]
    analysed = pd.DataFrame(
        {
            "feedback_id": pd.Series([], dtype=object),
            "sentiment_score": pd.Series([], dtype=float),
            "intents": pd.Series([], dtype=object),
        }
    )
    new_themes = pd.DataFrame(
        {
            "feedback_id": pd.Series([], dtype=object),
            "theme_id": pd.Series([], dtype=object),
            "theme_label": pd.Series([], dtype=object),
            "sentiment_score": pd.Series([], dtype=float),
        }
    )
    with_text = new_feedback[new_feedback["text"].notna()] if len(new_feedback) else new_feedback
    if len(with_text):
        results = text_pipeline.analyze(with_text["text"].tolist(), with_text["language"].tolist())
        analysed, new_themes = analysis_frames(
            with_text["feedback_id"].tolist(), results, text_version, as_of
        )
    new_rows = new_feedback.assign(sentiment_score=np.nan, intents=None)
    if len(with_text):
        read = analysed.set_index("feedback_id")
        new_rows["sentiment_score"] = new_rows["feedback_id"].map(read["sentiment_score"])
        new_rows["intents"] = new_rows["feedback_id"].map(read["intents"])
    owner = dict(zip(new_feedback["feedback_id"], new_feedback["customer_id"], strict=True))
    when = dict(zip(new_feedback["feedback_id"], new_feedback["created_at"], strict=True))
    new_themes = new_themes.assign(
        customer_id=new_themes["feedback_id"].map(owner),
        created_at=new_themes["feedback_id"].map(when),
    )
    theirs = read_history(store, as_of, Selection.of(sorted(kept)))
    history = History.from_frames(
        as_of,
        people,
        pd.concat(
            [theirs.feedback, new_rows.reindex(columns=theirs.feedback.columns)], ignore_index=True
        ),
        pd.concat(
            [theirs.themes, new_themes.reindex(columns=theirs.themes.columns)], ignore_index=True
        ),
    )
    return history, errors, ids


def _known(store: Store, ids: list[str]) -> dict[str, Any]:
    """The stored customers among ``ids``, with their churn dates."""
    with store.engine.connect() as connection:  # a read: no write lock
        found = existing_customers(connection, ids)
    return dict(zip(found["customer_id"], found["churn_date"], strict=True))


def _error(status: int, customer_id: str, reason: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "error": {"status": status, "field": "customer_id", "value": customer_id, "reason": reason},
    }


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """NaN (a missing monthly value's revenue at risk) as None, which JSON can carry."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}


def batch_scorer(
    store: Store,
    *,
    clock: Callable[[], datetime],
    max_text_chars: int,
    future_tolerance_days: int,
) -> Callable[[Hashable, list[dict[str, Any]]], list[dict[str, Any]]]:
    """``score_items`` for a batch of items gathered from several requests: the key is
    (``Same(loaded models)``, record); now is when the batch starts."""

    def work(key: Hashable, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        models, record = cast(tuple[Same, bool], key)
        loaded = models.value
        return score_items(
            loaded.churn,
            store,
            items,
            now=clock(),
            model_version=str(loaded.churn_version),
            text_pipeline=loaded.text,
            text_version=str(loaded.text_version),
            max_text_chars=max_text_chars,
            future_tolerance_days=future_tolerance_days,
            record=record,
        )

    return work


def inline_twice(batch: list[dict[str, Any]], items: list[dict[str, Any]]) -> bool:
    """True when ``items`` describe inline a customer the batch already describes inline (one
    call scores each inline customer once; the second request waits for the next batch)."""
    described = {item["customer_id"] for item in batch if is_inline(item)}
    return any(is_inline(item) and item["customer_id"] in described for item in items)
