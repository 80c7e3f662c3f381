"""``GET /v1/survival`` on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_survival_curves_by_theme_and_segment(served: Served) -> None:
    with client(served, "read") as api:
        by_theme = api.get("/v1/survival", timeout=120)
        by_plan = api.get("/v1/survival", params={"by": "plan", "step_days": 30}, timeout=120)
        unknown = api.get("/v1/survival", params={"by": "shoe_size"})
    assert by_theme.status_code == 200, by_theme.text
    groups = by_theme.json()["groups"]
    assert len(groups) >= 3 and all(g["days"][0] == 0 for g in groups)
    for group in groups:
        curve = group["survival"]
        assert curve[0] == pytest.approx(1.0, abs=1e-6)
        assert all(a >= b - 1e-9 for a, b in pairwise(curve))  # never rises
    assert [g["survival"][-1] for g in groups] == sorted(g["survival"][-1] for g in groups)
    assert by_plan.status_code == 200 and by_plan.json()["groups"][0]["days"][1] == 30
    assert unknown.status_code == 422 and unknown.json()["field"] == "by"
