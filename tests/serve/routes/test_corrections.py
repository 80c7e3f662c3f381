"""The intent-correction routes on the real app (uvicorn on loopback), on a small store:
scopes, errors with their codes, and the happy path with who and when."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cxml.keys import create_key
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Server
from tests.test_corrections import small_store


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("corrections-api")
    url = f"sqlite:///{folder}/cxml.db"
    settings = Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{folder}/mlflow.db")
    store = Store.open(settings)
    small_store(store, settings, folder / "data")
    keys = {
        "agent": create_key(store, ["read", "act"], now=NOW, name="aiko"),
        "read": create_key(store, ["read"], now=NOW),
        "admin": create_key(store, ["admin"], now=NOW),
    }
    store.close()
    server = Server(folder, url)
    try:
        yield {"base": server.base, "keys": keys, "url": url}
    finally:
        server.stop()


def _client(api: dict[str, Any], key: str | None) -> httpx.Client:
    headers = {"X-API-Key": api["keys"][key]} if key else {}
    return httpx.Client(base_url=api["base"], headers=headers, timeout=60)


@pytest.mark.parametrize(("key", "status", "code"), [(None, 401, "CX301"), ("read", 403, "CX302")])
def test_correcting_needs_the_act_scope(
    api: dict[str, Any], key: str | None, status: int, code: str
) -> None:
    with _client(api, key) as client:
        answer = client.post(
            "/v1/feedback/F2/intent-corrections", json={"intent": "leave", "verdict": "not"}
        )
    assert (answer.status_code, answer.json()["code"]) == (status, code)


@pytest.mark.parametrize(("key", "may_write"), [("read", False), ("agent", True), ("admin", True)])
@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/v1/feedback/F3/intent-corrections", {"verdict": "bored"}),
        ("/v1/customers/C2/follow-ups", {"status": "forgotten"}),
    ],
    ids=["intent correction", "follow-up"],
)
def test_the_config_lists_act_for_exactly_the_keys_that_may_write(
    api: dict[str, Any], key: str, may_write: bool, path: str, refused: dict[str, Any]
) -> None:
    """The page offers its writes when its key's config lists ``act``: the config says what
    the routes check, admin's implied scopes included. (The body is refused, so a key that
    may write gets 422 and nothing is stored.)"""
    with _client(api, key) as client:
        scopes = client.get("/v1/config").json()["scopes"]
        answer = client.post(path, json=refused)
    assert ("act" in scopes, answer.status_code) == (may_write, 422 if may_write else 403)


def test_a_correction_is_recorded_with_the_keys_name_and_listed(api: dict[str, Any]) -> None:
    with _client(api, "agent") as client:
        made = client.post(
            "/v1/feedback/F1/intent-corrections",
            json={"intent": "leave", "verdict": "switch", "note": "moving to a rival"},
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["verdict"], body["created_by"], body["status"]) == (
            "switch",
            "aiko",
            "recorded",
        )
    with _client(api, "read") as reader:
        listed = reader.get("/v1/intent-corrections", params={"customer_id": "C1"}).json()
    assert [i["feedback_id"] for i in listed["items"]] == ["F1"]
    assert listed["items"][0]["created_by"] == "aiko" and listed["items"][0]["created_at"]
    assert "switch" in listed["kinds"]


@pytest.mark.parametrize(
    ("feedback_id", "body", "status", "code", "field", "says"),
    [
        ("NOPE", {"intent": "leave", "verdict": "not"}, 404, "CX104", None, "feedback 'NOPE'"),
        ("F1", {"intent": "leave", "verdict": "bored"}, 422, "CX101", "verdict", "switch"),
        (
            "F1",
            {"intent": "mood", "verdict": "not"},
            422,
            "CX101",
            "intent",
            "intent='mood' is not one of leave, competitor, effort, callback",
        ),
        ("F1", {"intent": "leave"}, 422, "CX101", "body.verdict", "required"),
    ],
)
def test_unknown_comments_and_verdicts_answer_with_a_code(
    api: dict[str, Any],
    feedback_id: str,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
    says: str,
) -> None:
    with _client(api, "agent") as client:
        answer = client.post(f"/v1/feedback/{feedback_id}/intent-corrections", json=body)
    problem = answer.json()
    assert (answer.status_code, problem["code"]) == (status, code), problem
    assert problem["field"] == field and says in problem["detail"]


@pytest.mark.parametrize("body", [{"verdict": "not"}, {}, {"verdict": "not", "note": "x"}])
def test_a_correction_without_its_intent_is_refused_naming_the_field_and_its_values(
    api: dict[str, Any], body: dict[str, Any]
) -> None:
    with _client(api, "agent") as client:
        answer = client.post("/v1/feedback/F1/intent-corrections", json=body)
    problem = answer.json()
    assert (answer.status_code, problem["code"], problem["field"]) == (422, "CX101", "body.intent")
    assert problem["detail"] == (
        "body.intent: Field required (one of leave, competitor, effort, callback)"
    )


def test_the_openapi_document_says_the_intent_is_required_and_its_values(
    api: dict[str, Any],
) -> None:
    spec = httpx.get(f"{api['base']}/openapi.json", timeout=60).json()
    body = spec["components"]["schemas"]["IntentCorrectionCreate"]
    assert "intent" in body["required"]
    assert body["properties"]["intent"]["enum"] == ["leave", "competitor", "effort", "callback"]


@pytest.mark.parametrize("intent", ["zzz", "LEAVE"])
def test_listing_by_an_unknown_intent_is_a_422_naming_it_and_the_known_ones(
    api: dict[str, Any], intent: str
) -> None:
    with _client(api, "read") as reader:
        answer = reader.get("/v1/intent-corrections", params={"intent": intent})
    problem = answer.json()
    assert (answer.status_code, problem["code"], problem["field"]) == (422, "CX101", "intent")
    assert problem["detail"] == (
        f"intent={intent!r} is not one of leave, competitor, effort, callback"
    )


def test_listing_by_a_known_intent_nobody_corrected_is_an_empty_list(api: dict[str, Any]) -> None:
    with _client(api, "read") as reader:
        answer = reader.get("/v1/intent-corrections", params={"intent": "callback"})
    assert answer.status_code == 200 and answer.json()["items"] == []


def test_fuzzed_corrections_never_fail_the_server(api: dict[str, Any]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    spec = httpx.get(f"{api['base']}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=api["base"])
    headers = {"X-API-Key": api["keys"]["agent"]}
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if "intent-corrections" in result.ok().path
    ]
    assert len(operations) == 2
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=60)
            assert response.status_code < 500, response.text[:500]

        check()
