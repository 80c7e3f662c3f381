"""``POST /v1/score`` on the real server, on SQLite and on PostgreSQL: request order, item
errors, batching of requests arriving together, reuse of stored scores, limits."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.serve.conftest import Served, client, finite_json, some_customers

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_scores_come_back_in_request_order_with_item_errors(served: Served) -> None:
    known = some_customers(served, 1)[0]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {
        "customers": [
            {"customer_id": "NOBODY"},
            {"customer_id": known},
            {
                "customer_id": "X9",
                "attributes": {
                    "signup_date": "2025-01-15",
                    "monthly_value": 30,
                    "contract": "monthly",
                },
                "feedback": [
                    {
                        "created_at": yesterday,
                        "channel": "Live chat",
                        "text": "Third outage this month. I want to cancel my contract.",
                        "nps": 1,
                    }
                ],
            },
            {"customer_id": "X10", "attributes": {"monthly_value": 20}},
        ]
    }
    with client(served, "score") as api:
        results = api.post("/v1/score", json=body).json()["results"]
    assert [r["customer_id"] for r in results] == ["NOBODY", known, "X9", "X10"]
    assert results[0]["error"]["status"] == 404 and results[0]["error"]["field"] == "customer_id"
    assert 0 <= results[1]["probability"] <= 1 and results[1]["recorded"] is True
    assert results[1]["band"] in {"high", "medium", "low"} and results[1]["model_version"] == "1"
    inline = results[2]
    assert inline["recorded"] is False and inline["revenue_at_risk"] == pytest.approx(
        inline["probability"] * 30 * 3, abs=0.01
    )
    quotes = [r["evidence"].get("quote", "") for r in inline["reasons"] if r.get("evidence")]
    assert any("cancel" in q for q in quotes)  # the customer's own words behind the reason
    assert results[3]["error"]["field"] == "attributes.signup_date"


def test_requests_arriving_together_are_computed_in_batches_each_answered_as_its_own(
    served: Served,
) -> None:
    """Sixteen score requests and four ingest requests at once: the workers join them into
    batches (/metrics says so), and each request reads only its own answers, in its order."""

    def batched() -> tuple[float, float]:
        text = httpx.get(f"{served['base']}/metrics").text
        found = dict(re.findall(r"^cxml_score_batch_requests_(sum|count) ([0-9.e+]+)$", text, re.M))
        return float(found.get("sum", 0)), float(found.get("count", 0))

    ids = some_customers(served, 12)
    requests = [{"customers": [{"customer_id": c}]} for c in ids] + [
        {"customers": [{"customer_id": f"TOGETHER{n}", "attributes": {"tenure_months": 2 + n},
                        "feedback": [{"created_at": "2025-06-01", "text": f"Refund {n} late."}]}]}
        for n in range(4)
    ]  # fmt: skip
    feedback = [
        {"feedback": [{"feedback_id": f"TOGETHER-F{n}", "customer_id": ids[n], "created_at":
                       "2025-06-02", "text": "Still no refund." if n % 2 else "", "nps": n}]}
        for n in range(4)
    ]  # fmt: skip
    before = batched()
    answers: dict[int, Any] = {}
    start = threading.Barrier(len(requests) + len(feedback))

    def send(n: int) -> None:
        with client(served, "admin") as api:
            start.wait()
            if n < len(requests):
                answers[n] = api.post("/v1/score?fresh=true&record=false", json=requests[n])
            else:
                answers[n] = api.post("/v1/feedback", json=feedback[n - len(requests)])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(requests) + 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, body in enumerate(requests):
        assert answers[n].status_code == 200, answers[n].text
        [result] = answers[n].json()["results"]
        assert result["customer_id"] == body["customers"][0]["customer_id"]
        assert 0 <= result["probability"] <= 1 and result["reused"] is False
    for n in range(4):
        answer = answers[len(requests) + n].json()
        assert [r["feedback_id"] for r in answer["results"]] == [f"TOGETHER-F{n}"]
        assert answer["accepted"] + answer["unchanged"] == 1
        assert answer["analysed"] == (1 if n % 2 else 0) or answer["unchanged"] == 1
    after = batched()
    computed, batches = after[0] - before[0], after[1] - before[1]
    assert computed == len(requests) and batches < computed  # some batch joined requests


def test_a_stored_score_is_reused_until_the_customers_data_changes(served: Served) -> None:
    known = some_customers(served, 2)[1]
    with client(served, "admin") as api:
        first = api.post("/v1/score", json={"customers": [{"customer_id": known}]}).json()
        again = api.post("/v1/score", json={"customers": [{"customer_id": known}]}).json()
        assert again["results"][0]["reused"] is True
        assert again["results"][0]["probability"] == first["results"][0]["probability"]
        forced = api.post(
            "/v1/score", params={"fresh": "true"}, json={"customers": [{"customer_id": known}]}
        ).json()
        assert forced["results"][0]["reused"] is False
        sent = api.post(
            "/v1/feedback",
            json={
                "feedback": [
                    {
                        "feedback_id": f"reuse-{known}",
                        "customer_id": known,
                        "created_at": datetime.now(UTC).isoformat(),
                        "channel": "email",
                        "text": "Cancel my subscription now, the service is terrible.",
                    }
                ]
            },
        ).json()
        assert sent["accepted"] == 1 and sent["analysed"] == 1
        after = api.post("/v1/score", json={"customers": [{"customer_id": known}]}).json()
    assert after["results"][0]["reused"] is False  # new feedback: computed again
    feature_names = [r["feature"] for r in after["results"][0]["reasons"]]
    assert after["results"][0]["probability"] != first["results"][0]["probability"] or feature_names


def test_limits_and_validation_errors_name_the_field(served: Served) -> None:
    with client(served, "admin") as api:
        too_many = api.post("/v1/score", json={"customers": [{"customer_id": "C"}] * 1001})
        assert too_many.status_code == 413 and "at most 1,000" in too_many.json()["detail"]
        bad = api.post(
            "/v1/score",
            json={
                "customers": [
                    {"customer_id": "X", "feedback": [{"created_at": "2025-01-01", "nps": 11}]}
                ]
            },
        )
        assert bad.status_code == 422
        assert bad.json()["field"] == "body.customers.0.feedback.0.nps"
        huge = api.post(
            "/v1/analyze",
            content=b'{"texts": ["' + b"a" * 11_000_000 + b'"]}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413 and huge.json()["field"] == "body"
        empty = api.post("/v1/score", json={"customers": []})
        assert empty.status_code == 422 and empty.json()["field"] == "body.customers"
        broken = api.post(
            "/v1/score", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422 and "Traceback" not in broken.text


def test_extreme_numbers_and_dates_are_item_errors_naming_field_and_range(
    served: Served,
) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    feedback = [{"created_at": yesterday, "text": "fine", "nps": 9}]
    extremes = [
        ("monthly_value", 1e308, "expected 0 to 1,000,000,000,000"),
        ("tenure_months", 4_000_000_000, "expected 0 to 1200 months"),
        ("signup_date", "1800-01-01", "before 1900"),
        ("signup_date", "9999-12-31", "in the future"),
    ]
    body = {
        "customers": [
            {
                "customer_id": f"EXTREME{i}",
                "attributes": {"signup_date": "2024-01-01", field: value},
                "feedback": feedback,
            }
            for i, (field, value, _) in enumerate(extremes)
        ]
    }
    with client(served, "admin") as api:
        scored = api.post("/v1/score", json=body)
        assert scored.status_code == 200, scored.text
        results = finite_json(scored)["results"]
        for result, (field, _, expected) in zip(results, extremes, strict=True):
            assert result["error"]["field"] == f"attributes.{field}", result
            assert expected in result["error"]["reason"], result
        stored = finite_json(
            api.post(
                "/v1/customers",
                json={
                    "customers": [
                        {"customer_id": "HUGE", "signup_date": "2024-01-01", "monthly_value": 1e308}
                    ]
                },
            )
        )
        assert stored["results"][0]["status"] == "rejected"
        assert [e["field"] for e in stored["results"][0]["errors"]] == ["monthly_value"]
        assert api.get("/v1/customers/HUGE").status_code == 404
        top = finite_json(api.get("/v1/at-risk", params={"limit": 5, "sort": "revenue_at_risk"}))
        assert all(i["customer_id"] != "HUGE" for i in top["items"])
        unknown = api.get("/v1/metrics/nps", params={"by": "nosuch"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "by"
        assert "nosuch" in unknown.json()["detail"]
