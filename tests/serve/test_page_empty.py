"""The page over a store with nobody to list says why and what to do, in the reader's language,
from the at-risk list's own ``empty_reason``: on a theme's page and on the worklist; its
overview says how many customers are scored (real browser, real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cxml.keys import create_key
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, Server
from tests.serve.test_page import browser  # noqa: F401 - the fixture
from tests.test_at_risk import scored_store

pytestmark = pytest.mark.slow  # a real browser against a real server

#: What each state makes the page say, per language (the start of the sentence).
SAYS = {
    ("empty", "en"): "No customers yet — load them with `cxml ingest customers FILE`",
    ("empty", "ja"): "顧客がまだいません",
    ("not_scored", "en"): "No churn model yet — run `cxml train churn`, then `cxml score`.",
    ("not_scored", "ja"): "解約予測モデルがまだありません",
}
#: What the overview says of how many customers are scored (two active, none scored yet).
SCORED = {
    ("empty", "en"): "0 of 0 active customers scored",
    ("empty", "ja"): "スコア済み：現在の顧客0人中0人",
    ("not_scored", "en"): "0 of 2 active customers scored",
    ("not_scored", "ja"): "スコア済み：現在の顧客2人中0人",
}


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("filled", ["empty", "not_scored"])
def test_an_empty_list_on_the_page_says_why(
    tmp_path: Path,
    browser: Any,  # noqa: F811 - the fixture
    filled: str,
    lang: str,
) -> None:
    url = f"sqlite:///{tmp_path}/cxml.db"
    settings = Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    store = Store.open(settings)
    if filled == "not_scored":
        scored_store(store, settings, tmp_path / "data", scored=False)
    key = create_key(store, ["read"], now=NOW)
    store.close()
    server = Server(tmp_path, url)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.add_init_script(f"localStorage.setItem('cxml-lang', '{lang}')")
        page.goto(server.base + "/")
        page.fill("#signin-key", key)
        page.click(".signin button[type=submit]")
        said = page.wait_for_selector("#kpi-scored").inner_text()
        assert said == SCORED[filled, lang], said
        page.goto(server.base + "/#/themes/other")
        said = page.wait_for_selector("#theme-customers-empty").inner_text()
        assert said.startswith(SAYS[filled, lang]), said
        page.goto(server.base + "/#/worklist")
        said = page.wait_for_selector("#worklist-empty").inner_text()
        assert said.startswith(SAYS[filled, lang]), said
        assert errors == []
    finally:
        server.stop()
