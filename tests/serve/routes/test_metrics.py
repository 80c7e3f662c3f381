"""``/v1/metrics``, ``/v1/drivers`` and ``/v1/alerts`` on the real server, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import pytest

from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_metrics_drivers_and_alerts(served: Served) -> None:
    with client(served, "read") as api:
        nps = api.get("/v1/metrics/nps", params={"period": "quarter", "by": "channel"}).json()
        assert nps["rows"] and {"period", "channel", "nps", "ci_low", "ci_high", "n"} <= set(
            nps["rows"][0]
        )
        assert all(-100 <= r["nps"] <= 100 for r in nps["rows"])
        churn = api.get("/v1/metrics/churn-rate", params={"period": "year"}).json()
        assert churn["rows"]
        assert api.get("/v1/drivers/nps").json()["rows"]
        assert "rows" in api.get("/v1/alerts", params={"all": "true"}).json()
        assert api.get("/v1/metrics/happiness").status_code == 422


def test_a_survey_metric_nobody_answered_says_why(served: Served) -> None:
    with client(served, "read") as api:
        answer = api.get("/v1/metrics/nps", params={"from": "1990-01-01", "to": "1990-02-01"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["rows"] == [] and body["message"].startswith("no NPS answers from 1990-01-01")
