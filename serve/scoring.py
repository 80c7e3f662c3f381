"""POST /v1/score's work: turn a request's items into histories, score them, and answer one
result per item — a score, or an error with the HTTP status it stands for.

By id: the customer's history as stored now (three indexed reads of that customer's rows).
Inline: attributes and feedback in the item, on top of anything stored — the library's
``cxml.inline.inline_history`` (the contract, the merge and the cut are ingestion's and the
store's); here its problems become 422 answers. Either way the features, the model and the
reasons are the library's (``cxml.scoring.score_history``), the same ones a bulk run uses
(``cxml.batch``), so a request and a bulk job give the same numbers. ``now`` is parsed into
the library's ``AsOf`` once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, cast

import pandas as pd

from cxml.churn.predictor import ChurnPredictor
from cxml.contract import parse_as_of
from cxml.inline import inline_history
from cxml.scoring import score_history
from cxml.store import Store
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
        described = inline_history(
            store,
            [items[p] for p in inline],
            as_of=as_of,
            text_pipeline=text_pipeline,
            text_version=text_version,
            max_text_chars=max_text_chars,
            future_tolerance_days=future_tolerance_days,
        )
        history = described.history
        inline_ids = {inline[index]: customer for index, customer in described.ids.items()}
        for index, problems in described.errors.items():
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
    return score_history(
        predictor, history, scored_at=now, model_version=model_version, attribution="exact"
    )


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
