"""One customer's whole story: profile, latest score with reasons, score history, follow-ups,
and the analysed conversation across channels (newest first)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxml.store import Store
from cxml.store.analysis import analysed_timeline
from cxml.store.followups import customer_follow_ups
from cxml.store.records import customer
from cxml.store.scores import latest_score, score_history
from cxml.text.redact import redacted


def redacted_column(values: pd.Series) -> pd.Series:
    """A column of texts redacted, kept as Python objects (None stays None)."""
    return pd.Series(redacted(values.tolist()), index=values.index, dtype=object)


def customer_story(
    store: Store, customer_id: str, timeline_limit: int = 200, *, pii: bool = False
) -> dict[str, Any]:
    """Everything the store knows about one customer; NotFoundError when not stored.

    The conversation's text is redacted (e-mail addresses, phone and card numbers, IBANs as
    placeholders) unless ``pii``; theme evidence spans refer to the redacted text."""
    profile = customer(store, customer_id)
    timeline = analysed_timeline(store, customer_id, timeline_limit)
    if not pii:
        for event, text in zip(timeline, redacted([e["text"] for e in timeline]), strict=True):
            event["text"] = text
    return {
        "customer_id": profile["customer_id"],
        "signup_date": profile["signup_date"],
        "churn_date": profile["churn_date"],
        "monthly_value": profile["monthly_value"],
        "attributes": profile["attributes"],
        "score": latest_score(store, customer_id),
        "score_history": score_history(store, customer_id),
        "follow_ups": customer_follow_ups(store, customer_id),
        "timeline": timeline,
    }
