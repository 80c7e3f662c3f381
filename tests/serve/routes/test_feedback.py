"""``POST /v1/feedback`` and ``POST /v1/customers`` on the real server, on SQLite and on
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.serve.conftest import Served, client, some_customers

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_feedback_ingest_is_idempotent_with_a_result_per_item(served: Served) -> None:
    known = some_customers(served, 1)[0]
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    batch = {
        "feedback": [
            {
                "feedback_id": "api-ok",
                "customer_id": known,
                "created_at": now,
                "channel": "E-mail",
                "text": "Billing charged me twice.",
                "csat": 1,
            },
            {
                "feedback_id": "api-held",
                "customer_id": "NEWCOMER",
                "created_at": now,
                "text": "Hello",
            },
            {"feedback_id": "api-bad", "customer_id": known, "created_at": "tomorrow", "nps": 11},
        ]
    }
    with client(served, "ingest") as api:
        first = api.post("/v1/feedback", json=batch).json()
        again = api.post("/v1/feedback", json=batch).json()
        newcomer = api.post(
            "/v1/customers",
            json={
                "customers": [
                    {"customer_id": "NEWCOMER", "signup_date": "2025-03-01", "plan": "basic"}
                ]
            },
        ).json()
    assert [r["status"] for r in first["results"]] == ["accepted", "held", "rejected"]
    assert {e["field"] for e in first["results"][2]["errors"]} >= {"created_at", "nps"}
    assert first["analysed"] == 1
    assert [r["status"] for r in again["results"]] == ["unchanged", "held", "rejected"]
    assert newcomer["accepted"] == 1 and newcomer["released"] == 1
    with client(served, "read") as api:
        story = api.get(f"/v1/customers/{known}").json()
        mine = [t for t in story["timeline"] if t["feedback_id"] == "api-ok"]
        assert mine and mine[0]["channel"] == "email" and mine[0]["sentiment_label"] is not None
        assert api.get("/v1/customers/NEWCOMER").json()["timeline"][0]["feedback_id"] == "api-held"
