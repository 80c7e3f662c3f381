"""One customer's whole story: profile, latest score with reasons, score history, follow-ups,
and the analysed conversation across channels (newest first)."""

from __future__ import annotations

from typing import Any

from cxml.store import Store
from cxml.store.analysis import analysed_timeline
from cxml.store.followups import customer_follow_ups
from cxml.store.records import customer
from cxml.store.scores import latest_score, score_history


def customer_story(store: Store, customer_id: str, timeline_limit: int = 200) -> dict[str, Any]:
    """Everything the store knows about one customer; NotFoundError when not stored."""
    profile = customer(store, customer_id)
    return {
        "customer_id": profile["customer_id"],
        "signup_date": profile["signup_date"],
        "churn_date": profile["churn_date"],
        "monthly_value": profile["monthly_value"],
        "attributes": profile["attributes"],
        "score": latest_score(store, customer_id),
        "score_history": score_history(store, customer_id),
        "follow_ups": customer_follow_ups(store, customer_id),
        "timeline": analysed_timeline(store, customer_id, timeline_limit),
    }
