"""API keys on the real server (``serve/deps.py``), on SQLite and on PostgreSQL: required,
scoped, revocable, and guessing them answered 429."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, run_cxml
from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_keys_are_required_scoped_and_revocable(served: Served) -> None:
    base = served["base"]
    missing = httpx.get(f"{base}/v1/at-risk")
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    wrong = httpx.get(f"{base}/v1/at-risk", headers={"X-API-Key": "cxml_abc_not-a-key"})
    assert wrong.status_code == 401
    with client(served, "read") as api:
        refused = api.post("/v1/score", json={"customers": [{"customer_id": "C000001"}]})
    assert refused.status_code == 403 and "'score'" in refused.json()["detail"]
    key = served["keys"]["read"]
    short_lived = run_cxml(
        ["keys", "create", "--scope", "read"], served["cwd"], database_url=served["url"]
    )
    secret = short_lived.stdout.strip().splitlines()[-1]
    assert secret != key and secret.startswith("cxml_")
    ok = httpx.get(f"{base}/v1/models", headers={"X-API-Key": secret})
    assert ok.status_code == 200
    revoked = run_cxml(["keys", "revoke", secret], served["cwd"], database_url=served["url"])
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{base}/v1/models", headers={"X-API-Key": secret}).status_code == 401
    listed = run_cxml(["keys", "list", "--json"], served["cwd"], database_url=served["url"])
    assert secret.split("_", 2)[2] not in listed.stdout  # never the secret, not even hashed
    assert "secret_hash" not in listed.stdout


def test_guessing_keys_is_answered_429_with_retry_after(served: Served) -> None:
    """On a server of its own over the served store: guessing leaves this client blocked for a
    minute on the server it guesses at, which must not be the one the other tests share."""
    server = Server(Path(served["cwd"]), served["url"])
    try:
        base = server.base
        statuses = [
            httpx.get(f"{base}/v1/models", headers={"X-API-Key": f"cxml_guess_{i}"}).status_code
            for i in range(21)
        ]
        # 429 comes at the 21st at most
        first = statuses.index(429)
        assert statuses[:first] == [401] * first and set(statuses[first:]) == {429}
        blocked = httpx.get(f"{base}/v1/models", headers={"X-API-Key": "cxml_guess_x"})
        assert blocked.status_code == 429 and 1 <= int(blocked.headers["retry-after"]) <= 60
        assert "too many failed" in blocked.json()["detail"]
    finally:
        server.stop()
