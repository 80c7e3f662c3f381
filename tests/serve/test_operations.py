"""Every route's operation id is short, stable and unique (issue #27 §6): what a client
generated from /openapi.json is named after."""

from __future__ import annotations

import re
from pathlib import Path

from cxml.settings import Settings
from serve.app import create_app
from serve.operations import OPERATION_IDS


def test_every_route_has_its_listed_resource_action_id(tmp_path: Path) -> None:
    spec = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db")).openapi()
    found = {
        (method.upper(), path): op["operationId"]
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert found == OPERATION_IDS
    assert len(set(found.values())) == len(found)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)+", i) for i in found.values())
    assert found[("POST", "/v1/customers/{customer_id}/follow-ups")] == "customers_create_follow_up"
