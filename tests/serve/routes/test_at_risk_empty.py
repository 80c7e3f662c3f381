"""``GET /v1/at-risk`` on the real server as a new store fills: an empty list is still a 200,
and says why (no customers, no churn model and no scores, nobody matching the filters) with
what to do, in ``empty_reason`` and ``message``; a list with customers says nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cxml.at_risk import EMPTY_MESSAGES
from cxml.keys import create_key
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Server
from tests.test_at_risk import score_them, scored_store


@pytest.fixture
def api(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path}/cxml.db"
    settings = Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    store = Store.open(settings)
    key = create_key(store, ["read"], now=NOW)
    server = Server(tmp_path, url)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=60) as client:
            yield {"client": client, "store": store, "settings": settings, "folder": tmp_path}
    finally:
        server.stop()
        store.close()


def _why(client: httpx.Client, **params: Any) -> tuple[int, list[str], Any, Any]:
    answer = client.get("/v1/at-risk", params=params)
    body = answer.json()
    return (
        answer.status_code,
        [i["customer_id"] for i in body.get("items", [])],
        body.get("empty_reason"),
        body.get("message"),
    )


def test_an_empty_list_says_why_as_the_store_fills(api: dict[str, Any]) -> None:
    client = api["client"]
    # a new installation: nothing in the store (a known theme changes nothing)
    for params in ({}, {"theme": "other"}, {"band": "high"}):
        assert _why(client, **params) == (200, [], "no_customers", EMPTY_MESSAGES["no_customers"])
    assert "`cxml ingest customers FILE`" in EMPTY_MESSAGES["no_customers"]
    exported = client.get("/v1/at-risk", headers={"Accept": "text/csv"})
    assert exported.status_code == 200 and exported.text.count("\n") == 1  # the header only
    # customers and their feedback, no churn model served and nobody scored
    scored_store(api["store"], api["settings"], api["folder"] / "data", scored=False)
    assert _why(client) == (200, [], "no_churn_model", EMPTY_MESSAGES["no_churn_model"])
    assert "`cxml train churn`, then `cxml score`" in EMPTY_MESSAGES["no_churn_model"]
    # scored (as `cxml score` would): the list, and nothing to explain; filters nobody matches
    score_them(api["store"])
    assert _why(client) == (200, ["C1", "C2"], None, None)
    assert _why(client, band="medium") == (200, [], "no_match", EMPTY_MESSAGES["no_match"])
    assert _why(client, min_probability=0.99) == (200, [], "no_match", EMPTY_MESSAGES["no_match"])
    # a page after the last is not news
    first = client.get("/v1/at-risk", params={"limit": 1}).json()
    assert first["next"] and first["message"] is None
    last = client.get("/v1/at-risk", params={"limit": 1, "cursor": first["next"]}).json()
    assert [i["customer_id"] for i in last["items"]] == ["C2"] and last["empty_reason"] is None


def test_the_openapi_document_describes_why_a_list_is_empty(api: dict[str, Any]) -> None:
    spec = api["client"].get("/openapi.json").json()
    page = spec["components"]["schemas"]["AtRiskPage"]["properties"]
    reasons = page["empty_reason"]["anyOf"][0]
    assert set(reasons["enum"]) == set(EMPTY_MESSAGES)
    assert all(reason in page["empty_reason"]["description"] for reason in EMPTY_MESSAGES)
    assert "what to do" in page["message"]["description"]
