"""The app's guard (``serve/app.py``) on the real server, on SQLite and on PostgreSQL: security
headers, request ids, offline docs, no CORS, and an oversized body answered 413."""

from __future__ import annotations

import httpx
import pytest

from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_security_headers_request_ids_offline_docs_and_no_cors(served: Served) -> None:
    base = served["base"]
    page = httpx.get(f"{base}/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "<script>" not in page.text  # every script is a file from this server
    script = httpx.get(f"{base}/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    with client(served, "read") as api:
        fresh = api.get("/v1/models")
        echoed = api.get("/v1/models", headers={"X-Request-ID": "crm-7f3a"})
        replaced = api.get("/v1/models", headers={"X-Request-ID": "bad id\\n"})
        refused = api.post("/v1/score", json={"customers": []})  # 403 from auth, same headers
    assert len(fresh.headers["x-request-id"]) == 32
    assert echoed.headers["x-request-id"] == "crm-7f3a"
    assert replaced.headers["x-request-id"] not in ("bad id\\n", fresh.headers["x-request-id"])
    assert refused.status_code == 403 and refused.headers["x-request-id"]
    assert fresh.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    too_big = httpx.post(
        f"{base}/v1/analyze",
        content=b"x" * 11_000_000,
        headers={"X-API-Key": served["keys"]["admin"], "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413 and too_big.headers["x-request-id"]
    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200 and "cdn.jsdelivr" not in docs.text
    bundle = docs.text.split('src="')[1].split('"')[0]
    assert httpx.get(f"{base}{bundle}").status_code == 200  # served from the package
    preflight = httpx.options(
        f"{base}/v1/models",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_a_client_still_sending_an_oversized_body_reads_413_not_a_reset(served: Served) -> None:
    """The server answers 413 as soon as the declared length is over the limit, then reads and
    drops what the client keeps sending, so a client that writes its whole body before reading
    (most do) gets the answer instead of a broken connection."""
    import socket

    port = int(served["base"].rsplit(":", 1)[1])
    size = 40_000_000
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {served['keys']['score']}\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        chunk = b"a" * 1_000_000
        for _ in range(size // len(chunk)):
            connection.sendall(chunk)  # a reset would raise BrokenPipeError / ConnectionResetError
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            part = connection.recv(65536)
            if not part:
                break
            answer += part
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"field": "body"' in answer
