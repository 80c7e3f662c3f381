"""The ingest job: one file of customers or feedback into the store, with its column mapping
(a mapping file, then ``SOURCE=TARGET`` pairs over it), rejects kept, and what happened
counted (``cxml.ingest``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cxml.contract import AsOf, parse_mapping
from cxml.ingest import IngestReport, ingest_file, load_mapping_file
from cxml.settings import Settings
from cxml.store import Store


@dataclass(frozen=True)
class IngestRequest:
    """Which file to ingest as what, and how to read it."""

    kind: str  # "customers" or "feedback"
    path: Path
    mapping: dict[str, str] = field(default_factory=dict)  # file column -> contract column
    encoding: str = "utf-8"
    file_format: str | None = None  # default: from the extension
    date_format: str | None = None  # strftime format of dates that are not ISO 8601
    as_of: AsOf | None = None  # the day a tenure_months column counts back from
    rejects_path: Path | None = None  # also write rejected rows (with reasons) here
    id_from_row: bool = False  # feedback: ids from each row's content (exports without ids)
    created_at: datetime | None = None  # feedback: the survey's date for rows without one
    anonymous: bool = False  # feedback: rows naming no customer are anonymous respondents


def column_mapping(maps: Iterable[str] = (), mapping_file: Path | None = None) -> dict[str, str]:
    """The column renames: a mapping file's (YAML/JSON ``columns: {source: target}``), then
    ``SOURCE=TARGET`` pairs given one by one over them. Read before anything is opened."""
    mapping = load_mapping_file(mapping_file) if mapping_file else {}
    return {**mapping, **parse_mapping(maps)}


def run_ingest(
    store: Store,
    settings: Settings,
    request: IngestRequest,
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest ``request.path``; the report says what was read, kept, held and refused. A file
    that cannot be read, or lacks a required column, raises before anything is written."""
    return ingest_file(
        store,
        request.kind,
        request.path,
        settings=settings,
        now=now,
        mapping=request.mapping,
        encoding=request.encoding,
        file_format=request.file_format,
        date_format=request.date_format,
        as_of=request.as_of,
        rejects_path=request.rejects_path,
        progress=progress,
        id_from_row=request.id_from_row,
        created_at=request.created_at,
        anonymous=request.anonymous,
    )
