"""First day, every day: every endpoint and every CLI command on every state of a store a user
meets — empty, customers only, feedback waiting for its customers, no models, trained but never
scored, scored with no follow-ups (every new installation), one follow-up, one customer, all or
none churned, Japanese only, only backdated scores, a champion promoted but not yet used — on
SQLite, and the empty, first-day and full stores on PostgreSQL.

The endpoints are read from the OpenAPI schema and the commands from the CLI's own tree, so a new
endpoint or command is swept without a new test. The goal: no 5xx, no traceback, no internal
error (CX100), every error body with a code from the catalogue, and the answers the state calls
for (the impact of zero follow-ups is "none recorded yet" with n = 0, not an error)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import click
import httpx
import pytest

from cxml.errors import CODES
from tests.conftest import Server, new_key, postgres_schema
from tests.states import State, build_states, copy_state, must, sql

pytestmark = pytest.mark.slow  # real servers over many small stores

STATES = (
    "empty",
    "customers_only",
    "feedback_only",
    "all_held",
    "no_text_model",
    "no_churn_model",
    "trained_not_scored",
    "first_day",
    "one_follow_up",
    "full",
    "one_customer",
    "all_churned",
    "none_churned",
    "japanese_only",
    "backdated_scores",
    "promoted_not_used",
    "empty_postgresql",
    "first_day_postgresql",
    "full_postgresql",
)
#: States small enough (or broken enough) that training in them is part of the sweep.
TRAIN_HERE = {
    "empty",
    "customers_only",
    "feedback_only",
    "all_held",
    "one_customer",
    "all_churned",
    "none_churned",
}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory, postgres_engine: Any) -> Any:
    from cxml.demo import generate

    world = generate(120, seed=17, end=date.today())
    schemas = []

    def postgres_url() -> str:
        context = postgres_schema(postgres_engine)
        schemas.append(context)
        return context.__enter__()

    try:
        yield build_states(world, tmp_path_factory.mktemp("states"), postgres_url)
    finally:
        for context in schemas:
            context.__exit__(None, None, None)


def _own_copy(states: dict[str, State], name: str, purpose: str) -> State:
    """A copy of a SQLite state for a sweep that writes (ingest, follow-ups, promote), so the
    states stay as built for the other tests; the PostgreSQL ones are swept as they are."""
    state = states[name]
    if not state.database_url.startswith("sqlite"):
        return state
    return copy_state(state, f"{name}-{purpose}", state.folder.parent)


# --- the HTTP API, every route of the schema ----------------------------------------------------


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A small valid value for a JSON schema (its example when it gives one)."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: _example(part, components)
            for name, part in (schema.get("properties") or {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        return [_example(schema.get("items", {}), components)]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return date.today().isoformat()
    if schema.get("format") == "date-time":
        return f"{date.today().isoformat()}T09:00:00"
    return "x"


#: Documented query variants, by parameter name (every value is sent, one request each).
VARIANTS: dict[str, list[Any]] = {
    "capacity": [1, 5000],
    "limit": [1, 200],
    "band": ["high"],
    "sort": ["probability", "revenue_at_risk"],
    "by": ["channel", "theme", "band", "owner"],
    "period": ["month", "quarter"],
    "level": ["customer"],
    "lang": ["ja"],
    "follow_up_status": ["none", "open"],
    "all": [True],
}


def _ids(api: httpx.Client, state: State) -> dict[str, Any]:
    """Path values that exist in this state, where it has any."""
    themes = api.get("/v1/themes").json().get("themes") or []
    follow_up = 1
    if state.customer_id:
        story = api.get(f"/v1/customers/{state.customer_id}")
        if story.status_code == 200:
            follow_up = next((f["follow_up_id"] for f in story.json().get("follow_ups") or []), 1)
    return {
        "customer_id": state.customer_id or "C000001",
        "theme_id": themes[0]["theme_id"] if themes else "other",
        "follow_up_id": follow_up,
    }


def _requests(spec: dict[str, Any], ids: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, httpx options) for every operation: once with its required parameters,
    then once per documented variant, and as CSV where it answers CSV."""
    components = spec.get("components", {}).get("schemas", {})
    out = []
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            paths: list[dict[str, Any]] = [{}]
            queries: list[dict[str, Any]] = [{}]
            for parameter in operation.get("parameters", []):
                name, schema = parameter["name"], parameter.get("schema", {})
                if parameter["in"] == "path":
                    enum = _enum(schema, components)
                    values = enum or [ids.get(name, _example(schema, components))]
                    paths = [{**p, name: v} for p in paths for v in values]
                elif parameter["in"] == "query":
                    allowed = _enum(schema, components) or _enum(
                        schema.get("items", {}), components
                    )
                    for value in VARIANTS.get(name, []):
                        if not allowed or value in allowed or isinstance(value, bool | int):
                            queries.append({name: value})
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            payload = _example(body["schema"], components) if body else None
            csv_too = "text/csv" in operation.get("responses", {}).get("200", {}).get("content", {})
            for values in paths:
                url = template.format(**values)
                for query in queries:
                    options: dict[str, Any] = {"params": query}
                    if payload is not None:
                        options["json"] = payload
                    out.append((method.upper(), url, options))
                if csv_too:
                    out.append((method.upper(), url, {"headers": {"Accept": "text/csv"}}))
    # Reads first: the writes (ingest, promote, reload) change the state the reads describe.
    out.sort(key=lambda r: r[0] != "GET")
    return out


def _enum(schema: dict[str, Any], components: dict[str, Any]) -> list[Any]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            found = _enum(option, components)
            if found:
                return found
    return list(schema.get("enum", []))


def _problems_of(method: str, url: str, answer: httpx.Response) -> list[str]:
    where = f"{method} {url} → {answer.status_code}"
    problems = []
    if url == "/readyz" and answer.status_code == 503:  # readiness: "not yet" is its answer
        return [] if "problems" in answer.json() else [f"{where}: {answer.text[:300]}"]
    if answer.status_code >= 500:
        problems.append(f"{where}: {answer.text[:300]}")
    if "Traceback" in answer.text:
        problems.append(f"{where}: a traceback in the body")
    if answer.status_code >= 400 and answer.headers.get("content-type", "").startswith(
        "application/json"
    ):
        code = answer.json().get("code")
        if code not in CODES or code == "CX100":
            problems.append(f"{where}: error code {code!r}: {answer.text[:200]}")
    return problems


@pytest.mark.parametrize("name", STATES)
def test_every_endpoint_answers_every_state(states: dict[str, State], name: str) -> None:
    state = _own_copy(states, name, "api")
    admin = new_key(state.folder, state.database_url, "admin")
    server = Server(state.folder, state.database_url)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": admin}, timeout=120) as api:
            spec = api.get("/openapi.json").json()
            _state_answers(api, state, name)
            problems = []
            requests = _requests(spec, _ids(api, state))
            assert len(requests) > 40  # the whole schema, not a few routes
            for method, url, options in requests:
                try:
                    answer = api.request(method, url, **options)
                except httpx.TransportError as exc:  # the server hung up: a defect too
                    problems.append(f"{method} {url} {options}: {exc!r}")
                    continue
                problems += _problems_of(method, url, answer)
        assert not problems, "\n".join(problems)
    finally:
        server.stop()
    log = (state.folder / f"serve-{server.port}.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def _state_answers(api: httpx.Client, state: State, name: str) -> None:
    """What state ``name`` must answer, beyond not failing."""
    answer = api.get("/v1/follow-ups/impact").json()
    assert list(answer).index("randomised") < list(answer).index("observational")
    impact = answer["observational"]
    worklist = api.get("/v1/worklist", params={"capacity": 5000})
    assert worklist.status_code == 200, worklist.text
    if not name.startswith("full") and name != "one_follow_up":
        assert impact["overall"]["verdict"] == "none recorded yet"
        assert impact["overall"]["contacted"] == 0 and impact["score_runs"] == []
        assert worklist.json()["ranked_by"] == "revenue_at_risk"
        assert "no follow-ups" in worklist.json()["ranking_note"]
    if name == "one_follow_up":  # open, never reached: nothing to measure yet
        assert impact["overall"]["contacted"] == 0
        assert impact["excluded"]["not_reached"] == 1
    survival = api.get("/v1/survival")
    if state.has_churn_model:
        assert survival.status_code == 200, survival.text
    else:
        assert survival.status_code == 409, survival.text  # a state, not an outage to retry
        assert survival.json()["code"] == "CX202"
        assert "cxml train churn" in survival.json()["detail"]
    if name.startswith("first_day"):
        rows = api.get("/v1/at-risk", params={"limit": 200}).json()["items"]
        assert rows, "a scored store lists its customers at risk"


# --- the CLI, every command ---------------------------------------------------------------------

#: Documented arguments per command (each list is one run); a command not listed runs with its
#: required arguments filled by name, and with --json when it has it.
ARGUMENTS: dict[str, list[list[str]]] = {
    "metrics": [
        ["nps"],
        ["csat"],
        ["ces"],
        ["churn-rate"],
        ["retention"],
        ["nps", "--period", "month", "--by", "channel", "--json"],
        ["nps", "--by", "theme", "--level", "customer"],
    ],
    "drivers": [["--target", "nps"], ["--target", "churn"], ["--target", "churn", "--json"]],
    "analyze": [["--store"], ["--input", "{feedback}", "--out", "analysed.jsonl"]],
    "score": [[], ["--out", "scores.csv"]],
    "followups impact": [[], ["--by", "band", "--by", "theme", "--json"]],
    "keys create": [["--scope", "read"]],
    "keys revoke": [["cxml_nothere_x"]],
    "export": [["--directory", "exported"]],
    "export-models": [["--out", "bundles"]],
    "rejects": [[], ["--json"]],
    "demo-data": [["--customers", "20", "--out", "small-world"]],
    "train text": [["--taxonomy", "{taxonomy}"]],
    "promote": [[], ["--model", "text"]],
    # Commands that change a state leave the customers the other tests read alone (a
    # PostgreSQL state's copy shares its schema): no holdout, and an erasure of nobody.
    "worklist pull": [
        ["--capacity", "5", "--holdout", "0"],
        ["--capacity", "5", "--holdout", "0", "--json"],
    ],
    "export-subject": [["--customer", "{customer}", "--out", "subject.json"]],
    "erase": [["--customer", "NOT-A-CUSTOMER", "--yes"], ["--customer", "NOBODY", "--json"]],
    "webhooks add": [["https://127.0.0.1/x", "--event", "pull.readable"]],
}
NEVER = {"serve", "demo"}  # they run until stopped / are the demo's own test
TRAINING = {"train text", "train churn", "retrain"}
#: Exit codes a user may meet for a state (done, bad option, missing file, not found, store,
#: refused, registry, drift alert, every row rejected); 1 is an internal error.
FINE = {0, 2, 3, 4, 6, 8, 9}


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out += _commands(command, path + " ")
        else:
            out.append((path, command))
    return out


def _runs(path: str, command: click.Command, state: State) -> list[list[str]]:
    fill = {
        "feedback": state.files.get("feedback", "missing.csv"),
        "taxonomy": state.files.get("taxonomy", "missing.yaml"),
        "customer": state.customer_id or "C000001",
    }
    if path in ARGUMENTS:
        return [[part.format(**fill) for part in run] for run in ARGUMENTS[path]]
    required = []
    for parameter in command.params:
        if isinstance(parameter, click.Argument) and parameter.required:
            name = parameter.name or ""
            if "customer" in name:
                required.append(state.customer_id or "C000001")
            elif name in ("path", "file"):
                required.append(state.files.get(path.split()[-1], "missing.csv"))
            else:
                required.append("x")
    runs = [required]
    if any("--json" in getattr(p, "opts", []) for p in command.params):
        runs.append([*required, "--json"])
    return runs


@pytest.mark.parametrize("name", STATES)
def test_every_command_answers_every_state(states: dict[str, State], name: str) -> None:
    from cxml.cli import cli

    state = _own_copy(states, name, "cli")
    problems = []
    commands = _commands(cli)
    assert len(commands) > 25
    for path, command in commands:
        if path in NEVER or (path in TRAINING and name not in TRAIN_HERE):
            continue
        for extra in _runs(path, command, state):
            ran = state.cxml(*path.split(), *extra)
            said = ran.out + ran.err
            where = f"cxml {path} {' '.join(extra)} → {ran.code}"
            if ran.code not in FINE:
                problems.append(f"{where}: {ran.err[-400:]}")
            if "Traceback" in said or "CX100" in said:
                problems.append(f"{where}: internal error: {said[-400:]}")
            if re.search(r"\w+Warning\b", said):
                problems.append(f"{where}: a warning reached the terminal: {said[-400:]}")
    assert not problems, "\n".join(problems)


# --- exports ------------------------------------------------------------------------------------


def test_first_day_answers_say_what_is_missing_and_what_to_do(states: dict[str, State]) -> None:
    first_day = states["first_day"]
    impact = first_day.cxml("followups", "impact")
    assert impact.code == 0 and "no follow-ups recorded yet" in impact.out
    assert "no pulls yet" in impact.out  # the randomised read first: nothing pulled yet
    data = json.loads(first_day.cxml("followups", "impact", "--json").out)
    assert data["randomised"]["overall"] is None and data["randomised"]["pulls"] == []
    data = data["observational"]
    assert data["overall"]["contacted"] == 0 and data["overall"]["verdict"] == "none recorded yet"
    drift = first_day.cxml("drift", "--json")
    assert drift.code == 0, drift.err
    for state in ("empty", "feedback_only"):
        assert states[state].cxml("drift").code == 0, states[state].cxml("drift").err


def test_the_scores_export_opens_as_plain_cells(states: dict[str, State], tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    ran = states["first_day"].cxml("score", "--out", str(out))
    assert ran.code == 0, ran.err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows and all(not r["customer_id"].startswith(("=", "+", "-", "@")) for r in rows)


def test_scoring_says_when_comments_were_never_analysed(
    states: dict[str, State], tmp_path: Path
) -> None:
    # first day: every comment analysed, nothing to say
    assert "not been analysed" not in must(states["first_day"].cxml("score")).err
    # comments loaded after the last analysis: their words are not in the scores, and it says so
    late = copy_state(states["first_day"], "late_comments", tmp_path)
    sql(late, "DELETE FROM feedback_themes", "DELETE FROM feedback_analysis")
    ran = must(late.cxml("score"))
    assert "have not been analysed" in ran.err and "cxml analyze --store" in ran.err


# --- the page, every screen ---------------------------------------------------------------------

BROWSER_STATES = ("empty", "no_churn_model", "first_day", "full_postgresql")


@pytest.fixture(scope="module")
def chromium() -> Any:
    from playwright.sync_api import sync_playwright

    from tests.serve.test_page import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _overlapping_ticks(page: Any) -> list[str]:
    """Where the x-axis labels of a chart overlap (label boxes, measured in the page)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("[role=img]")].filter((e) => e.uplot).flatMap((e) => {
          const u = e.uplot, axis = u.axes[0], ctx = document.createElement("canvas").getContext("2d");
          ctx.font = Array.isArray(axis.font) ? axis.font[0] : axis.font;
          const boxes = (axis._splits || []).map((v, i) => [axis._values[i], u.valToPos(v, "x")])
            .filter(([label]) => label).map(([label, x]) => {
              const w = ctx.measureText(label).width; return [label, x - w / 2, x + w / 2]; });
          return boxes.slice(1).filter((b, i) => b[1] < boxes[i][2]).map((b, i) => `${boxes[i][0]} / ${b[0]}`);
        })"""
    )


def _watch(page: Any, problems: list[str]) -> None:
    """Console errors, page errors, failed requests and 5xx answers, into ``problems``."""
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("response", lambda r: r.status >= 500 and problems.append(f"{r.status}: {r.url}"))


@pytest.mark.parametrize("name", BROWSER_STATES)
def test_every_screen_answers_every_state_in_a_browser(
    states: dict[str, State], name: str, chromium: Any
) -> None:
    state = states[name]
    key = new_key(state.folder, state.database_url, "read", "act")
    server = Server(state.folder, state.database_url)
    problems: list[str] = []
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": key}) as api:
            ids = _ids(api, state)
        screens = ["#/", "#/themes", f"#/themes/{ids['theme_id']}", "#/worklist", "#/impact"]
        if state.customer_id:
            screens.append(f"#/customers/{state.customer_id}")
        for language in ("en", "ja"):
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            _watch(page, problems)
            page.goto(server.base + "/")
            page.evaluate(
                "([key, lang]) => { sessionStorage.setItem('cxml-key', key); "
                "localStorage.setItem('cxml-lang', lang); }",
                [key, language],
            )
            page.reload()  # the page reads its language when it loads
            for screen in screens:
                page.goto(f"{server.base}/{screen}")
                page.wait_for_selector("main h1")
                page.wait_for_function(
                    "() => !document.querySelector('main').innerText.includes('Loading')"
                    " && !document.querySelector('main').innerText.includes('読み込み中')"
                )
                text = page.inner_text("main")
                for error in page.locator("main .error").all_inner_texts():
                    problems.append(f"{language} {screen}: {error}")
                if screen == "#/":
                    problems += [
                        f"{language} overview ticks overlap: {o}" for o in _overlapping_ticks(page)
                    ]
                if screen == "#/impact" and not name.startswith("full"):
                    expected = (
                        "No follow-ups yet"
                        if language == "en"
                        else "フォローアップはまだ記録されていません"
                    )
                    if expected not in text:
                        problems.append(f"{language} impact says: {text[:300]}")
                if (
                    screen == "#/worklist"
                    and name == "no_churn_model"
                    and language == "en"
                    and "No churn model yet" not in text
                ):
                    problems.append(f"worklist without a model says: {text[:300]}")
            page.close()
    finally:
        server.stop()
    assert not problems, "\n".join(problems)


# --- least privilege, as the README's table says ------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"


def _scope_table() -> dict[tuple[str, str], str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("**Scopes by route**") :]
    rows = re.findall(r"^\| (GET|POST|PATCH|PUT|DELETE) \| (\S+) \| (\w+) \|$", table, re.M)
    return {(method, path): scope for method, path, scope in rows}


def test_every_route_needs_the_scope_the_readme_says(states: dict[str, State]) -> None:
    from cxml.keys import SCOPES

    state = copy_state(states["first_day"], "scopes", states["first_day"].folder.parent)
    keys = {scope: new_key(state.folder, state.database_url, scope) for scope in SCOPES}
    table = _scope_table()
    # every wrong key of this test counts as a failed check: no lock-out while it runs
    server = Server(state.folder, state.database_url, CXML_API_AUTH_FAILURES_PER_MINUTE="100000")
    problems = []
    try:
        with httpx.Client(base_url=server.base, timeout=120) as api:
            spec = api.get("/openapi.json").json()
            listed = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
            assert listed == set(table), f"README's table vs the schema: {listed ^ set(table)}"
            with httpx.Client(
                base_url=server.base, headers={"X-API-Key": keys["admin"]}, timeout=120
            ) as admin:
                ids = _ids(admin, state)
            seen = set()
            for method, url, options in _requests(spec, ids):
                template = max(  # the most specific: /{customer_id}/export, not /{customer_id}
                    (p for m, p in table if m == method and re.fullmatch(_pattern(p), url)),
                    key=len,
                )
                if (method, template) in seen:  # one request per route is enough here
                    continue
                seen.add((method, template))
                needed = table[(method, template)]
                tries = {"none": None, "wrong": "cxml_0000_not-a-key", **keys}
                for held, key in tries.items():
                    headers = {"X-API-Key": key} if key else {}
                    answer = api.request(
                        method,
                        url,
                        **{**options, "headers": {**options.get("headers", {}), **headers}},
                    )
                    allowed = (
                        needed == "none"
                        or held == needed
                        or (held == "admin" and needed not in ("pii", "erase"))
                    )
                    if held in ("none", "wrong") and needed != "none":
                        expected_status: set[int] | None = {401}
                    elif not allowed:
                        expected_status = {403}
                    else:
                        expected_status = None  # anything but 401 / 403
                    if expected_status is not None and answer.status_code not in expected_status:
                        problems.append(
                            f"{method} {url} with {held}: {answer.status_code}, expected {expected_status}"
                        )
                    if expected_status is None and answer.status_code in (401, 403):
                        problems.append(f"{method} {url} with {held}: {answer.status_code}")
                    if answer.status_code in (401, 403):
                        code = answer.json()["code"]
                        if code != ("CX301" if answer.status_code == 401 else "CX302"):
                            problems.append(f"{method} {url} with {held}: code {code}")
    finally:
        server.stop()
    assert not problems, "\n".join(problems[:50])


def _pattern(template: str) -> str:
    return re.sub(r"\\\{[^}]+\\\}", "[^?]+", re.escape(template))
