"""``GET /v1/worklist`` on the real server over a small scored store: a theme id or an
attribute name the store does not know is a 422 naming it; a known one that matches nobody
is an empty list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.serve.conftest import small_store_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with small_store_api(tmp_path_factory.mktemp("worklist-filters")) as client:
        yield client


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
