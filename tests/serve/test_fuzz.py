"""schemathesis fuzzes every operation of the OpenAPI spec against the real server: no 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.slow  # schemathesis against a real server


@pytest.fixture
def fuzzed(served_sqlite_world: dict[str, Any]) -> dict[str, Any]:
    return served_sqlite_world


def test_no_request_makes_the_server_fail(fuzzed: dict[str, Any]) -> None:
    spec = httpx.get(f"{fuzzed['base']}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=fuzzed["base"])
    headers = {"X-API-Key": fuzzed["keys"]["admin"]}
    seen: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16

    for operation in operations:
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=60)
            seen.setdefault(label, set()).add(response.status_code)  # noqa: B023
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:500]}"
            )
            assert "Traceback" not in response.text

        check()
    assert len(seen) == len(operations)  # every operation was called
