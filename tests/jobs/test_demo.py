"""`cxml demo` (``cxml/jobs/demo.py``) as a user runs it, on SQLite and on PostgreSQL: no
third-party warning, and the commands it prints as next work run when pasted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cxml
from tests.serve.conftest import Served

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_the_demo_prints_no_third_party_warning(served: Served) -> None:
    said = str(served["demo_output"]) + str(served["demo_errors"])
    assert "demo" in said and not re.search(r"\w+Warning\b|warnings\.warn", said), said[-3000:]


def test_the_commands_the_demo_prints_as_next_work_when_pasted(served: Served) -> None:
    """Pasting them retrains the text model, which the server follows (the tests sharing this
    served world run before or after it, in any order)."""
    import shlex

    output = str(served["demo_output"])
    listed = output[output.index("\nnext:") :].splitlines()[1:]
    commands = [line.strip().split("  ")[0] for line in listed if line.strip().startswith("cxml ")]
    assert len(commands) >= 8
    for command in commands:
        done = run_cxml(
            shlex.split(command)[1:], Path(str(served["cwd"])), database_url=str(served["url"])
        )
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    mlflow_ui = next(line for line in listed if "mlflow ui" in line)
    assert "--backend-store-uri sqlite:///mlflow.db" in mlflow_ui
