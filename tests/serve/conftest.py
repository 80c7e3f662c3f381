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

from typing import Any

import httpx

Served = dict[str, Any]


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
