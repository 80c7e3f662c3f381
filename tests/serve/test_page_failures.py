"""What the page says when a request fails: one message in its place, in the reader's language
with the API's words, replaced by the next failure and cleared by the next success; and no
error at all where nothing failed (real Chromium, real server, the demo world)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow  # a real browser against a real server

#: The API's own answer to a failure inside it (serve/errors.py), for the one failure the real
#: server cannot be made to give on purpose.
INTERNAL = {"detail": "internal error: it is logged on the server", "field": None, "code": "CX100"}


def _signed_in(chromium: Any, served: dict[str, Any], lang: str) -> tuple[Any, list[str]]:
    """A page whose tab holds the read key, in ``lang``, and the list its script errors go to."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(
        f"sessionStorage.setItem('cxml-key', '{served['keys']['read']}');"
        f"localStorage.setItem('cxml-lang', '{lang}');"
    )
    return page, errors


def _biggest_theme(served: dict[str, Any]) -> str:
    """The theme with the most comments: more than a page of them (20)."""
    with httpx.Client(
        base_url=served["base"], headers={"X-API-Key": served["keys"]["read"]}, timeout=60
    ) as api:
        themes = api.get("/v1/themes").json()["themes"]
    biggest = max(themes, key=lambda row: row["comments"])
    assert biggest["comments"] > 20
    return str(biggest["theme_id"])


def _more_comments(page: Any) -> None:
    before = page.locator("#theme-comments li").count()
    page.click("#theme-comments ~ button")
    page.wait_for_function(
        f"() => document.querySelectorAll('#theme-comments li').length > {before}"
    )


def _export(page: Any) -> None:
    with page.expect_download() as download:
        page.click("#worklist-csv")
    assert download.value.suggested_filename == "worklist.csv"


@dataclass(frozen=True)
class Control:
    """A control that fetches; the request it makes, changed into one the real API refuses;
    where its message goes and what it says (``{detail}``: the failure's words); how it is seen
    to work."""

    lang: str
    screen: str
    ready: str
    click: str
    request: str
    refused: Callable[[str], str]
    place: str
    words: str
    network: str
    works: Callable[[Any], None]


CONTROLS = [
    Control(
        "en",
        "#/themes/{theme}",
        "#theme-comments li",
        "#theme-comments ~ button",
        "/comments?",
        lambda url: re.sub(r"cursor=[^&]*", "cursor=not-a-cursor", url),
        "#theme-comments-error",
        "Could not load this: {detail}",
        "no answer from the server; check the connection and try again",
        _more_comments,
    ),
    Control(
        "ja",
        "#/worklist",
        "#worklist-table tbody tr",
        "#worklist-csv",
        "/v1/worklist?",
        lambda url: re.sub(r"capacity=\d+", "capacity=0", url),
        "#worklist-csv-error",
        "対応リストを書き出せませんでした：{detail}",
        "サーバーから応答がありません。接続を確認して、もう一度お試しください",
        _export,
    ),
]


@pytest.mark.parametrize("control", CONTROLS, ids=["more comments (en)", "export CSV (ja)"])
def test_a_failing_control_shows_one_current_message_and_success_clears_it(
    served_sqlite_world: dict[str, Any], chromium: Any, control: Control
) -> None:
    from playwright.sync_api import expect

    served = served_sqlite_world
    page, errors = _signed_in(chromium, served, control.lang)
    screen = control.screen.format(theme=_biggest_theme(served))
    page.goto(f"{served['base']}/{screen}")
    page.wait_for_selector(control.ready)
    messages = page.locator("main .error")
    assert messages.count() == 0  # nothing failed: nothing reads as an error

    said: list[tuple[int, str]] = []

    def refused(route: Any) -> None:  # sent on, changed: the real API refuses it
        answer = route.fetch(url=control.refused(route.request.url))
        said.append((answer.status, answer.json()["detail"]))
        route.fulfill(response=answer)

    def requested(url: str) -> bool:
        return control.request in url

    # three failures in a row: each replaces the one before, none stacks under it
    for handle, detail in (
        (refused, None),
        (lambda route: route.fulfill(status=500, json=INTERNAL), INTERNAL["detail"]),
        (lambda route: route.abort(), control.network),
    ):
        page.route(requested, handle)
        if detail is None:
            with page.expect_response(lambda response: requested(response.url)):
                page.click(control.click)
            [(status, detail)] = said
            assert status == 422
        else:
            page.click(control.click)
        expect(messages).to_have_text([control.words.format(detail=detail)])
        page.unroute(requested)
    assert page.url.endswith(screen)  # still the page, not an error's JSON
    control.works(page)
    expect(messages).to_have_count(0)
    expect(page.locator(control.place)).to_be_hidden()
    assert errors == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_sign_in_and_the_config_say_one_failure_at_a_time(
    served_sqlite_world: dict[str, Any], chromium: Any, lang: str
) -> None:
    from playwright.sync_api import expect

    served = served_sqlite_world
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(f"localStorage.setItem('cxml-lang', '{lang}')")
    page.goto(served["base"] + "/")
    page.wait_for_selector("#signin-key")
    messages = page.locator("main .error")
    assert messages.count() == 0  # a sign-in nobody has tried yet shows no error
    said = SIGN_IN[lang]

    def sign_in(key: str) -> None:
        page.fill("#signin-key", key)
        page.click(".signin button[type=submit]")

    # no answer, then a key that is not valid: one message each, the latest
    page.route("**/v1/config", lambda route: route.abort())
    sign_in(served["keys"]["read"])
    expect(messages).to_have_text([said["network"]])
    page.unroute("**/v1/config")
    sign_in("cxml_nope_nope")
    expect(messages).to_have_text([said["bad"]])
    sign_in(served["keys"]["read"])
    page.wait_for_selector("#kpi-at-risk")
    expect(messages).to_have_count(0)

    # signed in, the config fails (a 500): said in place of a screen drawn on a guess
    page.route("**/v1/config", lambda route: route.fulfill(status=500, json=INTERNAL))
    page.reload()
    expect(messages).to_have_text([said["config"]])
    assert page.locator("#kpi-at-risk").count() == 0
    page.unroute("**/v1/config")
    page.reload()
    page.wait_for_selector("#kpi-at-risk")
    expect(messages).to_have_count(0)
    assert errors == []


#: What sign-in and a failed config say, per language.
SIGN_IN = {
    "en": {
        "network": "Could not sign in: no answer from the server; "
        "check the connection and try again",
        "bad": "That key is not valid: check it, or ask an admin for a new one "
        "(cxml keys create --scope read).",
        "config": f"Could not load this: {INTERNAL['detail']}",
    },
    "ja": {
        "network": "サインインできませんでした："
        "サーバーから応答がありません。接続を確認して、もう一度お試しください",
        "bad": "このキーは無効です。確認するか、管理者に新しいキーを依頼してください"
        "（cxml keys create --scope read）。",
        "config": f"読み込めませんでした：{INTERNAL['detail']}",
    },
}


def _a_customer_at_risk(served: dict[str, Any]) -> str:
    with httpx.Client(
        base_url=served["base"], headers={"X-API-Key": served["keys"]["read"]}, timeout=60
    ) as api:
        return str(api.get("/v1/at-risk", params={"limit": 1}).json()["items"][0]["customer_id"])


@pytest.mark.parametrize(
    ("lang", "screen", "ready", "requested", "fails", "says"),
    [
        (
            "en",
            "#/",
            "#kpi-at-risk",
            lambda url: "/v1/metrics/nps?by=channel&by=language" in url,  # filter choices
            lambda route: route.fulfill(status=500, json=INTERNAL),
            "Part of this page could not be loaded (the rest is shown): " + INTERNAL["detail"],
        ),
        (
            "ja",
            "#/worklist",
            "#worklist-table tbody tr",
            lambda url: url.endswith("/v1/themes"),  # the theme filter's choices
            lambda route: route.abort(),
            "このページの一部を読み込めませんでした（ほかは表示しています）："
            "サーバーから応答がありません。接続を確認して、もう一度お試しください",
        ),
        (
            "en",
            "#/customers/{customer}",
            "#conversation li",
            lambda url: "/v1/intent-corrections?" in url,  # the corrections in force
            lambda route: route.fulfill(status=500, json=INTERNAL),
            "Part of this page could not be loaded (the rest is shown): " + INTERNAL["detail"],
        ),
    ],
    ids=["overview filters", "worklist themes", "customer corrections"],
)
def test_a_screen_says_once_what_it_could_not_load_and_shows_the_rest(
    served_sqlite_world: dict[str, Any],
    chromium: Any,
    lang: str,
    screen: str,
    ready: str,
    requested: Callable[[str], bool],
    fails: Callable[[Any], None],
    says: str,
) -> None:
    from playwright.sync_api import expect

    served = served_sqlite_world
    page, errors = _signed_in(chromium, served, lang)
    screen = screen.format(customer=_a_customer_at_risk(served))

    page.route(requested, fails)
    page.goto(f"{served['base']}/{screen}")
    page.wait_for_selector(ready)  # the rest is shown…
    expect(page.locator("main .error")).to_have_text([says])  # …and what is not, said once
    page.unroute(requested)
    page.reload()
    page.wait_for_selector(ready)
    expect(page.locator("main .error")).to_have_count(0)
    assert errors == []
