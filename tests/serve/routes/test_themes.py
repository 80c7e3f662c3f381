"""``GET /v1/themes/{theme_id}/comments`` on the real server over a small store: a theme id
the store does not know is a 404 pointing to the list of themes, not an empty page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.serve.conftest import small_store_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with small_store_api(tmp_path_factory.mktemp("theme-comments"), scored=False) as client:
        yield client


@pytest.mark.parametrize(("theme_id", "comments"), [("billing", ["F1"]), ("other", 3)])
def test_a_known_themes_comments_are_listed(
    api: httpx.Client, theme_id: str, comments: list[str] | int
) -> None:
    answer = api.get(f"/v1/themes/{theme_id}/comments")
    assert answer.status_code == 200, answer.text
    items = [i["feedback_id"] for i in answer.json()["items"]]
    assert items == comments if isinstance(comments, list) else len(items) == comments


@pytest.mark.parametrize("theme_id", ["nope", "Billing"])
def test_an_unknown_theme_is_a_404_pointing_to_the_themes(api: httpx.Client, theme_id: str) -> None:
    answer = api.get(f"/v1/themes/{theme_id}/comments")
    problem = answer.json()
    assert (answer.status_code, problem["code"]) == (404, "CX104")
    assert problem["detail"] == (
        f"theme {theme_id!r} is not in the store: GET /v1/themes lists the themes"
    )
