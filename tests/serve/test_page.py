"""The retention team's page in a real browser (headless Debian Chromium driven by Playwright),
against a real server over the demo world: every step asserted on what is shown, a screenshot
of each screen kept in ``tests/artifacts/screens`` (the README's come from here), and axe-core
(vendored) finding no serious accessibility violation on any screen."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a real browser against a real server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENS = Path(__file__).resolve().parents[1] / "artifacts" / "screens"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make setup` (it installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def shot(page: Any, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=False)
    assert (SCREENS / f"{name}.png").stat().st_size > 20_000


def no_serious_violations(page: Any, screen: str) -> None:
    # Evaluated through the browser's devtools channel: the page's own policy (scripts from
    # this server only) stays in force for everything else.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{screen}: {json.dumps(serious, indent=1)}"


def test_a_retention_lead_works_the_week_in_english_and_japanese(
    served_sqlite_world: dict[str, Any], browser: Any
) -> None:
    served = served_sqlite_world
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served["base"] + "/")

    # Sign in once: a wrong key says so, a key without the read scope says which scope.
    page.fill("#signin-key", "cxml_nope_nope")
    page.click(".signin button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('not valid')")
    page.fill("#signin-key", served["keys"]["score"])
    page.click(".signin button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('read scope')")
    page.fill("#signin-key", served["keys"]["agent"])
    page.click(".signin button[type=submit]")

    # Overview: metrics with intervals as numbers and charts, customers at risk.
    page.wait_for_selector("#kpi-at-risk")
    page.wait_for_selector(".chart canvas")
    overview = page.inner_text("main")
    assert "NPS" in overview and "95 % interval" in overview
    assert int(page.inner_text("#kpi-at-risk").replace(",", "")) > 0
    scored = re.fullmatch(
        r"([\d,]+) of ([\d,]+) active customers scored", page.inner_text("#kpi-scored")
    )
    assert scored, page.inner_text("#kpi-scored")
    assert 0 < int(scored[1].replace(",", "")) <= int(scored[2].replace(",", ""))
    assert page.locator(".chart canvas").count() >= 5
    shot(page, "overview")
    no_serious_violations(page, "overview")

    # Themes: each with impact and revenue; open one and read its comments, evidence marked.
    page.click("nav a[href='#/themes']")
    page.wait_for_selector("#themes-table tbody tr")
    first = page.locator("#themes-table tbody tr").first
    label = first.locator("th a").inner_text()
    assert "/" not in label  # a label people would write, not "call / home / cut"
    assert re.search(r"pts|not enough data", first.inner_text())
    shot(page, "themes")
    no_serious_violations(page, "themes")
    first.locator("th a").click()
    page.wait_for_selector("#theme-comments li mark")
    assert page.inner_text("main h1") == label
    assert page.locator("#theme-comments li mark").count() >= 5
    shot(page, "theme")

    # Worklist sized to the team: as many rows as it can contact, ranked by what they save.
    page.click("nav a[href='#/worklist']")
    page.wait_for_selector("#worklist-table tbody tr")
    page.fill("input[name=capacity]", "7")
    page.click("#worklist-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('#worklist-table tbody tr').length === 7"
    )
    summary = page.inner_text("#worklist-summary")
    assert "Ranked by" in summary and "7 customers" in summary
    reasons = page.inner_text("#worklist-table tbody")
    assert "raises the risk" not in reasons and " = " not in reasons  # plain words
    shot(page, "worklist")
    no_serious_violations(page, "worklist")

    # Assign and contact a customer nobody has followed up yet.
    row = (
        page.locator("#worklist-table tbody tr")
        .filter(has=page.locator("td span.muted", has_text="none"))
        .first
    )
    customer = row.get_attribute("data-customer")
    row.locator("input").fill("Aiko")
    row.locator("button", has_text="Assign").click()
    page.wait_for_selector(f"#worklist-table tr[data-customer='{customer}'] .pill:has-text('open')")
    page.locator(
        f"#worklist-table tr[data-customer='{customer}'] button", has_text="Contacted"
    ).click()
    page.wait_for_selector(
        f"#worklist-table tr[data-customer='{customer}'] .pill:has-text('contacted')"
    )

    # The customer: risk, reasons, the whole conversation; record a follow-up there.
    page.click(f"#worklist-table tr[data-customer='{customer}'] th a")
    page.wait_for_selector("#conversation li")
    assert page.inner_text("main h1") == f"Customer {customer}"
    assert "%" in page.inner_text("#customer-probability")
    assert page.locator("#conversation li").count() >= 1
    page.fill("#new-owner", "Aiko")
    page.select_option("#new-status", "resolved")
    page.fill("#new-note", "called back: plan changed, staying")
    page.click("#new-follow-up button[type=submit]")
    page.wait_for_selector("text=called back: plan changed, staying")
    shot(page, "customer")
    no_serious_violations(page, "customer")

    # Did follow-ups work? An estimate with its interval, in words.
    page.click("nav a[href='#/impact']")
    page.wait_for_selector("#impact-verdict")
    assert re.search(r"points|too little data", page.inner_text("#impact-verdict"), re.IGNORECASE)
    randomised = page.inner_text("#impact-rand-verdict")  # read first: the randomised comparison
    assert re.search(r"Contact vs control retention .* points \(95 % interval", randomised)
    main = page.inner_text("main")
    assert main.index("Randomised: contact vs control") < main.index("Observational (second)")
    assert "(not a randomised comparison)" in main
    shot(page, "impact")
    no_serious_violations(page, "impact")

    # 日本語: every label switches, the choice is remembered, Japanese comments render.
    page.click("#lang")
    page.wait_for_selector("nav a:has-text('フォローアップの効果')")
    assert page.inner_text("#lang") == "English"
    assert page.evaluate("document.documentElement.lang") == "ja"
    page.click("nav a[href='#/worklist']")
    page.wait_for_selector("#worklist-table tbody tr")
    assert "今週の対応リスト" in page.inner_text("main h1")
    japanese = page.inner_text("#worklist-table tbody")
    assert re.search(r"[ぁ-んァ-ン一-龥]", japanese)
    # themes by the demo taxonomy's Japanese labels, never its English ones
    assert not re.search(r"Billing and charges|Network reliability|Price and value", japanese)
    assert not re.search(r"ranked by|the risk|in the last", japanese)
    shot(page, "worklist-ja")
    page.reload()
    page.wait_for_selector("nav a:has-text('対応リスト')")  # remembered; still signed in

    # A tablet sees the same page without losing anything off screen.
    tablet = browser.new_page(viewport={"width": 820, "height": 1180}, locale="ja-JP")
    tablet.goto(served["base"] + "/")
    tablet.fill("#signin-key", served["keys"]["read"])
    tablet.click(".signin button[type=submit]")
    tablet.wait_for_selector("#kpi-at-risk")
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(tablet, "overview-tablet")
    # That key only reads: the worklist shows its follow-ups, offers no control to change them.
    tablet.click("nav a[href='#/worklist']")
    tablet.wait_for_selector("#worklist-table tbody tr")
    assert tablet.locator("#worklist-table .actions, #worklist-table button").count() == 0
    assert errors == []


def test_keyboard_alone_reaches_every_screen(
    served_sqlite_world: dict[str, Any], browser: Any
) -> None:
    served = served_sqlite_world
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(served["base"] + "/")
    page.focus("#signin-key")
    page.keyboard.type(served["keys"]["read"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#kpi-at-risk")
    visited = set()
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('href')")
        if focused and focused.startswith("#/") and focused not in visited:
            visited.add(focused)
    assert {"#/overview", "#/themes", "#/worklist", "#/impact"} <= visited
