"""The code stays clean: ruff (lint and format) and mypy run as part of the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def check(*command: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_finds_nothing() -> None:
    check(str(BIN / "ruff"), "check", ".")


def test_code_is_formatted() -> None:
    check(str(BIN / "ruff"), "format", "--check", ".")


def test_mypy_finds_nothing() -> None:
    check(str(BIN / "mypy"))


def test_imports_keep_their_layers() -> None:
    """The layers contract and "only serve imports fastapi" (pyproject's [tool.importlinter])."""
    # The checkout's own packages, whichever copy of cxml the environment has installed.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    check(str(BIN / "lint-imports"), "--no-cache", env={**os.environ, "PYTHONPATH": path})
