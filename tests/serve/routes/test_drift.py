"""``GET /v1/drift`` on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cxml
from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_drift_is_kept_by_the_cli_and_computed_on_request(served: Served) -> None:
    with client(served, "read") as api:
        before = api.get("/v1/drift")  # none yet, unless the demo's pasted commands made one
        assert before.status_code == 200 or (
            before.status_code == 404 and "cxml drift" in before.json()["detail"]
        )
        wrong = api.get("/v1/drift", params={"current": "last month"})
        assert wrong.status_code == 422 and wrong.json()["field"] == "current"
    made = run_cxml(["drift", "--json"], served["cwd"], database_url=served["url"])
    assert made.returncode == 0, made.stderr
    kept = made.stdout[made.stdout.index("{") :]
    with client(served, "read") as api:
        latest = api.get("/v1/drift").json()
        assert (
            latest["report_id"]
            and latest["run_id"]
            and set(latest["mixes"])
            == {
                "theme",
                "sentiment",
                "sentiment_score",
                "language",
                "channel",
            }
        )
        assert latest["report_id"] == json.loads(kept)["report_id"]
        computed = api.get("/v1/drift", params={"reference": "2025-01..2025-03"}, timeout=300)
    assert computed.status_code == 200, computed.text
    body = computed.json()
    assert body["reference"]["label"] == "2025-01..2025-03" and "report_id" not in body
    assert body["features"] and body["performance"]["customers"] > 0
    assert all(isinstance(alert["message"], str) for alert in body["alerts"])
