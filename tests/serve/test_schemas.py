"""Every route answers a documented shape (issue #27 §6): a client generated from
/openapi.json gets named types, not a bare ``dict`` per route; every webhook event documents
the payload a receiver gets."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from cxml.settings import Settings
from cxml.store import Store
from cxml.webhooks import EVENTS
from serve.app import create_app
from serve.schemas_reports import EVENT_BODIES

# Routes still answering an untyped object: none.
UNTYPED_FOR_NOW: set[str] = set()


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("spec")
    return create_app(Settings(database_url=f"sqlite:///{folder}/x.db")).openapi()


def _resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _success_schemas(spec: dict[str, Any]) -> dict[str, list[dict[str, Any] | None]]:
    """Each operation id: the schema of each of its 2xx answers that has a body."""
    found: dict[str, list[dict[str, Any] | None]] = {}
    for ops in spec["paths"].values():
        for op in ops.values():
            schemas = found.setdefault(op["operationId"], [])
            for code, answer in op["responses"].items():
                if not code.startswith("2") or code == "204":  # 204 answers no body
                    continue
                content = answer.get("content") or {}
                if not content:
                    schemas.append(None)
                for media, body in content.items():
                    if media == "text/csv":  # the CSV variant of a JSON route
                        continue
                    schemas.append(body.get("schema"))
    return found


def _is_typed(spec: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    """A named model, or a plain string (Prometheus text): not a bare or free-form object."""
    if not schema:
        return False
    resolved = _resolved(spec, schema)
    if resolved.get("type") == "string":
        return True
    return bool(resolved.get("properties")) and resolved.get("additionalProperties") in (
        None,
        False,
        True,  # a documented object that may carry more keys (rows that vary by request)
    )


def test_every_route_documents_its_answer(spec: dict[str, Any]) -> None:
    untyped = sorted(
        operation
        for operation, schemas in _success_schemas(spec).items()
        if any(not _is_typed(spec, s) for s in schemas)
    )
    assert untyped == sorted(UNTYPED_FOR_NOW)


@pytest.mark.parametrize("event", EVENTS)
def test_every_webhook_event_documents_its_payload(spec: dict[str, Any], event: str) -> None:
    body = spec["webhooks"][event]["post"]["requestBody"]["content"]["application/json"]
    envelope = _resolved(spec, body["schema"])
    assert set(envelope["required"]) == {"event_id", "type", "created_at", "payload"}
    assert envelope["properties"]["type"]["const"] == event
    payload = _resolved(spec, envelope["properties"]["payload"])
    assert payload["properties"] and payload.get("additionalProperties") is None
    assert event in EVENT_BODIES


def test_the_bodies_cxml_queues_match_their_documented_schemas(
    store: Store, settings: Settings
) -> None:
    """Every event cxml queues, made by the code that queues it, validates against its documented
    body, and its payload carries exactly the documented fields (drift.alert: see its job)."""
    from cxml.followups import escalate_overdue, open_follow_up
    from cxml.jobs.promote import announce_first_champion
    from cxml.jobs.pulls import pull
    from cxml.webhooks import (
        announce_emerging_themes,
        announce_overdue_follow_ups,
        announce_readable_pulls,
        body_of,
        deliveries,
        queue_high_risk,
        register,
    )
    from tests.test_pulls import NOW, _scored
    from tests.test_webhook_events import surging_theme

    made = ["customer.high_risk", "follow_up.overdue", "model.promoted", "theme.emerging"]
    endpoint = register(
        store,
        "http://127.0.0.1:9/hook",
        [*made, "pull.readable"],
        actor="k",
        now=NOW,
        allow_private=True,
    )
    scored = _scored(store, settings, n=20)
    rising = scored[scored["band"] == "medium"].head(1).assign(band="high", probability=0.9)
    with store.begin() as connection:  # a medium customer scored high a day later: entering
        tomorrow = (NOW + timedelta(days=1)).date()
        assert queue_high_risk(connection, rising.assign(as_of=tomorrow), now=NOW) == 1
    high = scored.loc[scored["band"] == "high", "customer_id"].iloc[0]
    open_follow_up(store, high, {"owner": "aiko"}, actor="k", now=NOW)
    later = NOW + timedelta(days=10)
    assert announce_overdue_follow_ups(store, now=later) == 1
    assert escalate_overdue(store, now=later, after_days=3, owner="lead", actor="cron")
    pull(store, settings, today=NOW, capacity=5, actor="k", horizon_days=30, seed=1)
    assert announce_readable_pulls(store, now=NOW + timedelta(days=31)) == 1
    assert announce_first_champion(store, "cxml-churn", "1", now=NOW) == 1
    surging_theme(store, date(2025, 6, 1))
    assert announce_emerging_themes(store, now=NOW) == 1
    rows = deliveries(store, endpoint["endpoint_id"])
    assert {r["event_type"] for r in rows} == {*made, "pull.readable"}
    for row in rows:
        body = EVENT_BODIES[row["event_type"]].model_validate_json(body_of(row))
        documented = set(type(body.payload).model_fields)
        assert set(json.loads(body_of(row))["payload"]) == documented, row["event_type"]


def test_ingest_answers_ids_that_were_sent_as_numbers_or_objects_as_text(
    tmp_path: Any,
) -> None:
    """The answers' ids are documented as text: a customer or feedback id sent as a number
    (stored as its text) or as an object (refused) is echoed as text, not a 500 (real uvicorn,
    an empty store)."""
    from datetime import datetime

    import httpx

    from cxml.keys import create_key
    from tests.conftest import Server

    url = f"sqlite:///{tmp_path}/ids.db"
    store = Store.open(Settings(database_url=url))
    key = {"X-API-Key": create_key(store, ["ingest"], now=datetime(2026, 1, 1))}
    store.close()
    customers = [
        {"customer_id": 5, "signup_date": "2025-01-01"},
        {"customer_id": [1], "signup_date": "not a date"},
    ]
    feedback = [
        {"feedback_id": 7, "customer_id": 5, "created_at": "2026-01-01", "channel": "email",
         "text": "fine"},
        {"feedback_id": {"a": 1}, "customer_id": "5", "created_at": "not a date",
         "channel": "email", "text": "fine"},
    ]  # fmt: skip
    server = Server(tmp_path, url)
    try:
        with httpx.Client(base_url=server.base, headers=key, timeout=60) as api:
            sent = api.post("/v1/customers", json={"customers": customers})
            said = api.post("/v1/feedback", json={"feedback": feedback})
    finally:
        server.stop()
    assert sent.status_code == 200, sent.text
    assert [(r["customer_id"], r["status"]) for r in sent.json()["results"]] == [
        ("5", "accepted"),
        ("[1]", "rejected"),
    ]
    assert said.status_code == 200, said.text
    results = said.json()["results"]
    assert results[0] == {"feedback_id": "7", "status": "accepted"}  # no null customer_id/errors
    assert results[1]["feedback_id"] == '{"a": 1}' and results[1]["status"] == "rejected"
    assert results[1]["errors"][0]["field"] == "created_at"
