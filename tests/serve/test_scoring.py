"""A request's scores are the bulk run's scores: same history, features, model and reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from cxml.batch import score_store
from cxml.store import Store
from serve.scoring import score_items
from tests.conftest import Trained

NOW = datetime(2025, 6, 30, 15, 30)


def scored(trained: Trained, store: Store, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``score_items`` as a request runs it on the trained world, at NOW, nothing recorded."""
    return score_items(
        trained.predictor,
        store,
        items,
        now=NOW,
        model_version=trained.version,
        text_pipeline=trained.text_pipeline,
        text_version="test",
        max_text_chars=20_000,
        future_tolerance_days=1,
        record=False,
    )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_one_customer_by_id_equals_the_bucket_path_for_every_customer(
    trained: Trained, dialect: str
) -> None:
    store = trained.stores[dialect]
    parts: list[pd.DataFrame] = []
    score_store(
        store,
        trained.predictor,
        model_version=trained.version,
        as_of=pd.Timestamp(NOW),
        scored_at=NOW,
        bucket_customers=64,
        attribution="exact",
        record=False,
        sink=parts.append,
    )
    bulk = pd.concat(parts).set_index("customer_id")
    assert len(bulk) > 150
    for customer_id in bulk.index:
        [result] = scored(trained, store, [{"customer_id": customer_id}])
        expected = bulk.loc[customer_id]
        assert result["probability"] == expected["probability"], customer_id
        assert result["band"] == expected["band"]
        assert result["reasons"] == expected["reasons"]


def test_items_answer_in_order_with_errors_for_unknown_churned_and_invalid(
    trained: Trained,
) -> None:
    store = trained.stores["sqlite"]
    people = store.table_frame("customers")
    churned = people.loc[people["churn_date"].notna(), "customer_id"].iloc[0]
    active = people.loc[people["churn_date"].isna(), "customer_id"].iloc[0]
    items = [
        {"customer_id": "NOPE"},
        {"customer_id": active},
        {"customer_id": churned},
        {"customer_id": "NEW1", "attributes": {"monthly_value": "abc"}},
        {
            "customer_id": "NEW2",
            "attributes": {"signup_date": "2024-01-01", "monthly_value": 20, "plan": "basic"},
            "feedback": [
                {"created_at": "2025-06-20T10:00:00", "channel": "chat", "text": "I will cancel."}
            ],
        },
        {"customer_id": "NEW4", "attributes": {"tenure_months": 7, "plan": "basic"}},
        {"customer_id": " 8 ", "attributes": {"tenure_months": 3}},  # found by schemathesis
        {"customer_id": "8", "attributes": {"tenure_months": 4}},
        {
            "customer_id": "NEW3",
            "attributes": {"signup_date": "2024-01-01"},
            "feedback": [{"created_at": "2025-06-30T16:00:00", "channel": "chat", "text": "later"}],
        },
    ]
    results = scored(trained, store, items)
    assert [r["customer_id"] for r in results] == [i["customer_id"] for i in items]
    assert results[0]["error"]["status"] == 404
    assert 0 <= results[1]["probability"] <= 1 and results[1]["recorded"] is False
    assert results[2]["error"]["status"] == 409 and "churned" in results[2]["error"]["reason"]
    assert results[3]["error"]["status"] == 422
    assert results[3]["error"]["field"] == "attributes.monthly_value"
    assert 0 <= results[4]["probability"] <= 1
    assert (
        any(r["feature"] == "intent_leave_90d" for r in results[4]["reasons"])
        or results[4]["reasons"]
    )
    assert 0 <= results[5]["probability"] <= 1  # attributes alone, no feedback
    assert 0 <= results[6]["probability"] <= 1  # its id normalised to "8" …
    assert "described inline twice" in results[7]["error"]["reason"]  # … so "8" comes twice
    assert results[8]["error"]["status"] == 422
    assert "after now" in results[8]["error"]["reason"]


def test_a_batch_gathered_from_several_requests_answers_each_as_if_alone(
    trained: Trained,
) -> None:
    """What the server's coalescing relies on (serve/coalesce.py): scoring the items of several
    requests in one call gives every item the result it gets in a call of its own."""
    store = trained.stores["sqlite"]
    people = store.table_frame("customers")
    active = people.loc[people["churn_date"].isna(), "customer_id"].iloc[:3].tolist()
    requests = [
        [{"customer_id": active[0]}],
        [
            {
                "customer_id": "BATCH1",
                "attributes": {"signup_date": "2024-03-01", "monthly_value": 35, "plan": "basic"},
                "feedback": [
                    {"created_at": "2025-06-01T09:00:00", "channel": "chat", "text": "Bill wrong."}
                ],
            }
        ],
        [{"customer_id": active[1]}, {"customer_id": active[0]}, {"customer_id": "NOPE"}],
        [
            {"customer_id": active[2], "attributes": {"monthly_value": 99}},
            {"customer_id": "BATCH2", "attributes": {"tenure_months": 5}},
        ],
        [{"customer_id": active[2]}],
    ]

    alone = [result for request in requests for result in scored(trained, store, request)]
    together = scored(trained, store, [item for request in requests for item in request])
    assert together == alone
    assert together[5]["customer_id"] == together[7]["customer_id"] == active[2]
    # A stored customer's inline attributes merge over the stored ones wherever the item sits
    # (found here: after other items, the merge read another row's stored signup date).
    assert together[5]["revenue_at_risk"] != together[7]["revenue_at_risk"]  # inline 99 vs stored
    assert together[4]["error"]["status"] == 404
