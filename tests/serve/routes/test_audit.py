"""``GET /v1/audit`` on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import run_cxml
from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_admin_actions_are_in_the_audit_log(served: Served) -> None:
    with client(served, "admin") as api:
        assert api.post("/v1/models/reload").status_code == 200
        rows = api.get("/v1/audit").json()["items"]
        assert (
            api.get("/v1/audit", headers={"X-API-Key": served["keys"]["read"]}).status_code == 403
        )
    reloaded = next(r for r in rows if r["action"] == "model.reloaded")
    assert reloaded["actor"].startswith("key:") and reloaded["at"]
    created = [r for r in rows if r["action"] == "key.created"]
    assert len(created) >= 4 and all(r["actor"].startswith("cli") for r in created)
    listed = run_cxml(["audit", "--json"], served["cwd"], database_url=served["url"])
    assert listed.returncode == 0 and "model.reloaded" in listed.stdout
    for secret in served["keys"].values():
        assert secret.split("_", 2)[2] not in listed.stdout
