"""``GET /v1/at-risk`` on the real server over a small scored store: a filter value no
customer can ever match (a theme id or an attribute name the store does not know) is a 422
naming it and what is expected; a known one that matches nobody is an empty list."""

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
    folder = tmp_path_factory.mktemp("at-risk-filters")
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
            "theme='nope' is not a theme id this store knows: expected one of billing, other "
            "(GET /v1/themes lists them with their labels)",
            id="theme",
        ),
        pytest.param(  # customers who raised either: the unknown one is refused all the same
            {"theme": ["billing", "nope"]},
            "theme",
            "theme='nope' is not a theme id",
            id="one-theme-of-two",
        ),
        pytest.param(
            {"attribute": "tier=gold"},
            "attribute",
            "attribute='tier=gold': no customer has an attribute named 'tier'; the store's "
            "customers have plan",
            id="attribute",
        ),
        pytest.param(
            {"attribute": ["plan=premium", "tier=gold"]},
            "attribute",
            "attribute='tier=gold'",
            id="one-attribute-of-two",
        ),
    ],
)
def test_a_filter_value_no_customer_can_match_is_a_422_naming_it(
    api: httpx.Client, params: dict[str, Any], field: str, says: str
) -> None:
    for accept in ("application/json", "text/csv"):
        answer = api.get("/v1/at-risk", params=params, headers={"Accept": accept})
        problem = answer.json()
        assert (answer.status_code, problem["code"], problem["field"]) == (422, "CX101", field)
        assert problem["detail"].startswith(says)


@pytest.mark.parametrize(
    ("params", "listed"),
    [
        ({"theme": "billing"}, ["C1"]),
        ({"theme": "billing", "theme_days": 1}, []),  # known, raised too long ago
        ({"theme": "other", "band": "medium"}, []),  # known, nobody at medium risk
        ({"attribute": "plan=basic"}, ["C2"]),  # C3 has left
        ({"attribute": "plan=gold"}, []),  # a value no customer has (yet): not checked
        ({"attribute": "plan=premium", "band": "low"}, []),
    ],
)
def test_a_known_filter_value_that_matches_nobody_is_an_empty_list(
    api: httpx.Client, params: dict[str, Any], listed: list[str]
) -> None:
    # the comments are from February 2025: within ten years (the most theme_days takes)
    answer = api.get("/v1/at-risk", params={"theme_days": 3650, **params})
    assert answer.status_code == 200, answer.text
    assert [i["customer_id"] for i in answer.json()["items"]] == listed
