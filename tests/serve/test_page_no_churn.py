"""The page over a store without churn dates says so on its churn and revenue cards (issue #30),
in a real browser against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server, new_key, run_cxml
from tests.serve.test_page import browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow  # a real browser against a real server


def test_the_overview_says_no_churn_data_instead_of_zero(
    tmp_path: Path,
    browser: object,  # noqa: F811 - the fixture
) -> None:
    url = f"sqlite:///{tmp_path / 'cxml.db'}"
    (tmp_path / "c.csv").write_text(
        "customer_id,signup_date,monthly_value\nc1,2024-01-01,30\nc2,2024-02-01,40\n",
        encoding="utf-8",
    )
    assert run_cxml(["ingest", "customers", "c.csv"], tmp_path, database_url=url).returncode == 0
    key = new_key(tmp_path, url, "read")
    server = Server(tmp_path, url)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")  # type: ignore[attr-defined]
        page.goto(server.base + "/")
        page.fill("#signin-key", key)
        page.click(".signin button[type=submit]")
        page.wait_for_selector("#kpi-revenue")
        assert page.inner_text("#kpi-churn").count("No churn data yet") == 1
        assert page.inner_text("#kpi-revenue") == "–"
        overview = page.inner_text(".kpis")
        assert "$0" not in overview and "0.0 %" not in overview
        assert "load churn dates or a cancellation export" in overview
    finally:
        server.stop()
