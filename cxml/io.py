"""Read and write CSV, Parquet and JSON Lines in batches; nothing about meaning.

Readers yield ``Chunk``s: an object-dtype frame of raw string values (``None``
where a value is absent), the 1-based record number of each row, and the
records that could not be shaped into the header's columns. Undecodable bytes
are kept through ``surrogateescape`` so the contract can name them instead of
the whole file failing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from cxml.errors import InputFileError

FORMATS = ("csv", "tsv", "parquet", "jsonl")


@dataclass
class Malformed:
    """A record that does not fit the header: its number, raw text and why."""

    row: int
    raw: str
    reason: str


@dataclass
class Chunk:
    """One batch of raw records from a file."""

    frame: pd.DataFrame
    rows: np.ndarray
    malformed: list[Malformed] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Records in this chunk, shaped or not."""
        return len(self.frame) + len(self.malformed)


def detect_format(path: Path, declared: str | None = None) -> str:
    """Return the file's format from ``declared`` or its extension (``.gz`` allowed)."""
    if declared:
        if declared not in FORMATS:
            raise InputFileError(
                str(path), f"format {declared!r} is not one of {', '.join(FORMATS)}"
            )
        return declared
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    by_ext = {
        ".csv": "csv",
        ".txt": "csv",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
    }
    if ext not in by_ext:
        raise InputFileError(
            str(path),
            f"cannot tell the format from the extension {ext or '(none)'!r}; "
            "expected .csv, .tsv, .parquet or .jsonl (or declare it with --format)",
        )
    return by_ext[ext]


class _CountingReader(io.RawIOBase):
    """A binary reader that counts the bytes it hands out (for progress bars)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.consumed += count
        return count

    def close(self) -> None:
        """Close the wrapped file too (a TextIOWrapper's close reaches down to here)."""
        try:
            self.raw.close()
        finally:
            super().close()


class _Chunks:
    """Chunks of an open file: iterate them; the file is closed when they are exhausted, when
    ``close`` is called, or when the iterator is dropped unused (a caller that stops at the
    header, say, to refuse a missing column)."""

    def __init__(self, generator: Generator[Any, None, None], handle: IO[Any]) -> None:
        self.generator = generator
        self.handle = handle

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> Any:
        return next(self.generator)

    def close(self) -> None:
        self.generator.close()
        self.handle.close()

    def __del__(self) -> None:
        self.close()


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _header(path: Path, header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    if not any(names):
        raise InputFileError(
            str(path), "the first line is empty: expected a header of column names"
        )
    blanks = [i + 1 for i, n in enumerate(names) if not n]
    if blanks:
        # An unnamed column (a spreadsheet's index, say) is kept under a visible name.
        for i in blanks:
            names[i - 1] = f"column_{i}"
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputFileError(
            str(path), f"the header repeats column name(s) {', '.join(map(repr, duplicates))}"
        )
    return names


def read_csv_chunks(
    path: Path,
    *,
    chunk_rows: int,
    encoding: str = "utf-8",
    delimiter: str = ",",
    progress: Callable[[int], None] | None = None,
) -> tuple[list[str], Iterator[Chunk]]:
    """Return (header, chunks) of a delimited text file.

    Quoted fields may hold delimiters, quotes and newlines. A record with more or
    fewer fields than the header is returned as ``Malformed`` with its raw text.
    Blank lines are not records. ``progress`` is called with bytes consumed so far.
    """
    try:
        binary = _open_binary(path)
    except OSError as exc:
        raise InputFileError(str(path), f"cannot open: {exc.strerror or exc}") from exc
    counting = _CountingReader(binary)
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        text = io.TextIOWrapper(
            io.BufferedReader(counting, 1 << 20),
            encoding=codec,
            errors="surrogateescape",
            newline="",
        )
    except LookupError as exc:
        binary.close()
        raise InputFileError(str(path), f"unknown encoding {encoding!r}") from exc
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        first = next(reader)
    except StopIteration:
        text.close()
        raise InputFileError(str(path), "the file is empty: expected a header line") from None
    except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
        text.close()
        raise InputFileError(
            str(path), f"not readable as {encoding} delimited text: {exc}"
        ) from exc
    try:
        header = _header(path, first)
    except InputFileError:
        text.close()
        raise
    width = len(header)

    def chunks() -> Generator[Chunk, None, None]:
        record = 0
        try:
            while True:
                try:
                    batch = [r for r in _take(reader, chunk_rows) if r]
                except csv.Error as exc:
                    raise InputFileError(
                        str(path), f"the file cannot be parsed as CSV: {exc}", row=record + 1
                    ) from exc
                except (OSError, EOFError) as exc:
                    raise InputFileError(str(path), f"read failed: {exc}", row=record + 1) from exc
                if not batch:
                    return
                numbers = np.arange(record + 1, record + 1 + len(batch), dtype=np.int64)
                record += len(batch)
                lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
                misfit = np.flatnonzero(lengths != width)
                malformed = [
                    Malformed(
                        row=int(numbers[i]),
                        raw=delimiter.join(batch[i]),
                        reason=f"the record has {lengths[i]} fields; the header has {width}",
                    )
                    for i in misfit
                ]
                if misfit.size:
                    keep = lengths == width
                    batch = [r for r, k in zip(batch, keep, strict=True) if k]
                    numbers = numbers[keep]
                frame = pd.DataFrame(batch, columns=header, dtype=object)
                if progress is not None:
                    progress(counting.consumed)
                yield Chunk(frame=frame, rows=numbers, malformed=malformed)
        finally:
            text.close()

    return header, _Chunks(chunks(), text)


def _take(reader: Iterator[list[str]], count: int) -> list[list[str]]:
    batch: list[list[str]] = []
    append = batch.append
    for row in reader:
        append(row)
        if len(batch) >= count:
            break
    return batch


def to_text(value: Any) -> str | None:
    """A JSON or Parquet value as the contract reads raw file values: text (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:  # NaN written by some JSON producers
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def read_parquet_chunks(
    path: Path, *, chunk_rows: int, progress: Callable[[int], None] | None = None
) -> tuple[list[str], Iterator[Chunk]]:
    """Return (header, chunks) of a Parquet file; typed values become their text."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise InputFileError(str(path), f"not a readable Parquet file: {exc}") from exc
    header = _header(path, list(parquet.schema_arrow.names))

    def chunks() -> Generator[Chunk, None, None]:
        record = 0
        for done, batch in enumerate(parquet.iter_batches(batch_size=chunk_rows), start=1):
            data = {
                name: np.array([to_text(v) for v in column.to_pylist()], dtype=object)
                for name, column in zip(header, batch.columns, strict=True)
            }
            frame = pd.DataFrame(data, columns=header, dtype=object)
            numbers = np.arange(record + 1, record + 1 + len(frame), dtype=np.int64)
            record += len(frame)
            if progress is not None:
                progress(done)
            yield Chunk(frame=frame, rows=numbers)

    return header, chunks()


def read_jsonl_chunks(
    path: Path,
    *,
    chunk_rows: int,
    encoding: str = "utf-8",
    progress: Callable[[int], None] | None = None,
) -> tuple[list[str], Iterator[Chunk]]:
    """Return (header, chunks) of a JSON Lines file: one object per line.

    The header is every key seen in the first chunk, in order of appearance; a
    line that is not a JSON object is returned as ``Malformed``.
    """
    try:
        binary = _open_binary(path)
    except OSError as exc:
        raise InputFileError(str(path), f"cannot open: {exc.strerror or exc}") from exc
    counting = _CountingReader(binary)
    text = io.TextIOWrapper(
        io.BufferedReader(counting, 1 << 20), encoding=encoding, errors="surrogateescape"
    )

    def parse(
        lines: list[tuple[int, str]],
    ) -> tuple[list[tuple[int, dict[str, Any]]], list[Malformed]]:
        good: list[tuple[int, dict[str, Any]]] = []
        bad: list[Malformed] = []
        for number, line in lines:
            try:
                value = json.loads(line)
            except ValueError as exc:
                bad.append(Malformed(number, line, f"not valid JSON: {exc}"))
                continue
            if not isinstance(value, dict):
                bad.append(Malformed(number, line, "the line is JSON but not an object"))
                continue
            good.append((number, value))
        return good, bad

    def read_lines(start: int) -> list[tuple[int, str]]:
        lines: list[tuple[int, str]] = []
        number = start
        for line in text:
            if not line.strip():
                continue
            number += 1
            lines.append((number, line))
            if len(lines) >= chunk_rows:
                break
        return lines

    first_lines = read_lines(0)
    if not first_lines:
        text.close()
        raise InputFileError(str(path), "the file is empty: expected one JSON object per line")
    first_good, first_bad = parse(first_lines)
    if not first_good:
        text.close()
        raise InputFileError(
            str(path),
            f"no line of the first {len(first_lines)} is a JSON object: {first_bad[0].reason}",
            row=first_bad[0].row,
        )
    header: list[str] = []
    for _, obj in first_good:
        for key in obj:
            if key not in header:
                header.append(key)

    def to_chunk(good: list[tuple[int, dict[str, Any]]], bad: list[Malformed]) -> Chunk:
        columns = list(header)
        for _, obj in good:
            for key in obj:
                if key not in columns:
                    columns.append(key)
        frame = pd.DataFrame(
            {c: np.array([to_text(o.get(c)) for _, o in good], dtype=object) for c in columns},
            columns=columns,
            dtype=object,
        )
        numbers = np.array([n for n, _ in good], dtype=np.int64)
        return Chunk(frame=frame, rows=numbers, malformed=bad)

    def chunks() -> Generator[Chunk, None, None]:
        try:
            yield to_chunk(first_good, first_bad)
            last = first_lines[-1][0]
            while True:
                lines = read_lines(last)
                if not lines:
                    return
                last = lines[-1][0]
                if progress is not None:
                    progress(counting.consumed)
                yield to_chunk(*parse(lines))
        finally:
            text.close()

    return header, _Chunks(chunks(), text)


def records_chunk(records: list[Any]) -> tuple[list[str], Chunk]:
    """(header, one chunk) from JSON values already parsed (an API batch), as a JSON Lines file
    would give them: record numbers from 1, values as text, non-objects ``Malformed``."""
    header: list[str] = []
    good: list[tuple[int, dict[str, Any]]] = []
    bad: list[Malformed] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            bad.append(
                Malformed(number, json.dumps(record, default=str), "the item is not an object")
            )
            continue
        good.append((number, record))
        for key in record:
            if key not in header:
                header.append(key)
    frame = pd.DataFrame(
        {c: np.array([to_text(o.get(c)) for _, o in good], dtype=object) for c in header},
        columns=header,
        dtype=object,
    )
    numbers = np.array([n for n, _ in good], dtype=np.int64)
    return header, Chunk(frame=frame, rows=numbers, malformed=bad)


def read_chunks(
    path: Path,
    *,
    chunk_rows: int,
    file_format: str | None = None,
    encoding: str = "utf-8",
    progress: Callable[[int], None] | None = None,
) -> tuple[list[str], Iterator[Chunk]]:
    """Return (header, chunks) for any supported file; the format comes from the extension."""
    if not path.exists():
        raise InputFileError(str(path), "no such file")
    if path.is_dir():
        raise InputFileError(str(path), "is a directory, expected a file")
    kind = detect_format(path, file_format)
    if kind == "parquet":
        return read_parquet_chunks(path, chunk_rows=chunk_rows, progress=progress)
    if kind == "jsonl":
        return read_jsonl_chunks(path, chunk_rows=chunk_rows, encoding=encoding, progress=progress)
    delimiter = "\t" if kind == "tsv" else ","
    return read_csv_chunks(
        path, chunk_rows=chunk_rows, encoding=encoding, delimiter=delimiter, progress=progress
    )


def progress_total(path: Path) -> int:
    """The number the progress callback counts up to: bytes, or row groups for Parquet."""
    if detect_format(path) == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_row_groups)
    return path.stat().st_size


#: A cell a spreadsheet would read as a formula (OWASP, CSV injection): =, +, -, @, tab, CR.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text value as a spreadsheet shows it, never runs it: text starting with a formula
    character gets a leading ``'``. Numbers stay numbers (a negative revenue is not text)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)
    ]


def _formula_cells(column: pd.Series) -> pd.Series:
    """Which cells of a text column are strings that start with a formula character
    (vectorised: the per-cell check cost more than writing the CSV on a million rows)."""
    try:
        first = column.str[:1]
    except AttributeError:  # an object column holding no string at all
        return pd.Series(False, index=column.index)
    return first.isin(FORMULA_START).fillna(False).astype(bool)


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name made spreadsheet-safe; numeric columns
    as they are. Every CSV a person opens is written through this."""
    text = _text_columns(frame)
    named = [str(c).startswith(FORMULA_START) for c in frame.columns]
    if not text and not any(named):
        return frame
    out = frame.copy()
    for column in text:
        formula = _formula_cells(out[column])
        if formula.any():
            out[column] = out[column].where(~formula, "'" + out[column].where(formula, ""))
    out.columns = [spreadsheet_safe(str(c)) for c in frame.columns]
    return out


def csv_quoting(frame: pd.DataFrame) -> int:
    """How to quote ``frame``'s cells: as few as possible, but every text cell when one holds a
    carriage return (pandas' writer would leave such a cell bare and split the row)."""
    for column in _text_columns(frame):
        try:
            carriage = frame[column].str.contains("\r", regex=False)
        except AttributeError:  # no string in the column
            continue
        if carriage.fillna(False).astype(bool).any():
            return csv.QUOTE_NONNUMERIC
    return csv.QUOTE_MINIMAL


def spreadsheet_safe_row(row: Sequence[Any]) -> list[Any]:
    """A row for ``csv.writer`` with every text cell made spreadsheet-safe."""
    return [spreadsheet_safe(value) for value in row]


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV, Parquet or JSON Lines, chosen by the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = detect_format(path)
    if kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False, date_format="iso")
    else:
        safe = spreadsheet_safe_frame(frame)
        safe.to_csv(
            path, index=False, sep="\t" if kind == "tsv" else ",", quoting=csv_quoting(safe)
        )


class FrameWriter:
    """Writes frames to one CSV, Parquet or JSON Lines file, part by part (bulk jobs write a
    bucket at a time, so the whole result never sits in memory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kind = detect_format(path)
        self._parquet: Any = None
        self._started = False

    def __enter__(self) -> FrameWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (the same columns each time)."""
        if self.kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        elif self.kind == "jsonl":
            with open(self.path, "a" if self._started else "w", encoding="utf-8") as out:
                frame.to_json(
                    out, orient="records", lines=True, force_ascii=False, date_format="iso"
                )
        else:
            safe = spreadsheet_safe_frame(frame)
            safe.to_csv(
                self.path,
                quoting=csv_quoting(safe),
                index=False,
                sep="\t" if self.kind == "tsv" else ",",
                mode="a" if self._started else "w",
                header=not self._started,
            )
        self._started = True

    def __exit__(self, *exc: object) -> None:
        if self._parquet is not None:
            self._parquet.close()
