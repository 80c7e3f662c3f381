"""cxml as a user installs it: a plain (not editable) install carries the shipped models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_plain_install_analyses_with_the_shipped_default_models(tmp_path: Path) -> None:
    target = tmp_path / "installed"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    assert (target / "cxml" / "shipped" / "sentiment_en.joblib").is_file()
    (tmp_path / "comments.csv").write_text(
        "id,text\n1,Great value and friendly staff.\n2,スタッフがとても親切でした。\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(target),  # the installed copy, ahead of the checkout
        "CXML_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "CXML_DATABASE_URL": f"sqlite:///{tmp_path / 'cxml.db'}",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import cxml, sys; from cxml.cli import main; "
            "assert cxml.__file__.startswith(sys.argv[1]); sys.exit(main(sys.argv[2:]))",
            str(target),
            "analyze",
            "--input",
            "comments.csv",
            "--out",
            "out.jsonl",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["sentiment"]["source"] for r in rows] == ["default", "default"]
