"""A Spark session for cxml: the master and settings the user chose, the JDBC drivers from
Debian's packages, the workers on this interpreter, times in UTC — or a clear error saying
what to install."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cxml.errors import ConfigError

SPARK_INSTALL = "pip install 'cxml[spark]'"
JAVA_INSTALL = "apt-get install openjdk-17-jre-headless"
JDBC_PACKAGES = {
    "postgresql.jar": "libpostgresql-jdbc-java",
    "xerial-sqlite-jdbc.jar": "libxerial-sqlite-jdbc-java",
}


def parse_conf(pairs: Iterable[str]) -> dict[str, str]:
    """``key=value`` pairs (from ``--conf``) as a dict; ConfigError naming a malformed one."""
    conf: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--conf {pair!r}: expected KEY=VALUE, e.g. --conf spark.executor.memory=4g",
                field="conf",
                value=pair,
            )
        conf[key.strip()] = value
    return conf


def _check_master(master: str, timeout: float = 5.0) -> None:
    """A standalone master (``spark://host:port[,host:port]``) must answer on its port: Spark's
    own client would retry for a minute before giving up."""
    import socket

    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.partition(":")
        try:
            with socket.create_connection((host, int(port or 7077)), timeout=timeout):
                return
        except (OSError, ValueError):
            continue
    raise ConfigError(
        f"cannot start Spark on master {master!r}: nothing answers there; check the master "
        "URL (local[*], spark://host:7077, yarn, k8s://…) and that it runs",
        field="master",
        value=master,
    )


def spark_session(
    *,
    master: str = "local[*]",
    conf: dict[str, str] | None = None,
    jars: Iterable[Path] = (),
    app_name: str = "cxml",
) -> Any:
    """Start (or reuse) a Spark session on ``master`` with ``conf`` on top of cxml's defaults."""
    import warnings

    # PySpark 4 warns at every pandas UDF that it does not fully support pandas 3 yet: not
    # something a user of cxml can act on (cxml's equality tests check the results).
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            f"--engine spark needs pyspark, which is not installed: run `{SPARK_INSTALL}`"
        ) from exc
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise ConfigError(
            f"--engine spark needs Java 17 or newer, and none is on this machine: run "
            f"`{JAVA_INSTALL}` (or set JAVA_HOME)"
        )
    missing = [p for p in jars if not Path(p).is_file()]
    if missing:
        packages = " ".join(
            sorted({JDBC_PACKAGES.get(Path(p).name, Path(p).name) for p in missing})
        )
        raise ConfigError(
            f"the JDBC driver(s) {', '.join(map(str, missing))} are missing: run "
            f"`apt-get install {packages}` (or set CXML_SPARK_JARS)"
        )
    # Workers must run this interpreter (the system Python has no pandas or cxml). PySpark
    # reads it only from the environment; a value the user set (a cluster's Python) wins.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    _check_master(master)
    settings = {
        "spark.jars": ",".join(str(p) for p in jars),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j or Spark: the master cannot be reached or refused us
        raise ConfigError(
            f"cannot start Spark on master {master!r}: {str(exc).splitlines()[0][:300]}; "
            "check the master URL (local[*], spark://host:7077, yarn, k8s://…) and that it runs",
            field="master",
            value=master,
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session
