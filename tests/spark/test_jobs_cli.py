"""The three heavy commands with --engine spark, as a user runs them, and the errors that say
what to install or fix."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import CXML, Trained

pytestmark = pytest.mark.slow  # Spark in a subprocess


def cxml(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CXML, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_score_with_spark_writes_parquet_and_the_scores_table(
    trained: Trained, tmp_path: Path
) -> None:
    settings = trained.settings["postgresql"]
    env = {
        "CXML_DATABASE_URL": settings.database_url,
        "CXML_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
    }
    done = cxml(
        [
            "score",
            "--engine",
            "spark",
            "--master",
            "local[2]",
            "--conf",
            "spark.sql.shuffle.partitions=4",
            "--as-of",
            "2025-03-01",
            "--out",
            str(tmp_path / "scores"),
            "--top",
            "3",
        ],
        trained.folder,
        **env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "customers scored with cxml-churn version 1" in done.stdout
    written = pd.read_parquet(tmp_path / "scores")
    stored = trained.stores["postgresql"].table_frame("scores")
    march = stored[stored["as_of"] == pd.Timestamp("2025-03-01").date()]
    assert len(written) == len(march) > 150
    assert set(written["customer_id"]) == set(march["customer_id"])


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--conf", "nonsense"], {}, "expected KEY=VALUE"),
        ([], {"PATH": "/nonexistent", "JAVA_HOME": ""}, "apt-get install openjdk-17-jre-headless"),
        (
            [],
            {"CXML_SPARK_JARS": '["/nowhere/postgresql.jar"]'},
            "apt-get install libpostgresql-jdbc-java",
        ),
        (["--master", "spark://127.0.0.1:9"], {}, "cannot start Spark on master"),
    ],
)
def test_spark_errors_say_what_to_install_or_fix(
    trained: Trained, args: list[str], env: dict[str, str], expected: str
) -> None:
    settings = trained.settings["sqlite"]
    done = cxml(
        ["analyze", "--store", "--engine", "spark", *args],
        trained.folder,
        CXML_DATABASE_URL=settings.database_url,
        CXML_MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
        **env,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert expected in done.stderr and "Traceback" not in done.stderr
