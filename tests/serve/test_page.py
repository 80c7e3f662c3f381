"""The retention team's page in a real browser (headless Chromium driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a real browser against a real server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_the_team_lists_at_risk_customers_reads_why_and_closes_the_loop(
    served_sqlite_world: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make setup` (it installs it)")
    served = served_sqlite_world
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(served["base"] + "/")
        page.fill("#key", served["keys"]["read"])
        page.click("#save-key")
        page.wait_for_selector("#rows tr")
        rows = page.locator("#rows tr")
        assert rows.count() == 25
        first = rows.nth(0)
        customer = first.get_attribute("data-customer")
        assert customer and "%" in first.inner_text()
        assert "churn model 1" in page.inner_text("#whoami")
        first.click()
        page.wait_for_selector("#follow-up-form")
        detail = page.inner_text("#detail")
        assert customer in detail and "Why" in detail and "Conversation across channels" in detail
        page.fill("#follow-up-form input[name=owner]", "aiko")
        page.fill("#follow-up-form input[name=note]", "called, offered a discount")
        page.select_option("#follow-up-form select[name=status]", "contacted")
        page.click("#follow-up-form button[type=submit]")
        page.wait_for_selector("#follow-ups li[data-follow-up]")
        assert "contacted" in page.inner_text("#follow-ups")
        page.wait_for_function(
            "(id) => [...document.querySelectorAll('#rows tr')].some("
            "r => r.dataset.customer === id && r.innerText.includes('contacted'))",
            arg=customer,
        )
        # filter the list to customers whose follow-up is 'contacted'
        page.select_option("#filters select[name=follow_up_status]", "contacted")
        page.click("#filters button[type=submit]")
        page.wait_for_function(
            "() => { const rows = [...document.querySelectorAll('#rows tr')];"
            " return rows.length >= 1 && rows.every(r => r.innerText.includes('contacted')); }"
        )
        assert customer in [
            page.locator("#rows tr").nth(i).get_attribute("data-customer")
            for i in range(page.locator("#rows tr").count())
        ]
        page.screenshot(path=str(tmp_path / "page.png"), full_page=False)
        assert (tmp_path / "page.png").stat().st_size > 10_000
        browser.close()
