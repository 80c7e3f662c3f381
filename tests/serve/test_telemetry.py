"""The server's log lines carry the request id that its responses carry."""

from __future__ import annotations

import subprocess
import sys

from serve.deps import Failures


def test_cxml_and_access_log_lines_carry_the_request_id() -> None:
    program = (
        "import logging, logging.config\n"
        "from serve.telemetry import REQUEST_ID, log_config\n"
        "logging.config.dictConfig(log_config())\n"
        "REQUEST_ID.set('req-42')\n"
        "logging.getLogger('cxml.serve').warning('models reloaded')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "models reloaded request=req-42" in done.stderr


def test_failed_key_checks_past_the_limit_make_a_client_wait() -> None:
    failures = Failures(limit=3, window=60)
    for _ in range(3):
        assert failures.wait("10.0.0.1") == 0
        failures.failed("10.0.0.1")
    assert 1 <= failures.wait("10.0.0.1") <= 60
    assert failures.wait("10.0.0.2") == 0  # another client is not affected
    expired = Failures(limit=1, window=0.0)
    expired.failed("10.0.0.1")
    assert expired.wait("10.0.0.1") == 0 and not expired.seen
