"""``GET /v1/worklist`` on the real server over a small scored store: a theme id or an
attribute name the store does not know is a 422 naming it; a known one that matches nobody
is an empty list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cxml.keys import create_key
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Server
from tests.test_at_risk import scored_store


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("worklist-filters")
    url = f"sqlite:///{folder}/cxml.db"
    settings = Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{folder}/mlflow.db")
    store = Store.open(settings)
    scored_store(store, settings, folder / "data")
    key = create_key(store, ["read"], now=NOW)
    store.close()
    server = Server(folder, url)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=60) as client:
            yield client
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        pytest.param(
            {"theme": "nope"},
            "theme",
            "theme='nope' is not a theme id this store knows: expected one of billing, other",
            id="theme",
        ),
        pytest.param({"theme": ["other", "nope"]}, "theme", "theme='nope'", id="one-theme-of-two"),
        pytest.param(
            {"attribute": "tier=gold"},
            "attribute",
            "attribute='tier=gold': no customer has an attribute named 'tier'",
            id="attribute",
        ),
    ],
)
def test_a_filter_value_no_customer_can_match_is_a_422_naming_it(
    api: httpx.Client, params: dict[str, Any], field: str, says: str
) -> None:
    answer = api.get("/v1/worklist", params={"capacity": 5, **params})
    problem = answer.json()
    assert (answer.status_code, problem["code"], problem["field"]) == (422, "CX101", field)
    assert problem["detail"].startswith(says)


@pytest.mark.parametrize(
    ("params", "listed"),
    [
        ({}, ["C1"]),  # high and medium by default; C3 has left
        ({"theme": "other", "band": "medium"}, []),  # a known theme, nobody at medium risk
        ({"attribute": "plan=basic"}, []),  # C2 is at low risk
        ({"attribute": "plan=gold"}, []),  # a value no customer has (yet): not checked
    ],
)
def test_a_known_filter_value_that_matches_nobody_is_an_empty_list(
    api: httpx.Client, params: dict[str, Any], listed: list[str]
) -> None:
    answer = api.get("/v1/worklist", params={"capacity": 5, **params})
    assert answer.status_code == 200, answer.text
    assert [i["customer_id"] for i in answer.json()["items"]] == listed
