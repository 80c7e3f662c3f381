"""Where a Spark job reads: the store over JDBC, or Parquet files under the contract's names.

From the store, each read is the very statement the local engine runs
(``cxml.store.history.history_queries``) compiled to the database's SQL, so time is cut in the
database exactly as locally; the rows are read in parallel, one JDBC partition per range of
customer ids. From Parquet (``cxml export --format parquet DIR``) the same cut is applied by
Spark: customers active at the instant, everything dated before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from sqlalchemy.engine import make_url

from cxml.contract import AsOf
from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store.active import active_spark
from cxml.store.history import customer_buckets, history_queries

PARQUET_TABLES = ("customers", "feedback", "feedback_analysis", "feedback_themes")
#: Every row a task receives, whatever its kind: one frame, so a bucket is one group.
UNION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kind", "string"),
    ("customer_id", "string"),
    ("feedback_id", "string"),
    ("created_at", "string"),
    ("signup_date", "string"),
    ("monthly_value", "double"),
    ("attributes", "string"),
    ("channel", "string"),
    ("nps", "double"),
    ("csat", "double"),
    ("ces", "double"),
    ("text", "string"),
    ("sentiment_score", "double"),
    ("intents", "string"),
    ("theme_id", "string"),
    ("theme_label", "string"),
    ("span_start", "double"),
    ("span_end", "double"),
)


@dataclass(frozen=True)
class Source:
    """The store (``database_url``) or a folder of Parquet files (``parquet``)."""

    database_url: str | None = None
    parquet: Path | None = None

    def describe(self) -> str:
        """For messages."""
        if self.parquet is not None:
            return f"Parquet files in {self.parquet}"
        return (
            f"the store at {make_url(self.database_url or '').render_as_string(hide_password=True)}"
        )


def jdbc_options(database_url: str) -> dict[str, str]:
    """The JDBC url and driver for a SQLAlchemy URL (SQLite file or PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError("Spark cannot read an in-memory SQLite store: use a file")
        return {
            "url": f"jdbc:sqlite:{Path(url.database).resolve()}",
            "driver": "org.sqlite.JDBC",
        }
    if url.get_backend_name() == "postgresql":
        query: dict[str, str] = {}
        if url.username:
            query["user"] = url.username
        if url.password:
            query["password"] = str(url.password)
        options = url.query.get("options")
        for option in [options] if isinstance(options, str) else list(options or []):
            # -csearch_path=schema (how cxml's tests point at a schema) → currentSchema
            for part in unquote(option).split():
                if part.startswith("-csearch_path="):
                    query["currentSchema"] = part.split("=", 1)[1]
        host = url.host or "localhost"
        port = url.port or 5432
        return {
            "url": f"jdbc:postgresql://{host}:{port}/{url.database}?{urlencode(query)}",
            "driver": "org.postgresql.Driver",
        }
    raise ConfigError(
        f"Spark reads SQLite and PostgreSQL stores; {url.get_backend_name()} is neither",
        field="database_url",
    )


def _jdbc(
    spark: Any,
    database_url: str,
    sql: str,
    predicates: list[str],
    text: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
) -> Any:
    """Read ``sql`` over JDBC, a partition per predicate. ``text`` columns are read as strings
    whatever type the driver guesses for an expression (SQLite's guesses a number for CAST),
    ``numbers`` as doubles (SQLite's driver reads REAL as 4-byte floats)."""
    options = jdbc_options(database_url)
    table = f"({sql}) AS cxml_read"
    properties = {"driver": options["driver"]}
    schema = [f"{name} STRING" for name in text] + [f"{name} DOUBLE" for name in numbers]
    if schema:
        properties["customSchema"] = ", ".join(schema)
    return spark.read.jdbc(options["url"], table, predicates=predicates, properties=properties)


def _range_predicates(store: Store, bucket_customers: int, signed_up_before: AsOf) -> list[str]:
    """One JDBC partition per range of customer ids (the local engine's buckets)."""

    def quoted(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    predicates = [
        f"customer_id >= {quoted(str(b.first))} AND customer_id <= {quoted(str(b.last))}"
        for b in customer_buckets(store, bucket_customers, signed_up_before=signed_up_before)
    ]
    return predicates or ["1 = 1"]


def history_frames(
    spark: Any, source: Source, as_of: AsOf, *, bucket_customers: int, with_text: bool = True
) -> Any:
    """Every row of the point-in-time history at ``as_of``, as one Spark frame with
    ``UNION_COLUMNS``: ``kind`` customer (active then), feedback (before it, with its
    analysis) or theme (mentioned before it)."""
    if source.parquet is not None:
        customers, feedback, themes = _parquet_history(spark, source.parquet, as_of)
    else:
        assert source.database_url is not None
        store = Store.open(source.database_url, migrate=False)
        try:
            dialect = store.engine.dialect
            queries = history_queries(store.dialect, as_of)
            statements = {
                name: statement.order_by(None)
                for name, statement in (
                    ("customers", queries.customers),
                    ("feedback", queries.feedback),
                    ("themes", queries.themes),
                )
            }
            sql = {
                name: str(
                    statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
                )
                for name, statement in statements.items()
            }
            predicates = _range_predicates(store, bucket_customers, as_of)
        finally:
            store.close()
        url = source.database_url
        customers = _jdbc(
            spark,
            url,
            sql["customers"],
            predicates,
            ("signup_date", "attributes"),
            ("monthly_value",),
        )
        feedback = _jdbc(
            spark,
            url,
            sql["feedback"],
            predicates,
            ("created_at", "intents"),
            ("nps", "csat", "ces", "sentiment_score"),
        )
        themes = _jdbc(
            spark,
            url,
            sql["themes"],
            predicates,
            ("created_at",),
            ("sentiment_score", "span_start", "span_end"),
        )
    if not with_text:
        themes = themes.limit(0)
    return (
        _union(customers, "customer")
        .unionByName(_union(feedback, "feedback"))
        .unionByName(_union(themes, "theme"))
    )


def _union(frame: Any, kind: str) -> Any:
    from pyspark.sql import functions as F

    columns = []
    present = set(frame.columns)
    for name, kind_of in UNION_COLUMNS:
        if name == "kind":
            columns.append(F.lit(kind).alias("kind"))
        elif name in present:
            columns.append(F.col(name).cast(kind_of).alias(name))
        else:
            columns.append(F.lit(None).cast(kind_of).alias(name))
    return frame.select(*columns)


def _parquet_history(spark: Any, folder: Path, as_of: AsOf) -> tuple[Any, Any, Any]:
    """The point-in-time cut, by Spark, over Parquet files written by ``cxml export``."""
    from pyspark.sql import functions as F

    missing = [t for t in PARQUET_TABLES if not (folder / f"{t}.parquet").exists()]
    if missing:
        raise ConfigError(
            f"{folder}: no {', '.join(t + '.parquet' for t in missing)}; write them with "
            f"`cxml export --format parquet {folder}`",
            field="parquet",
            value=str(folder),
        )
    read = {t: spark.read.parquet(str(folder / f"{t}.parquet")) for t in PARQUET_TABLES}
    instant = F.lit(as_of.strftime("%Y-%m-%d %H:%M:%S.%f")).cast("timestamp")
    people = read["customers"].where(active_spark(as_of))
    before = F.col("created_at").cast("timestamp") < instant
    feedback = read["feedback"].where(before)
    analysis = read["feedback_analysis"].select("feedback_id", "sentiment_score", "intents")
    rows = feedback.join(analysis, on="feedback_id", how="left")
    # spans since the export carried them; older exports' themes have none (NaN)
    spans = [c for c in ("span_start", "span_end") if c in read["feedback_themes"].columns]
    themes = (
        read["feedback_themes"]
        .select("feedback_id", "theme_id", "theme_label", "sentiment_score", *spans)
        .join(feedback.select("feedback_id", "customer_id", "created_at"), on="feedback_id")
    )
    return people, rows, themes
