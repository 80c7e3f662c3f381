"""The HTTP service against a real uvicorn server on loopback, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_cxml

Served = dict[str, Any]


pytestmark = pytest.mark.slow  # real uvicorn servers over demo worlds built by `cxml demo`


def client(served: Served, scope: str = "admin") -> httpx.Client:
    return httpx.Client(
        base_url=served["base"], headers={"X-API-Key": served["keys"][scope]}, timeout=60
    )


def some_customers(served: Served, n: int = 3) -> list[str]:
    with client(served, "read") as api:
        items = api.get("/v1/at-risk", params={"limit": n}).json()["items"]
    return [i["customer_id"] for i in items]


def test_health_readiness_and_prometheus_metrics(served: Served) -> None:
    assert httpx.get(f"{served['base']}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{served['base']}/readyz")
    assert ready.status_code == 200 and ready.json()["churn_model"] == "1"
    text = httpx.get(f"{served['base']}/metrics").text
    assert 'cxml_http_requests_total{method="GET",route="/readyz",status="200"}' in text
    assert 'cxml_model_info{kind="churn",version="1"} 1.0' in text


def test_keys_are_required_scoped_and_revocable(served: Served) -> None:
    base = served["base"]
    missing = httpx.get(f"{base}/v1/at-risk")
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    wrong = httpx.get(f"{base}/v1/at-risk", headers={"X-API-Key": "cxml_abc_not-a-key"})
    assert wrong.status_code == 401
    with client(served, "read") as api:
        refused = api.post("/v1/score", json={"customers": [{"customer_id": "C000001"}]})
    assert refused.status_code == 403 and "'score'" in refused.json()["detail"]
    key = served["keys"]["read"]
    short_lived = run_cxml(
        ["keys", "create", "--scope", "read"], served["cwd"], database_url=served["url"]
    )
    secret = short_lived.stdout.strip().splitlines()[-1]
    assert secret != key and secret.startswith("cxml_")
    ok = httpx.get(f"{base}/v1/models", headers={"X-API-Key": secret})
    assert ok.status_code == 200
    revoked = run_cxml(["keys", "revoke", secret], served["cwd"], database_url=served["url"])
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{base}/v1/models", headers={"X-API-Key": secret}).status_code == 401
    listed = run_cxml(["keys", "list", "--json"], served["cwd"], database_url=served["url"])
    assert secret.split("_")[2] not in listed.stdout  # never the secret, not even hashed
    assert "secret_hash" not in listed.stdout


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
    quotes = [r["evidence"]["quote"] for r in inline["reasons"] if r.get("evidence")]
    assert any("cancel" in q for q in quotes)  # the customer's own words behind the reason
    assert results[3]["error"]["field"] == "attributes.signup_date"


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


def test_analyze_returns_the_pipeline_output_in_order(served: Served) -> None:
    with client(served, "score") as api:
        response = api.post(
            "/v1/analyze",
            json={
                "texts": [
                    "The app keeps crashing, mail me at jo@example.com",
                    {"id": "t2", "text": "スタッフがとても親切でした。"},
                ]
            },
        ).json()
    first, second = response["results"]
    assert first["language"] == "en" and second["language"] == "ja" and second["id"] == "t2"
    assert "jo@example.com" not in first["redacted_text"]
    assert first["sentiment"]["label"] in {"negative", "neutral", "positive"}
    assert {"themes", "key_phrases", "intents"} <= set(first)


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


def test_at_risk_list_ranks_pages_filters_and_exports_csv(served: Served) -> None:
    with client(served, "read") as api:
        first = api.get("/v1/at-risk", params={"limit": 5}).json()
        second = api.get("/v1/at-risk", params={"limit": 5, "cursor": first["next"]}).json()
        both = first["items"] + second["items"]
        assert len(both) == 10 and len({i["customer_id"] for i in both}) == 10
        probabilities = [i["probability"] for i in both]
        assert probabilities == sorted(probabilities, reverse=True)
        whole = api.get("/v1/at-risk", params={"limit": 10}).json()["items"]
        assert [i["customer_id"] for i in whole] == [i["customer_id"] for i in both]
        by_revenue = api.get("/v1/at-risk", params={"limit": 20, "sort": "revenue_at_risk"}).json()
        revenue = [i["revenue_at_risk"] or -1 for i in by_revenue["items"]]
        assert revenue == sorted(revenue, reverse=True)
        band = both[-1]["band"]
        banded = api.get("/v1/at-risk", params={"band": band, "limit": 1000}).json()["items"]
        assert banded and all(i["band"] == band for i in banded)
        floor = api.get("/v1/at-risk", params={"min_probability": 0.2, "limit": 1000}).json()
        assert all(i["probability"] >= 0.2 for i in floor["items"])
        plan = both[0]["attributes"]["plan"]
        segment = api.get("/v1/at-risk", params={"attribute": f"plan={plan}", "limit": 50}).json()
        assert segment["items"] and all(i["attributes"]["plan"] == plan for i in segment["items"])
        exported = api.get("/v1/at-risk", params={"limit": 10}, headers={"Accept": "text/csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["customer_id"] for r in rows] == [i["customer_id"] for i in both]
        bad = api.get("/v1/at-risk", params={"cursor": "garbage"})
        assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
        assert api.get("/v1/at-risk", params={"limit": 5000}).status_code == 422


def test_follow_ups_close_the_loop_with_a_full_audit_trail(served: Served) -> None:
    customer = some_customers(served, 4)[3]
    with client(served, "read") as api:
        made = api.post(
            f"/v1/customers/{customer}/follow-ups", json={"owner": "aiko", "note": "call"}
        )
        assert made.status_code == 201 and made.json()["status"] == "open"
        follow_up = made.json()["follow_up_id"]
        changed = api.patch(
            f"/v1/customers/{customer}/follow-ups/{follow_up}",
            json={"status": "contacted", "outcome": "offered a discount"},
        ).json()
        history = changed["history"]
        assert len(history) == 2
        assert history[1]["changes"] == {
            "status": ["open", "contacted"],
            "outcome": [None, "offered a discount"],
        }
        assert history[1]["changed_by"] == served["keys"]["read"].split("_")[1]
        assert (
            api.patch(
                f"/v1/customers/{customer}/follow-ups/999999", json={"status": "lost"}
            ).status_code
            == 404
        )
        assert (
            api.patch(
                f"/v1/customers/{customer}/follow-ups/{follow_up}", json={"status": "won"}
            ).status_code
            == 422
        )
        listed = api.get(
            "/v1/at-risk", params={"follow_up_status": "contacted", "limit": 100}
        ).json()
        assert customer in [i["customer_id"] for i in listed["items"]]
        assert all(i["follow_up"]["status"] == "contacted" for i in listed["items"])
        none_yet = api.get("/v1/at-risk", params={"follow_up_status": "none", "limit": 100}).json()
        assert customer not in [i["customer_id"] for i in none_yet["items"]]
        assert api.post("/v1/customers/NOBODY/follow-ups", json={}).status_code == 404


def test_one_customers_whole_story(served: Served) -> None:
    customer = some_customers(served, 1)[0]
    with client(served, "read") as api:
        story = api.get(f"/v1/customers/{customer}").json()
        assert story["score"]["customer_id"] == customer and story["score"]["reasons"]
        times = [t["created_at"] for t in story["timeline"]]
        assert times == sorted(times, reverse=True)
        assert len({t["channel"] for t in story["timeline"]}) >= 1
        missing = api.get("/v1/customers/NOBODY")
        assert missing.status_code == 404 and "NOBODY" in missing.json()["detail"]


def test_metrics_drivers_and_alerts(served: Served) -> None:
    with client(served, "read") as api:
        nps = api.get("/v1/metrics/nps", params={"period": "quarter", "by": "channel"}).json()
        assert nps["rows"] and {"period", "channel", "nps", "ci_low", "ci_high", "n"} <= set(
            nps["rows"][0]
        )
        assert all(-100 <= r["nps"] <= 100 for r in nps["rows"])
        churn = api.get("/v1/metrics/churn-rate", params={"period": "year"}).json()
        assert churn["rows"]
        assert api.get("/v1/drivers/nps").json()["rows"]
        assert "rows" in api.get("/v1/alerts", params={"all": "true"}).json()
        assert api.get("/v1/metrics/happiness").status_code == 422


def test_reload_swaps_models_without_dropping_requests(served: Served) -> None:
    customer = some_customers(served, 1)[0]
    statuses: list[int] = []

    def hammer() -> None:
        with client(served, "score") as api:
            for _ in range(15):
                statuses.append(
                    api.post(
                        "/v1/score",
                        params={"fresh": "true", "record": "false"},
                        json={"customers": [{"customer_id": customer}]},
                    ).status_code
                )

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for worker in workers:
        worker.start()
    with client(served, "read") as api:
        assert api.post("/v1/models/reload").status_code == 403
    with client(served, "admin") as api:
        for _ in range(3):
            reloaded = api.post("/v1/models/reload")
            assert reloaded.status_code == 200 and reloaded.json()["churn"]["version"] == "1"
    for worker in workers:
        worker.join()
    assert statuses and set(statuses) == {200}


def test_the_commands_the_demo_prints_as_next_work_when_pasted(served: Served) -> None:
    """Last in this module: pasting them retrains the text model, which the server follows."""
    import shlex

    output = str(served["demo_output"])
    listed = output[output.index("\nnext:") :].splitlines()[1:]
    commands = [line.strip().split("  ")[0] for line in listed if line.strip().startswith("cxml ")]
    assert len(commands) >= 8
    for command in commands:
        done = run_cxml(
            shlex.split(command)[1:], Path(str(served["cwd"])), database_url=str(served["url"])
        )
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    mlflow_ui = next(line for line in listed if "mlflow ui" in line)
    assert "--backend-store-uri sqlite:///mlflow.db" in mlflow_ui
