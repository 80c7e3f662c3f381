"""Models missing → 503 saying how to fix it; exported bundles serve without a registry; reload."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, new_key, run_cxml

pytestmark = pytest.mark.slow  # real servers and the demo end to end


def test_missing_models_say_how_to_fix_then_bundles_load_on_reload(
    tmp_path: Path, served_sqlite_world: dict[str, Any]
) -> None:
    # A server on an empty store, an empty registry and an empty model folder.
    url = f"sqlite:///{tmp_path / 'cxml.db'}"
    admin = new_key(tmp_path, url, "admin")
    server = Server(
        tmp_path, url, CXML_MODEL_DIR=str(tmp_path / "bundles"), CXML_API_MAX_BODY_BYTES="2000"
    )
    try:
        headers = {"X-API-Key": admin}

        def chunks() -> Any:  # no Content-Length: the limit must hold while reading
            yield b'{"texts": ["'
            yield b"a" * 5000
            yield b'"]}'

        chunked = httpx.post(
            f"{server.base}/v1/analyze",
            content=chunks(),
            headers={**headers, "content-type": "application/json"},
        )
        assert chunked.status_code == 413 and chunked.json()["field"] == "body"
        # The whole oversized body in one write: its last part is read with the excess, and
        # nothing is left to drain (waiting for more would hang until the client gives up).
        body = b'{"texts": ["' + b"a" * 5000 + b'"]}'
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(
                b"POST /v1/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"X-API-Key: {admin}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + f"{len(body):x}\r\n".encode()
                + body
                + b"\r\n0\r\n\r\n"
            )
            answer = b""
            while not answer.rstrip().endswith(b"}"):
                part = connection.recv(65536)  # a hang raises TimeoutError here
                if not part:
                    break
                answer += part
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        ready = httpx.get(f"{server.base}/readyz")
        assert ready.status_code == 503
        assert "cxml train churn" in ready.json()["problems"][0]
        refused = httpx.post(
            f"{server.base}/v1/score", json={"customers": [{"customer_id": "C1"}]}, headers=headers
        )
        assert refused.status_code == 409 and "cxml export-models" in refused.json()["detail"]
        # text still works on the shipped defaults
        analysed = httpx.post(
            f"{server.base}/v1/analyze", json={"texts": ["great service"]}, headers=headers
        )
        assert analysed.status_code == 200 and analysed.json()["model_version"] == "defaults"

        exported = run_cxml(
            ["export-models", "--out", str(tmp_path / "bundles")],
            served_sqlite_world["cwd"],
            database_url=served_sqlite_world["url"],
        )
        assert exported.returncode == 0, exported.stderr
        assert (tmp_path / "bundles" / "churn.joblib").is_file()
        reloaded = httpx.post(f"{server.base}/v1/models/reload", headers=headers, timeout=120)
        assert reloaded.status_code == 200
        described = reloaded.json()
        assert described["churn"]["source"].startswith("bundle:")
        assert described["text"]["source"].startswith("bundle:")
        assert httpx.get(f"{server.base}/readyz").status_code == 200
        scored = httpx.post(
            f"{server.base}/v1/score",
            headers=headers,
            json={
                "customers": [
                    {
                        "customer_id": "NEW",
                        "attributes": {"signup_date": "2025-06-01", "monthly_value": 50},
                        "feedback": [{"created_at": "2025-10-01", "text": "I want to cancel."}],
                    }
                ]
            },
            timeout=60,
        ).json()["results"][0]
        assert 0 <= scored["probability"] <= 1 and scored["model_version"] == "1"
    finally:
        server.stop()
    shutil.rmtree(tmp_path / "bundles")


def test_the_demo_ends_serving_with_a_curl_that_works(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import time

    from tests.conftest import CXML, free_port

    port = free_port()
    env = {
        **os.environ,
        "CXML_DATABASE_URL": "sqlite:///cxml.db",
        "CXML_MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
        "PYTHONUNBUFFERED": "1",
    }
    demo = subprocess.Popen(
        [CXML, "demo", "--customers", "200", "--seed", "9", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        curl = None
        deadline = time.monotonic() + 600
        for line in demo.stdout:
            if line.strip().startswith("curl "):
                curl = line.strip()
                break
            assert time.monotonic() < deadline
        assert curl is not None and f"127.0.0.1:{port}/v1/at-risk" in curl
        key = re.search(r"X-API-Key: (\S+)'", curl)
        assert key is not None
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/v1/at-risk",
                    params={"limit": 10},
                    headers={"X-API-Key": key.group(1)},
                )
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the demo's server never answered"
                time.sleep(0.3)
        assert answer.status_code == 200 and len(answer.json()["items"]) == 10
        pasted = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, timeout=30)
        assert '"items"' in pasted.stdout
    finally:
        demo.terminate()
        demo.wait(timeout=30)
        if demo.stdout is not None:
            demo.stdout.close()
