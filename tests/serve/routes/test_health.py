"""``/healthz``, ``/readyz`` and ``/metrics`` on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.serve.conftest import Served

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_health_readiness_and_prometheus_metrics(served: Served) -> None:
    assert httpx.get(f"{served['base']}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{served['base']}/readyz")
    assert ready.status_code == 200 and ready.json()["churn_model"] == "1"
    text = httpx.get(f"{served['base']}/metrics").text
    assert 'cxml_http_requests_total{method="GET",route="/readyz",status="200"}' in text
    assert 'cxml_model_info{kind="churn",version="1"} 1.0' in text
