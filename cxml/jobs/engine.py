"""Where a heavy job runs and reads: here (a bucket of customers at a time) or on Apache Spark,
from the store or from Parquet files (``cxml export``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxml.errors import ConfigError
from cxml.settings import Settings
from cxml.store import Store

#: Opens the store when a job needs it (and only then: a job on Parquet files never does).
OpenStore = Callable[[], Store]


@dataclass(frozen=True)
class Engine:
    """``--engine``, ``--master``, ``--conf``, ``--parquet``."""

    name: str = "local"
    master: str = "local[*]"
    conf: tuple[str, ...] = ()
    parquet: Path | None = None

    @property
    def spark(self) -> bool:
        return self.name == "spark"

    def local_only(self) -> None:
        if self.name == "local" and self.parquet is not None:
            raise ConfigError("--parquet is read by --engine spark", field="parquet")

    def session(self, settings: Settings) -> Any:
        from cxml.spark.session import parse_conf, spark_session

        return spark_session(
            master=self.master, conf=parse_conf(self.conf), jars=settings.spark_jars
        )

    def source(self, settings: Settings, store: OpenStore) -> Any:
        from cxml.spark.sources import Source

        if self.parquet is not None:
            return Source(parquet=self.parquet)
        store()  # the schema is there before Spark reads it
        return Source(database_url=settings.resolved_database_url())
