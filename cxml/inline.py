"""Histories of customers described inline: a request's attributes and feedback, validated by
the ingestion contract and merged over what the store holds as ingestion would merge them,
read by the text model, never stored.

The rules are the store's and ingestion's own: the same contract, the same merge
(``cxml.ingest.merge_customers``), the same active-customer rule (``cxml.store.active``), the
same cut (``read_history`` at ``as_of``; inline feedback dated at or after it is refused) and
the same ``History`` a bulk run scores bucket by bucket (``cxml.batch``). So a customer
described inline with the data the store holds gets the features and the score a bulk run
gives it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxml import contract
from cxml.contract import AsOf
from cxml.ingest import merge_customers
from cxml.io import to_text
from cxml.store import Store
from cxml.store.active import active_mask
from cxml.store.history import History, Selection, read_history
from cxml.store.records import existing_customers

#: A problem with an inline item: field (e.g. ``attributes.monthly_value``,
#: ``feedback[0].nps``), value and reason, worded as the contract words them.
Problem = dict[str, Any]


@dataclass(frozen=True)
class InlineHistory:
    """What ``inline_history`` gives: the ``history`` of the valid items' customers active at
    its instant; ``errors``, the problems of each refused item by its position in the items;
    and ``ids``, each valid item's customer id as the contract normalised it, by position."""

    history: History
    errors: dict[int, list[Problem]]
    ids: dict[int, str]


def inline_history(
    store: Store,
    items: Sequence[Mapping[str, Any]],
    *,
    as_of: AsOf,
    text_pipeline: Any,
    text_version: str,
    max_text_chars: int,
    future_tolerance_days: int,
) -> InlineHistory:
    """The history at ``as_of`` of customers described in ``items``, on top of the store.

    Each item: ``customer_id``, ``attributes`` (contract columns like signup_date and
    monthly_value, or any attribute), ``feedback`` (contract fields). Attributes merge over the
    stored customer as ingestion merges them; inline feedback joins the stored feedback (read
    with ``read_history``, cut at ``as_of``) and is read by ``text_pipeline``. Nothing is
    written. An item with a problem is left out of the history and its problems are returned.
    """
    from cxml.text.training import analysis_frames

    errors: dict[int, list[Problem]] = {}
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
    return InlineHistory(history, errors, ids)
