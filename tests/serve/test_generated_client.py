"""The API as a CRM developer consumes it (issue #27 §6): a Python client generated from the
live /openapi.json by openapi-python-client drives the whole CRM flow against a real server,
with function and model names that read naturally."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import demo_server
from tests.serve.test_schemas import UNTYPED_FOR_NOW

pytestmark = pytest.mark.slow
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    cwd = tmp_path_factory.mktemp("generated-client")
    with demo_server(cwd, f"sqlite:///{cwd / 'cxml.db'}", "sqlite") as served:
        yield served


@pytest.fixture(scope="module")
def client_package(served: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package openapi-python-client generates from the server's own document."""
    folder = tmp_path_factory.mktemp("client")
    spec = folder / "openapi.json"
    spec.write_bytes(httpx.get(f"{served['base']}/openapi.json", timeout=30).content)
    made = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(folder / "cxml_client"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(folder))
    return folder / "cxml_client"


def _module(name: str) -> Any:
    return importlib.import_module(f"cxml_client.{name}")


def test_generated_names_read_naturally(client_package: Path) -> None:
    functions = {p.stem for p in client_package.glob("api/*/*.py") if p.stem != "__init__"}
    models = {p.stem for p in client_package.glob("models/*.py") if p.stem != "__init__"}
    assert {
        "customers_send",
        "feedback_send",
        "score_customers",
        "customers_get_story",
    } <= functions
    assert {
        "customers_sent",
        "at_risk_summary",
        "metric_table",
        "customer_high_risk_event",
    } <= models
    path_named = sorted(n for n in functions | models if "_v1_" in n or n.endswith("_post"))
    assert path_named == []
    # an untyped answer is named after its operation ("<id>_response_<id>"): only the routes
    # still allowed to be untyped may have one
    allowed = {f"{operation}_response_{operation}" for operation in UNTYPED_FOR_NOW}
    assert {n for n in models if "_response_" in n and not n.endswith("_item")} <= allowed


def test_crm_flow_through_the_generated_client(
    served: dict[str, Any], client_package: Path
) -> None:
    client_module = _module("client")
    keys = served["keys"]
    clients: dict[str, Any] = {}

    def client(scope: str) -> Any:
        """The generated client for a key of ``scope`` (one per scope, closed at the end)."""
        if scope not in clients:
            clients[scope] = stack.enter_context(
                client_module.AuthenticatedClient(
                    base_url=served["base"],
                    token=keys[scope],
                    prefix="",
                    auth_header_name="X-API-Key",
                )
            )
        return clients[scope]

    with ExitStack() as stack:
        _drive_crm_flow(client)


def _drive_crm_flow(client: Any) -> None:
    models = _module("models")
    customers_send = _module("api.ingest.customers_send")
    feedback_send = _module("api.ingest.feedback_send")
    score_customers = _module("api.score.score_customers")
    customers_get_story = _module("api.customers.customers_get_story")
    at_risk_list = _module("api.at_risk.at_risk_list")
    at_risk_summary = _module("api.at_risk.at_risk_summary")
    create_follow_up = _module("api.customers.customers_create_follow_up")
    change_follow_up = _module("api.customers.customers_change_follow_up")
    worklist_create_pull = _module("api.retention.worklist_create_pull")
    webhooks_create = _module("api.webhooks.webhooks_create")

    sent = customers_send.sync(
        client=client("ingest"),
        body=models.CustomersRequest.from_dict(
            {
                "customers": [
                    {
                        "customer_id": "GEN-1",
                        "signup_date": "2025-02-01",
                        "monthly_value": 42.0,
                        "plan": "basic",
                    }
                ]
            }
        ),
    )
    assert isinstance(sent, models.CustomersSent)
    assert (sent.accepted, sent.results[0].customer_id, sent.results[0].status) == (
        1,
        "GEN-1",
        "accepted",
    )

    feedback = feedback_send.sync(
        client=client("ingest"),
        body=models.FeedbackRequest.from_dict(
            {
                "feedback": [
                    {
                        "feedback_id": "GEN-F1",
                        "customer_id": "GEN-1",
                        "created_at": "2026-11-20T10:00:00Z",
                        "channel": "email",
                        "text": "Charged twice again. I am cancelling my account.",
                        "nps": 1,
                    }
                ]
            }
        ),
    )
    assert isinstance(feedback, models.FeedbackResponse)
    assert feedback.accepted == 1

    scored = score_customers.sync(
        client=client("score"),
        body=models.ScoreRequest.from_dict({"customers": [{"customer_id": "GEN-1"}]}),
    )
    assert isinstance(scored, models.ScoreResponse)
    [result] = scored.results
    assert isinstance(result, models.ScoreResult)
    assert 0.0 <= result.probability <= 1.0 and result.reasons

    story = customers_get_story.sync("GEN-1", client=client("read"))
    assert isinstance(story, models.CustomerStory)
    assert story.customer_id == "GEN-1" and story.score is not None

    page = at_risk_list.sync(client=client("read"), limit=5)
    assert isinstance(page, models.AtRiskPage) and page.items
    summary = at_risk_summary.sync(client=client("read"))
    assert isinstance(summary, models.AtRiskSummary)
    assert summary.customers >= len(page.items) and summary.currency

    opened = create_follow_up.sync(
        "GEN-1",
        client=client("agent"),
        body=models.FollowUpCreate(owner="aiko@retention", note="call about the double charge"),
    )
    assert isinstance(opened, models.FollowUp) and opened.status == "open"
    closed = change_follow_up.sync(
        "GEN-1",
        opened.follow_up_id,
        client=client("agent"),
        body=models.FollowUpPatch(status=models.Status.RESOLVED, outcome="stayed: refund"),
    )
    assert isinstance(closed, models.FollowUp)
    assert (closed.status, closed.outcome) == ("resolved", "stayed: refund")

    pulled = worklist_create_pull.sync(
        client=client("agent"), body=models.PullCreate(capacity=10, seed=7)
    )
    assert isinstance(pulled, models.Pull)
    assert pulled.contact + pulled.control == len(pulled.items) > 0

    hook = webhooks_create.sync(
        client=client("admin"),
        # a public address given as a literal: nothing to resolve, and no event is sent here
        body=models.WebhookCreate(url="https://93.184.216.34/hooks/cxml", events=["pull.readable"]),
    )
    assert isinstance(hook, models.WebhookCreated)
    assert hook.events == ["pull.readable"] and hook.secret
