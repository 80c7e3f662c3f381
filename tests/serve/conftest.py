"""Helpers for the tests of the HTTP service against the shared served demo world.

The ``served`` fixture (``tests/conftest.py``) is one demo world per database, built by
`cxml demo` and served by real uvicorn, shared by the whole session: once on SQLite, then once on
PostgreSQL. The tests that use it are split by the serve module that holds what they test:

- ``tests/serve/routes/test_<module>.py`` for the routes in ``serve/routes/<module>.py``
  (health, score, analyze, feedback, at_risk, customers, metrics, models, audit, drift,
  survival, worklist);
- ``tests/serve/test_deps.py`` for API keys (``serve/deps.py``) and ``tests/serve/test_app.py``
  for the app's guard (``serve/app.py``);
- ``tests/jobs/test_demo.py`` for what `cxml demo` itself prints.

They run in any order against one world, so each one creates what it changes (its own
feedback, follow-ups, keys, a server of its own when it leaves the client blocked) and asserts
only what other tests' additions cannot move.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

Served = dict[str, Any]


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Debian's Chromium, launched for one test (the page's browser tests)."""
    from playwright.sync_api import sync_playwright

    from tests.serve.test_page import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def client(served: Served, scope: str = "admin") -> httpx.Client:
    return httpx.Client(
        base_url=served["base"], headers={"X-API-Key": served["keys"][scope]}, timeout=60
    )


def some_customers(served: Served, n: int = 3) -> list[str]:
    with client(served, "read") as api:
        items = api.get("/v1/at-risk", params={"limit": n}).json()["items"]
    return [i["customer_id"] for i in items]


def finite_json(response: httpx.Response) -> Any:
    """The body, failing on NaN or Infinity (which JSON cannot hold)."""
    import json

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in {response.request.url}")

    return json.loads(response.text, parse_constant=refuse)


@contextmanager
def small_store_api(folder: Path, *, scored: bool = True) -> Iterator[httpx.Client]:
    """A read key's client of a real server over the small store of ``tests/test_at_risk.py``
    (scored, or only analysed), in ``folder``; the server stops on leaving."""
    from cxml.keys import create_key
    from cxml.settings import Settings
    from cxml.store import Store
    from tests.conftest import NOW, Server
    from tests.test_at_risk import scored_store

    url = f"sqlite:///{folder}/cxml.db"
    settings = Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{folder}/mlflow.db")
    store = Store.open(settings)
    scored_store(store, settings, folder / "data", scored=scored)
    key = create_key(store, ["read"], now=NOW)
    store.close()
    server = Server(folder, url)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=60) as client:
            yield client
    finally:
        server.stop()
