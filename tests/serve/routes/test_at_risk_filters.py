"""``GET /v1/at-risk`` on the real server over a small scored store: a filter value no
customer can ever match (a theme id or an attribute name the store does not know) is a 422
naming it and what is expected; a known one that matches nobody is an empty list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.serve.conftest import small_store_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with small_store_api(tmp_path_factory.mktemp("at-risk-filters")) as client:
        yield client


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
