"""Signed, at-least-once webhooks (issue #27 §5), against a real local HTTP receiver: the
reference verifier accepts what cxml signs and refuses replays; a receiver that fails twice
gets the event once; a server killed mid-delivery delivers after restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store.tables import customers, follow_ups
from cxml.webhooks import (
    Verifier,
    VerifyError,
    check_url,
    deliver_due,
    deliveries,
    emit,
    register,
    sign,
)
from tests.conftest import Server, new_key, run_cxml

NOW = datetime(2026, 12, 1, 9, 0)


class Receiver:
    """A real HTTP receiver on loopback: answers each request with the next of ``plan``
    (a status, or "hang" to stall past cxml's timeout), then 200; verifies what it accepts."""

    def __init__(self, plan: list[Any] | None = None) -> None:
        self.plan = list(plan or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.accepted: list[dict[str, Any]] = []
        self.verifier: Verifier | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                step = receiver.plan.pop(0) if receiver.plan else 200
                if step == "hang":  # stalls past cxml's timeout; what it answers is lost
                    time.sleep(8)
                    step = 500
                if step == 200 and receiver.verifier is not None:
                    receiver.accepted.append(receiver.verifier.verify(dict(self.headers), body))
                self.send_response(int(step))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def test_the_reference_verifier_accepts_what_is_signed_and_refuses_replays() -> None:
    body = json.dumps({"event_id": "e1", "type": "pull.readable"}).encode()
    stamp = int(time.time())
    headers = {"X-Cxml-Timestamp": str(stamp), "X-Cxml-Signature": sign("s3cret", stamp, body)}
    verifier = Verifier("s3cret")
    assert verifier.verify(headers, body)["event_id"] == "e1"
    with pytest.raises(VerifyError, match="already accepted"):
        verifier.verify(headers, body)
    with pytest.raises(VerifyError, match="does not match"):
        Verifier("other").verify(headers, body)
    old = {
        "X-Cxml-Timestamp": str(stamp - 600),
        "X-Cxml-Signature": sign("s3cret", stamp - 600, body),
    }
    with pytest.raises(VerifyError, match="replay"):
        Verifier("s3cret").verify(old, body)


def test_only_https_to_public_addresses_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="HTTPS only"):
        check_url("http://93.184.216.34/hook", allow_private=False)
    for private in ("https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/x"):
        with pytest.raises(ConfigError, match="private, loopback or reserved"):
            check_url(private, allow_private=False)
    assert check_url("https://93.184.216.34/hook", allow_private=False)
    assert check_url("http://127.0.0.1:9/hook", allow_private=True)


def test_a_receiver_that_fails_twice_gets_the_event_exactly_once(
    store: Store, receiver: Receiver
) -> None:
    made = register(
        store, receiver.url, ["pull.readable"], actor="admin", now=NOW, allow_private=True
    )
    receiver.verifier = Verifier(made["secret"])
    receiver.plan = [500, 503]
    assert emit(store, "pull.readable", {"pull_id": 1}, now=NOW) == 1
    assert emit(store, "drift.alert", {"alerts": 2}, now=NOW) == 0  # nobody subscribed

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        return httpx.post(url, content=body, headers=headers, timeout=5).status_code

    clock = NOW
    for _ in range(6):
        deliver_due(store, post, now=clock)
        clock += timedelta(minutes=5)  # past every backoff so far
    assert len(receiver.requests) == 3
    assert [e["payload"] for e in receiver.accepted] == [{"pull_id": 1}]
    log = deliveries(store, made["endpoint_id"])
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 3
    ids = {json.loads(body)["event_id"] for _, body in receiver.requests}
    assert len(ids) == 1  # every retry carries the same event id


def test_the_server_delivers_signed_events_and_after_a_kill_mid_delivery(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXML_ESCALATION_OWNER", "retention-lead")  # the CLI's escalation
    url = "sqlite:///cxml.db"
    store = Store.open(f"sqlite:///{tmp_path}/cxml.db")
    try:
        with store.begin() as connection:
            connection.execute(
                insert(customers).values(
                    customer_id="K1", signup_date=NOW.date(), attributes={}, content_hash=0,
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
            connection.execute(
                insert(follow_ups).values(
                    customer_id="K1", owner="aiko", status="open", created_at=NOW,
                    updated_at=NOW, due_at=datetime(2020, 1, 1),
                )
            )  # fmt: skip
    finally:
        store.close()
    admin = new_key(tmp_path, url, "admin")
    env = {
        "CXML_WEBHOOK_ALLOW_PRIVATE": "true",
        "CXML_WEBHOOK_POLL_SECONDS": "0.2",
        "CXML_HOUSEKEEPING_SECONDS": "0",  # the escalation below is the command's, not the server's
    }
    server = Server(tmp_path, url, **env)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": admin}, timeout=30) as api:
            made = api.post(
                "/v1/webhooks", json={"url": receiver.url, "events": ["follow_up.overdue"]}
            )
            assert made.status_code == 201, made.text
            endpoint = made.json()
            receiver.verifier = Verifier(endpoint["secret"])
            refused = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["nope"]})
            assert refused.status_code == 422 and refused.json()["field"] == "events"
            receiver.plan = ["hang"]  # the first delivery stalls: the server is killed meanwhile
            said = run_cxml(["followups", "escalate"], tmp_path, database_url=url)
            assert "escalated 1" in said.stdout, said.stderr
            deadline = time.monotonic() + 20
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.1)
            assert receiver.requests, "the worker never sent the event"
            server.process.kill()  # mid-delivery
            server.process.wait()
    finally:
        server.stop()
    assert receiver.accepted == []
    server = Server(tmp_path, url, **env)
    try:
        deadline = time.monotonic() + 40  # the killed worker's claim lapses after 15 s
        log: list[dict[str, Any]] = []
        with httpx.Client(base_url=server.base, headers={"X-API-Key": admin}, timeout=30) as api:
            while time.monotonic() < deadline:
                log = api.get(f"/v1/webhooks/{endpoint['endpoint_id']}/deliveries").json()["items"]
                if log and log[0]["status"] == "delivered":
                    break
                time.sleep(0.3)
    finally:
        server.stop()
    assert [e["type"] for e in receiver.accepted] == ["follow_up.overdue"]
    assert receiver.accepted[0]["payload"]["customer_id"] == "K1"
    assert receiver.accepted[0]["payload"]["owner"] == "retention-lead"
    assert log[0]["status"] == "delivered"
