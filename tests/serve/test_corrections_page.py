"""On a customer's page a person corrects a churn intent: the control posts it, says it took,
and the store holds the row with who made it; a key that may not write is offered no control
(real Chromium, real server, small store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cxml.corrections import list_corrections
from cxml.keys import create_key
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Server
from tests.serve.test_page import ARGS, CHROMIUM, no_serious_violations
from tests.test_corrections import small_store

pytestmark = pytest.mark.slow  # a real browser against a real server


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


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
