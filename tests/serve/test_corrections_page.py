"""On a customer's page a person corrects a churn intent: the control posts it, says it took,
and the store holds the row with who made it; a key that may not write is offered no control,
and a write that fails says so once, in the API's words (real Chromium, real server, small
store)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cxml.corrections import list_corrections
from cxml.keys import create_key
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Server
from tests.serve.test_page import no_serious_violations
from tests.test_corrections import small_store

pytestmark = pytest.mark.slow  # a real browser against a real server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("corrections-page")
    url = f"sqlite:///{folder}/cxml.db"
    settings = Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{folder}/mlflow.db")
    store = Store.open(settings)
    small_store(store, settings, folder / "data")
    key = create_key(store, ["read", "act"], now=NOW, name="aiko")
    reader = create_key(store, ["read"], now=NOW, name="ken")
    store.close()
    server = Server(folder, url)
    try:
        yield {"base": server.base, "key": key, "reader": reader, "settings": settings}
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("lang", "button", "says"),
    [
        ("en", "Not a churn intent", "Corrected: not a churn intent"),
        ("ja", "解約意図ではない", "修正済み"),
    ],
)
def test_an_agent_marks_a_comment_not_a_churn_intent(
    served: dict[str, Any],
    chromium: Any,
    lang: str,
    button: str,
    says: str,
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(f"localStorage.setItem('cxml-lang', '{lang}')")
    page.goto(served["base"] + "/")
    page.fill("#signin-key", served["key"])
    page.click(".signin button[type=submit]")
    page.goto(served["base"] + "/#/customers/C1")
    control = page.locator(".intent-fix[data-feedback='F1']").first
    assert control.locator(".intent-not").inner_text() == button
    control.locator(".intent-not").click()
    page.wait_for_selector(f".intent-fix[data-feedback='F1'] .intent-fixed:has-text('{says}')")
    store = Store.open(served["settings"])
    try:
        [row] = list_corrections(store, feedback_id="F1")
    finally:
        store.close()
    assert (row["verdict"], row["created_by"], row["intent"]) == ("not", "aiko", "leave")
    # …and the other way: a comment read as nothing is named a churn intent of a kind.
    other = page.locator(".intent-fix[data-feedback='F2']").first
    other.locator(".intent-kind").select_option("stop_using")
    other.locator(".intent-mark").click()
    page.wait_for_selector(".intent-fix[data-feedback='F2'] .intent-fixed:not(:empty)")
    store = Store.open(served["settings"])
    try:
        [row] = list_corrections(store, feedback_id="F2")
    finally:
        store.close()
    assert row["verdict"] == "stop_using"
    no_serious_violations(page, f"intent corrections ({lang})")
    assert errors == []


def _signed_in(chromium: Any, served: dict[str, Any], key: str, path: str) -> tuple[Any, list[str]]:
    """A page signed in with ``served[key]`` showing ``path``, and the list its errors go to."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script("localStorage.setItem('cxml-lang', 'en')")
    page.goto(served["base"] + "/")
    page.fill("#signin-key", served[key])
    page.click(".signin button[type=submit]")
    page.wait_for_selector("nav a")  # signed in
    page.goto(served["base"] + path)
    page.wait_for_selector("#conversation li")
    return page, errors


def test_a_read_only_key_sees_the_intents_but_no_control_to_change_them(
    served: dict[str, Any], chromium: Any
) -> None:
    page, errors = _signed_in(chromium, served, "reader", "/#/customers/C1")
    assert "churn intent" in page.inner_text("#conversation")  # F1's intent is shown…
    writes = "#conversation button, #conversation select, #new-follow-up, .actions"
    assert page.locator(writes).count() == 0  # …but nothing that would answer 403
    assert "act scope" in page.inner_text("#follow-up-readonly")
    no_serious_violations(page, "customer, read-only key")
    assert errors == []


def _changed(change: dict[str, str]) -> Callable[[Any], None]:
    """A route handler sending the page's request on with ``change`` (its body or its url)."""
    return lambda route: route.continue_(**change)


def _correct_f3(page: Any) -> None:
    page.locator(".intent-fix[data-feedback='F3'] .intent-mark").click()


def _follow_up_c2(page: Any) -> None:
    page.fill("#new-note", "called: the app crashes on login")
    page.click("#new-follow-up button[type=submit]")


@pytest.mark.parametrize(
    ("write", "path", "missing", "good", "bad", "place", "took"),
    [
        (
            _correct_f3,
            "/v1/feedback/F3/intent-corrections",
            "/v1/feedback/NOPE/intent-corrections",
            {"intent": "leave", "verdict": "switch"},
            {"intent": "leave", "verdict": "bored"},
            ".intent-fix[data-feedback='F3']",
            ".intent-fix[data-feedback='F3'] .intent-fixed:has-text('Corrected')",
        ),
        (
            _follow_up_c2,
            "/v1/customers/C2/follow-ups",
            "/v1/customers/NOPE/follow-ups",
            {"status": "open"},
            {"status": "forgotten"},
            "#new-follow-up",
            "text=called: the app crashes on login",
        ),
    ],
    ids=["intent correction", "follow-up"],
)
def test_a_failed_write_shows_one_current_message_in_the_apis_words(
    served: dict[str, Any],
    chromium: Any,
    write: Callable[[Any], None],
    path: str,
    missing: str,
    good: dict[str, Any],
    bad: dict[str, Any],
    place: str,
    took: str,
) -> None:
    # Two different failures from the real API: a body it refuses (422), then an id it does
    # not know (404); the page's requests are changed on their way, the answers are the API's.
    with httpx.Client(
        base_url=served["base"], headers={"X-API-Key": served["key"]}, timeout=60
    ) as api:
        refused = api.post(path, json=bad)
        unknown = api.post(missing, json=good)
    assert (refused.status_code, unknown.status_code) == (422, 404)
    page, errors = _signed_in(chromium, served, "key", "/#/customers/C2")
    messages = page.locator(f"{place} .error")
    for change, answer in (
        ({"post_data": json.dumps(bad)}, refused),
        ({"url": served["base"] + missing}, unknown),
    ):
        page.route(served["base"] + path, _changed(change))
        write(page)
        page.wait_for_selector(f"{place} .error:has-text({json.dumps(answer.json()['detail'])})")
        page.unroute(served["base"] + path)
    # one message, the latest, in the API's words: replaced, not stacked under the first
    assert messages.all_inner_texts() == [f"Could not save: {unknown.json()['detail']}"]
    write(page)
    page.wait_for_selector(took)
    assert page.locator(f"{place} .error:visible").count() == 0
    assert errors == []
