"""The store as Parquet files under the contract's column names (`cxml export --format parquet`),
where Spark users keep data: customers, feedback, and what the text pipeline read in it.

Each table is streamed a chunk at a time from a server-side cursor into one Parquet file, so
memory does not grow with the store. JSON columns (attributes, intents) are JSON text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Text, cast, select

from cxml.store import Store
from cxml.store.tables import customers, feedback, feedback_analysis, feedback_themes
from cxml.text.redact import redacted

TABLES: dict[str, tuple[Any, ...]] = {
    "customers": (
        customers.c.customer_id,
        customers.c.signup_date,
        customers.c.churn_date,
        customers.c.monthly_value,
        cast(customers.c.attributes, Text).label("attributes"),
    ),
    "feedback": (
        feedback.c.feedback_id,
        feedback.c.customer_id,
        feedback.c.created_at,
        feedback.c.channel,
        feedback.c.channel_original,
        feedback.c.text,
        feedback.c.nps,
        feedback.c.csat,
        feedback.c.ces,
        feedback.c.language,
    ),
    "feedback_analysis": (
        feedback_analysis.c.feedback_id,
        feedback_analysis.c.language,
        feedback_analysis.c.sentiment_label,
        feedback_analysis.c.sentiment_score,
        cast(feedback_analysis.c.intents, Text).label("intents"),
        feedback_analysis.c.model_version,
        feedback_analysis.c.analysed_at,
    ),
    "feedback_themes": (
        feedback_themes.c.feedback_id,
        feedback_themes.c.theme_id,
        feedback_themes.c.theme_label,
        feedback_themes.c.confidence,
        feedback_themes.c.sentiment_score,
        feedback_themes.c.span_start,
        feedback_themes.c.span_end,
    ),
}
DATES = {"signup_date", "churn_date"}
TIMES = {"created_at", "analysed_at"}
SCORES = {"nps", "csat", "ces"}
#: Character offsets (where in the comment a theme was read): whole numbers or missing.
OFFSETS = {"span_start", "span_end"}


def export_parquet(
    store: Store, directory: Path, *, chunk_rows: int = 100_000, pii: bool = False
) -> dict[str, int]:
    """Write ``<table>.parquet`` for each table in ``TABLES`` into ``directory``; returns rows
    written per table. Feedback text is written redacted (what cxml reads in it is the same:
    the text pipeline redacts first) unless ``pii``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for name, columns in TABLES.items():
        names = [c.name for c in columns]
        writer: Any = None
        total = 0
        query = select(*columns)
        with store.engine.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(query)
            for rows in result.partitions(chunk_rows):
                frame = _typed(pd.DataFrame(rows, columns=names))
                if "text" in frame.columns and not pii:
                    frame["text"] = redacted(frame["text"])
                table = pa.Table.from_pandas(frame, preserve_index=False, schema=_schema(names))
                if writer is None:
                    writer = pq.ParquetWriter(directory / f"{name}.parquet", table.schema)
                writer.write_table(table)
                total += len(frame)
        if writer is None:  # an empty table still gets its file, with its columns
            writer = pq.ParquetWriter(directory / f"{name}.parquet", _schema(names))
        writer.close()
        written[name] = total
    return written


def _schema(names: list[str]) -> Any:
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in DATES:
            return pa.date32()
        if name in TIMES:
            return pa.timestamp("us")
        if name in SCORES:
            return pa.int16()
        if name in OFFSETS:
            return pa.int32()
        if name in ("monthly_value", "sentiment_score", "confidence"):
            return pa.float64()
        return pa.string()

    return pa.schema([(name, kind(name)) for name in names])


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column in DATES:
            frame[column] = pd.to_datetime(frame[column]).dt.date
        elif column in TIMES:
            frame[column] = pd.to_datetime(frame[column])
        elif column in SCORES:
            frame[column] = pd.to_numeric(frame[column]).astype("Int16")
        elif column in OFFSETS:
            frame[column] = pd.to_numeric(frame[column]).astype("Int32")
    return frame


def write_subject(record: dict[str, Any], out: Path) -> None:
    """Write a subject-access record: one JSON document, or (``.zip``) a README plus one
    spreadsheet-safe CSV per part, for a person to open."""
    import io
    import json
    import zipfile

    from cxml.io import csv_quoting, spreadsheet_safe_frame

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() != ".zip":
        out.write_text(
            json.dumps(record, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
        return
    about = record["about"]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        lines = [f"Everything held about customer {record['customer_id']}", ""]
        lines += [f"{part}.csv: {meaning}" for part, meaning in about.items()]
        archive.writestr("README.txt", "\n".join(lines) + "\n")
        for part in about:
            value = record.get(part)
            rows = value if isinstance(value, list) else [value] if value else []
            frame = pd.DataFrame(
                [
                    {
                        k: json.dumps(v, ensure_ascii=False, default=str)
                        if isinstance(v, dict | list)
                        else v
                        for k, v in row.items()
                    }
                    for row in rows
                ]
            )
            safe = spreadsheet_safe_frame(frame)
            buffer = io.StringIO()
            safe.to_csv(buffer, index=False, quoting=csv_quoting(safe))
            archive.writestr(f"{part}.csv", buffer.getvalue())
