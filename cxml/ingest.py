"""Ingestion: contract + io + store. Validate every row, upsert idempotently, keep every reject.

A file is read in batches; each batch is one transaction (its accepted rows and
its rejects together), so a crash leaves the store consistent and a rerun
completes the file: rows already stored come back as ``unchanged``.

Counts always satisfy ``read == accepted + updated + unchanged + rejected``;
``held`` (feedback waiting for its customer) is part of ``rejected``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from cxml import contract
from cxml.errors import ConfigError, InputFileError
from cxml.io import Chunk, read_chunks, records_chunk, spreadsheet_safe_row
from cxml.settings import Settings
from cxml.store import Store, content_hash
from cxml.store import records as store_records

KINDS = ("customers", "feedback")
ERASED_VALUE = "(a customer erased on request)"  # what a refused row shows instead of the id
FEEDBACK_HASHED = (
    "customer_id",
    "created_at",
    "channel",
    "channel_original",
    "text",
    "nps",
    "csat",
    "ces",
    "language",
)


@dataclass
class IngestReport:
    """What one ingestion did. ``read == accepted + updated + unchanged + rejected``."""

    kind: str
    source: str
    run_id: int
    read: int = 0
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    held: int = 0
    released: int = 0
    seconds: float = 0.0
    rejects_file: str | None = None
    # (field, reason with its value left out) → rows refused for it; not part of ``to_dict``.
    reasons: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        out = asdict(self)
        del out["reasons"]
        return out

    @property
    def all_refused(self) -> bool:
        """Rows were read and every one was refused (not merely held for its customer)."""
        return self.read > 0 and self.rejected == self.read and self.held == 0

    def common_reasons(self, limit: int = 3) -> list[tuple[str, int]]:
        """The most common reasons rows were refused, each with its count, most common first."""
        return [(reason, count) for (_, reason), count in self.reasons.most_common(limit)]


@dataclass
class _Rejected:
    """Rows of one batch refused for a reason outside the contract's per-row checks."""

    rows: np.ndarray
    field: str
    values: list[str]
    reasons: list[str]


def load_mapping_file(path: Path) -> dict[str, str]:
    """Read a column mapping from YAML or JSON: ``{columns: {source: target}}`` or a flat dict."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the mapping file: {exc.strerror or exc}", code="CX105"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML or JSON: {exc}", code="CX105") from exc
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(
            f"{path}: expected a mapping of file column to contract column, "
            "e.g. `columns: {customerID: customer_id}`",
            code="CX105",
        )
    return dict(data)


class _RejectWriter:
    """Appends rejected rows to a CSV file: row, field, value, reason, then the raw columns
    (PII in values written in words redacted; ``cxml rejects --pii`` shows them as sent)."""

    def __init__(self, path: Path | None, header: list[str]) -> None:
        self.path = path
        self.header = header
        self.handle: IO[str] | None = None
        self.writer: Any = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(path, "w", encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
            self.writer = csv.writer(self.handle)
            self.writer.writerow(
                spreadsheet_safe_row(["row", "field", "value", "reason", *header, "_record"])
            )

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        if self.writer is None:
            return
        from cxml.text.redact import redacted_reject  # imports scikit-learn: only when needed

        for record in map(redacted_reject, records):
            raw = record["raw"]
            self.writer.writerow(
                spreadsheet_safe_row(
                    [
                        record["row"],
                        record["field"],
                        record["value"],
                        record["reason"],
                        *[raw.get(h) for h in self.header],
                        raw.get("_record"),
                    ]
                )
            )

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _escape(value: Any) -> Any:
    """A raw value safe for JSON and the database: undecodable bytes as \\x escapes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return value.replace("\x00", "\\x00")
    return value


def feedback_hash(frame: pd.DataFrame) -> np.ndarray:
    """The content hash of feedback rows: the contract fields, and the attributes where a row
    has any (a row without attributes hashes as it did before they were kept)."""
    base = content_hash(frame, FEEDBACK_HASHED)
    if "attributes" not in frame.columns:
        return base
    texts = [
        json.dumps(a, sort_keys=True, ensure_ascii=False, default=str)
        if isinstance(a, dict) and a
        else ""
        for a in frame["attributes"]
    ]
    has = np.array([t != "" for t in texts], dtype=bool)
    if not has.any():
        return base
    both = content_hash(pd.DataFrame({"base": base, "attributes": texts}), ["base", "attributes"])
    return np.where(has, both, base)


def row_ids(name: str, frame: pd.DataFrame, seen: Counter[str]) -> list[str]:
    """Stable feedback ids from each row's content and the file's name (``--id-from-row``).

    The same export ingested again gives the same ids (so its rows come back unchanged); the
    n-th repeat of an identical row gets its own id (two respondents may write the same
    thing), counted in ``seen`` across the batches of one file.
    """
    label = Path(name).name[:100] or "row"
    columns = [contract.strings(frame[c]).tolist() for c in frame.columns]
    out = []
    for parts in zip(*columns, strict=True) if columns else [()] * len(frame):
        content = "\x1f".join([label, *parts])
        seen[content] += 1
        if seen[content] > 1:
            content += f"\x1e{seen[content]}"
        digest = hashlib.sha256(content.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        out.append(f"{label}:{digest}")
    return out


def check_rows(
    kind: str,
    frame: pd.DataFrame,
    rows: np.ndarray,
    *,
    settings: Settings,
    now: datetime,
    as_of: datetime | None = None,
    date_format: str | None = None,
) -> contract.Validated:
    """Check rows of ``kind`` (contract column names) against the contract."""
    if kind == "feedback":
        return contract.validate_feedback(
            frame,
            rows,
            now=now,
            max_text_chars=settings.max_text_chars,
            future_tolerance_days=settings.future_tolerance_days,
            date_format=date_format,
        )
    return contract.validate_customers(frame, rows, now=now, as_of=as_of, date_format=date_format)


class Ingestion:
    """One file's ingestion into the store (use ``ingest_file``)."""

    def __init__(
        self,
        store: Store,
        kind: str,
        path: Path | None,
        *,
        settings: Settings,
        now: datetime,
        mapping: dict[str, str] | None = None,
        encoding: str = "utf-8",
        file_format: str | None = None,
        date_format: str | None = None,
        as_of: datetime | None = None,
        rejects_path: Path | None = None,
        progress: Callable[[int], None] | None = None,
        on_batch: Callable[[IngestReport], None] | None = None,
        records: list[Any] | None = None,
        source: str | None = None,
        checked: tuple[list[str], Chunk, contract.Validated] | None = None,
        connection: Connection | None = None,
        id_from_row: bool = False,
        created_at: datetime | None = None,
        anonymous: bool = False,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
        self.store = store
        self.kind = kind
        self.path = path
        self.settings = settings
        self.now = now
        self.mapping = mapping or {}
        self.encoding = encoding
        self.file_format = file_format
        self.date_format = date_format
        self.as_of = as_of
        self.rejects_path = rejects_path
        self.progress = progress
        self.on_batch = on_batch
        self.records = records
        self.checked = checked  # records already read and validated (``ingest_record_batches``)
        # The caller's transaction, which everything this ingestion writes joins (records only).
        self.connection = connection
        self.id_from_row = id_from_row  # feedback_id from each row's content and the file's name
        self.created_at = created_at  # the survey's date, for rows (or files) without one
        # Rows without a customer are each their own anonymous respondent (survey exports).
        self.anonymous = anonymous
        self.row_ids_seen: Counter[str] = Counter()
        self.source = source or str(Path(path or "").resolve())
        self.seen: dict[str, int] = {}
        self.erased_rows: set[int] = set()  # rows of customers erased on request
        self.run_id = 0
        self.statuses: dict[int, str] = {}  # record number → accepted / updated / unchanged
        self.refused: dict[int, dict[str, Any]] = {}  # records only: record number → reject

    def run(self) -> IngestReport:
        started = time.perf_counter()
        chunks: Iterable[Chunk]
        if self.records is not None:
            header, chunk = self.checked[:2] if self.checked else records_chunk(self.records)
            chunks = [chunk]
        else:
            assert self.path is not None
            header, chunks = read_chunks(
                self.path,
                chunk_rows=self.settings.ingest_batch_rows,
                file_format=self.file_format,
                encoding=self.encoding,
                progress=self.progress,
            )
        renamed = contract.apply_mapping(header, self.mapping, source=self.source)
        if self.kind == "feedback" and self.id_from_row and "feedback_id" in renamed.values():
            raise ConfigError(
                f"{self.source}: --id-from-row derives feedback_id, but the file already has one "
                "(or a column mapped to it); drop one of the two"
            )
        derived = [
            *(["feedback_id"] if self.kind == "feedback" and self.id_from_row else []),
            *(["created_at"] if self.kind == "feedback" and self.created_at else []),
            *(["customer_id"] if self.kind == "feedback" and self.anonymous else []),
        ]
        missing = contract.missing_required([*renamed.values(), *derived], self.kind)
        if missing and self.records is not None:  # an API batch: name the field, not a file
            raise ConfigError(
                f"required field(s) {', '.join(missing)} missing for {self.kind}; the items have: "
                f"{', '.join(header) or 'no fields'}",
                field=missing[0],
            )
        if missing:
            chunks = iter(chunks)
            first = next(chunks, None)
            if hasattr(chunks, "close"):  # the reader's file is not read further: close it now
                chunks.close()
            sample = first.frame if first is not None else pd.DataFrame(columns=header)
            unmapped = [c for c in header if renamed[c] == c and c not in contract.FEEDBACK_COLUMNS]
            hints = contract.mapping_hints(
                sample[unmapped] if self.kind == "feedback" else sample,
                missing,
                date_format=self.date_format,
            )
            raise InputFileError(
                self.source,
                f"required column(s) {', '.join(missing)} missing for {self.kind}; the file has: "
                f"{', '.join(header)}. {hints}",
            )
        if self.kind == "customers" and "feedback_id" in renamed.values():
            raise InputFileError(
                self.source,
                "has a feedback_id column: this looks like a feedback file; "
                "load it with `cxml ingest feedback`",
            )
        if self.records is not None:
            # An API batch is small: its run, rows, rejects and the run's end are written in
            # one transaction (on SQLite one turn of the write lock, not four).
            with self.store.joined(self.connection) as connection:
                return self._run(header, renamed, chunks, started, connection)
        return self._run(header, renamed, chunks, started, None)

    def _run(
        self,
        header: list[str],
        renamed: dict[str, str],
        chunks: Iterable[Chunk],
        started: float,
        connection: Connection | None,
    ) -> IngestReport:
        """The run's writes: each batch its own transaction, or all in ``connection``'s."""
        store = self.store
        run_id = store_records.start_run(
            store, self.kind, self.source, self.now, connection=connection
        )
        self.run_id = run_id
        store_records.clear_rejects(store, self.kind, self.source, connection=connection)
        report = IngestReport(kind=self.kind, source=self.source, run_id=run_id)
        writer = _RejectWriter(self.rejects_path, header)
        report.rejects_file = str(self.rejects_path) if self.rejects_path else None
        try:
            for chunk in chunks:
                validated = self.checked[2] if self.checked else self._validate(chunk, renamed)
                self._batch(chunk, validated, report, writer, connection)
                if self.on_batch is not None:
                    self.on_batch(report)
            if self.kind == "customers":
                report.released = release_held_feedback(store, now=self.now, connection=connection)
        except BaseException:
            report.seconds = round(time.perf_counter() - started, 3)
            # Best effort: when the store itself failed (down, disk full) the run cannot be
            # marked either, and the original error is the one the user must see. In one
            # transaction the run's start is rolled back with the rest: nothing to mark.
            if connection is None:
                with contextlib.suppress(SQLAlchemyError):
                    store_records.finish_run(
                        store, run_id, status="failed", counts=report.to_dict(), now=self.now
                    )
            raise
        finally:
            writer.close()
        report.seconds = round(time.perf_counter() - started, 3)
        store_records.finish_run(
            store,
            run_id,
            status="completed",
            counts=report.to_dict(),
            now=self.now,
            connection=connection,
        )
        return report

    # --- one batch -------------------------------------------------------------------

    def _validate(self, chunk: Chunk, renamed: dict[str, str]) -> contract.Validated:
        """Check one chunk against the contract."""
        frame = chunk.frame.rename(columns=renamed)
        if self.kind == "feedback" and self.created_at is not None:
            day = pd.Timestamp(self.created_at).isoformat()
            if "created_at" in frame.columns:  # the file's own dates win; blanks take the survey's
                frame["created_at"] = frame["created_at"].where(
                    ~contract.blank(frame["created_at"]), day
                )
            else:
                frame["created_at"] = day
        if self.kind == "feedback" and self.id_from_row:
            frame.insert(0, "feedback_id", row_ids(self.source, chunk.frame, self.row_ids_seen))
        if self.kind == "feedback" and self.anonymous:
            frame = _anonymous_respondents(frame)
        return check_rows(
            self.kind,
            frame,
            chunk.rows,
            settings=self.settings,
            now=self.now,
            as_of=self.as_of,
            date_format=self.date_format,
        )

    def _batch(
        self,
        chunk: Chunk,
        validated: contract.Validated,
        report: IngestReport,
        writer: _RejectWriter,
        connection: Connection | None = None,
    ) -> None:
        """Store one validated chunk and its rejects in one transaction (or ``connection``'s)."""
        valid, duplicates = self._split_duplicates(validated.valid)
        extra: list[_Rejected] = [duplicates] if duplicates.rows.size else []
        if self.kind == "feedback" and not valid.empty and "content_hash" not in valid:
            valid = valid.assign(content_hash=feedback_hash(valid))  # unlocked
        redacting = self.kind == "feedback" and self.settings.store_text == "redacted"
        if redacting and not valid.empty:  # hashed as sent: the same file again is unchanged
            from cxml.text.redact import redacted

            valid = valid.assign(text=redacted(valid["text"].tolist()))
        with self.store.joined(connection) as connection:
            valid, erased = self._split_erased(connection, valid)
            if erased.rows.size:
                extra.append(erased)
            if self.kind == "feedback":
                statuses, more, held = self._write_feedback(connection, valid)
            else:
                statuses, more, held = self._write_customers(connection, valid)
            extra.extend(more)
            records = self._reject_records(chunk, validated, extra, held)
            if redacting:
                from cxml.text.redact import redacted_reject

                records = [redacted_reject(r) for r in records]
            store_records.write_rejects(connection, records)
        writer.write(records)
        if self.records is not None:  # an API batch answers item by item (small by limit)
            self.refused.update((int(r["row"]), r) for r in records)
        report.read += chunk.read
        report.accepted += int((statuses == "accepted").sum())
        report.updated += int((statuses == "updated").sum())
        report.unchanged += int((statuses == "unchanged").sum())
        report.rejected += len(records)
        report.held += sum(1 for r in records if r["held"])
        for record in records:
            if not record["held"]:
                first = record["errors"][0]
                value = str(first["value"])
                reason = first["reason"].replace(value, "…") if value else first["reason"]
                report.reasons[(first["field"], reason)] += 1

    def _split_erased(
        self, connection: Connection, valid: pd.DataFrame
    ) -> tuple[pd.DataFrame, _Rejected]:
        """Refuse the rows of customers erased on request (privacy): an old file must not
        bring them back. What is kept of a refused row is its number and the reason: nothing
        of what it holds (``_reject_records`` drops it)."""
        from cxml.store.privacy import suppressed

        none = _Rejected(rows=np.array([], dtype=int), field="customer_id", values=[], reasons=[])
        if valid.empty:
            return valid, none
        erased = suppressed(
            connection,
            valid["customer_id"].astype(str).unique().tolist(),
            now=self.now,
            key=self.settings.privacy_key,
        )
        if not erased:
            return valid, none
        gone = valid["customer_id"].astype(str).isin(erased).to_numpy()
        rows = valid["row"].to_numpy()[gone]
        self.erased_rows.update(int(r) for r in rows)
        reason = (
            "this customer was erased on request and is not loaded again (to take them back "
            "on purpose: `cxml erase --allow-back --customer ID`)"
        )
        rejected = _Rejected(
            rows=rows,
            field="customer_id",
            values=[ERASED_VALUE] * len(rows),
            reasons=[reason] * len(rows),
        )
        return valid.loc[~gone].reset_index(drop=True), rejected

    def _split_duplicates(self, valid: pd.DataFrame) -> tuple[pd.DataFrame, _Rejected]:
        """Refuse a second row with an id seen earlier in this file (the first one wins)."""
        key = "feedback_id" if self.kind == "feedback" else "customer_id"
        ids = valid[key]
        rows = valid["row"].to_numpy()
        # A plain dict lookup per id: Series.map(dict) would copy the whole dict every batch.
        seen = self.seen
        first_row = np.array([seen.get(i) for i in ids.tolist()], dtype=object)
        in_batch = ids.duplicated(keep="first").to_numpy()
        earlier = np.array([r is not None for r in first_row], dtype=bool)
        duplicate = in_batch | earlier
        if in_batch.any():
            first_in_batch = valid.groupby(key, sort=False)["row"].transform("first").to_numpy()
            first_row = np.where(earlier, first_row, first_in_batch)
        kept = valid.loc[~duplicate]
        self.seen.update(zip(kept[key].tolist(), kept["row"].tolist(), strict=True))
        positions = np.flatnonzero(duplicate)
        rejected = _Rejected(
            rows=rows[positions],
            field=key,
            values=[contract.show_value(ids.iat[p]) for p in positions],
            reasons=[
                f"{key}={contract.show_value(ids.iat[p])} repeats row {int(first_row[p])} "
                "of this file (the first is kept)"
                for p in positions
            ],
        )
        return kept.reset_index(drop=True), rejected

    def _write_feedback(
        self, connection: Connection, valid: pd.DataFrame
    ) -> tuple[np.ndarray, list[_Rejected], dict[int, dict[str, Any]]]:
        if valid.empty:
            return np.array([], dtype=object), [], {}
        if self.anonymous:
            self._write_anonymous_respondents(connection, valid)
        unknown, existing = store_records.write_feedback(
            connection, valid, source=self.source, now=self.now
        )
        is_unknown = valid["customer_id"].isin(unknown).to_numpy()
        statuses = row_statuses(valid["feedback_id"], valid["content_hash"], existing)
        self.statuses.update(
            zip(
                valid["row"].to_numpy()[~is_unknown].tolist(),
                statuses[~is_unknown].tolist(),
                strict=True,
            )
        )
        held: dict[int, dict[str, Any]] = {}
        for position in np.flatnonzero(is_unknown):
            row = valid.iloc[position]
            held[int(row["row"])] = _normalized_feedback(row)
        return statuses[~is_unknown], [], held

    def _write_anonymous_respondents(self, connection: Connection, valid: pd.DataFrame) -> None:
        """Store the anonymous respondents of ``valid`` not stored yet: one customer per
        response, signed up the day of its answer, with no value and no attributes."""
        answers = valid.loc[contract.is_anonymous(valid["customer_id"])]
        answers = answers.drop_duplicates("customer_id")
        if answers.empty:
            return
        stored = store_records.existing_customers(connection, answers["customer_id"].tolist())
        new = answers.loc[~answers["customer_id"].isin(stored["customer_id"])]
        if new.empty:
            return
        respondents = pd.DataFrame(
            {
                "customer_id": new["customer_id"].to_numpy(),
                "signup_date": pd.to_datetime(new["created_at"]).dt.normalize().to_numpy(),
                "churn_date": pd.Series(pd.NaT, index=range(len(new)), dtype="datetime64[us]"),
                "monthly_value": np.nan,
                "attributes": [{} for _ in range(len(new))],
            }
        )
        respondents["content_hash"] = customer_hash(respondents)
        store_records.write_customers(connection, respondents, source=self.source, now=self.now)

    def _write_customers(
        self, connection: Connection, valid: pd.DataFrame
    ) -> tuple[np.ndarray, list[_Rejected], dict[int, dict[str, Any]]]:
        if valid.empty:
            return np.array([], dtype=object), [], {}
        present = set(valid.attrs.get("present", []))
        existing = store_records.existing_customers(connection, valid["customer_id"].tolist())
        merged = merge_customers(valid, existing, present)
        no_signup = merged["signup_date"].isna().to_numpy()
        bad_order = (merged["churn_date"] < merged["signup_date"]).to_numpy()
        refused: list[_Rejected] = []
        if no_signup.any():
            positions = np.flatnonzero(no_signup)
            refused.append(
                _Rejected(
                    rows=merged["row"].to_numpy()[positions],
                    field="signup_date",
                    values=["" for _ in positions],
                    reasons=[
                        "signup_date is required for a customer not yet in the store "
                        "(or map a tenure column to tenure_months)"
                    ]
                    * len(positions),
                )
            )
        if bad_order.any():
            positions = np.flatnonzero(bad_order & ~no_signup)
            refused.append(
                _Rejected(
                    rows=merged["row"].to_numpy()[positions],
                    field="churn_date",
                    values=[str(merged["churn_date"].iat[p].date()) for p in positions],
                    reasons=[
                        f"churn_date={merged['churn_date'].iat[p].date()} is before the stored "
                        f"signup_date={merged['signup_date'].iat[p].date()}"
                        for p in positions
                    ],
                )
            )
        merged = merged.loc[~(no_signup | bad_order)].reset_index(drop=True)
        merged["content_hash"] = customer_hash(merged)
        stored = dict(zip(existing["customer_id"], existing["content_hash"], strict=True))
        statuses = row_statuses(merged["customer_id"], merged["content_hash"], stored)
        self.statuses.update(zip(merged["row"].tolist(), statuses.tolist(), strict=True))
        to_write = merged.loc[statuses != "unchanged"]
        if not to_write.empty:
            store_records.write_customers(connection, to_write, source=self.source, now=self.now)
        return statuses, refused, {}

    def _reject_records(
        self,
        chunk: Chunk,
        validated: contract.Validated,
        extra: list[_Rejected],
        held: dict[int, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        errors_by_row: dict[int, list[dict[str, str]]] = {}
        for m in chunk.malformed:
            errors_by_row.setdefault(m.row, []).append(
                {"field": "", "value": "", "reason": m.reason}
            )
        for row, field, value, reason in validated.errors.itertuples(index=False, name=None):
            errors_by_row.setdefault(int(row), []).append(
                {"field": field, "value": value, "reason": reason}
            )
        for rejected in extra:
            for row, value, reason in zip(
                rejected.rows, rejected.values, rejected.reasons, strict=True
            ):
                errors_by_row.setdefault(int(row), []).append(
                    {"field": rejected.field, "value": value, "reason": reason}
                )
        for row, normalized in held.items():
            errors_by_row.setdefault(row, []).append(
                {
                    "field": "customer_id",
                    "value": normalized["customer_id"],
                    "reason": f"customer_id={normalized['customer_id']} is not in the store; "
                    "held until that customer is ingested",
                }
            )
        raw_by_row = _raw_rows(chunk, errors_by_row)
        for row in self.erased_rows & set(raw_by_row):  # nothing of an erased customer is kept
            raw_by_row[row] = {}
            errors_by_row[row] = [e for e in errors_by_row[row] if e["value"] == ERASED_VALUE]
        records = []
        for row in sorted(errors_by_row):
            errors = errors_by_row[row]
            is_held = row in held and len(errors) == 1
            records.append(
                {
                    "run_id": self.run_id,
                    "kind": self.kind,
                    "source": self.source,
                    "row": row,
                    "field": errors[0]["field"],
                    "value": errors[0]["value"],
                    "reason": "; ".join(e["reason"] for e in errors),
                    "errors": errors,
                    "raw": raw_by_row[row],
                    "held": is_held,
                    "customer_id": held[row]["customer_id"] if is_held else None,
                    "normalized": held[row] if is_held else None,
                    "created_at": self.now,
                }
            )
        return records


def _anonymous_respondents(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each row that names no customer given its own anonymous respondent,
    derived from its feedback_id (so the same answer ingested again has the same one)."""
    ids = contract.strings(frame["feedback_id"]) if "feedback_id" in frame else None
    if ids is None:
        return frame
    anonymous = (contract.ANONYMOUS_PREFIX + ids).where(ids != "", "")
    frame = frame.copy()
    if "customer_id" in frame.columns:  # the file's customers win; blanks are anonymous
        named = ~contract.blank(frame["customer_id"])
        frame["customer_id"] = contract.strings(frame["customer_id"]).where(named, anonymous)
    else:
        frame.insert(1, "customer_id", anonymous.to_numpy())
    return frame


def _raw_rows(chunk: Chunk, rows: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The original values of ``rows`` (record numbers) of a chunk, escaped for storage."""
    wanted = set(rows)
    out: dict[int, dict[str, Any]] = {
        m.row: {"_record": _escape(m.raw)} for m in chunk.malformed if m.row in wanted
    }
    positions = np.flatnonzero(np.isin(chunk.rows, np.fromiter(wanted, dtype=np.int64)))
    if positions.size:
        subset = chunk.frame.iloc[positions]
        records = subset.to_dict(orient="records")
        for row, record in zip(chunk.rows[positions].tolist(), records, strict=True):
            out[int(row)] = {str(k): _escape(v) for k, v in record.items()}
    return out


def row_statuses(ids: pd.Series, hashes: pd.Series, stored: dict[str, int]) -> np.ndarray:
    """'accepted' (new id), 'unchanged' (same hash as stored) or 'updated', per row."""
    known = {key: int(value) for key, value in stored.items()}
    out = []
    for key, digest in zip(ids.tolist(), hashes.to_numpy(dtype=np.int64).tolist(), strict=True):
        before = known.get(key)
        out.append("accepted" if before is None else "unchanged" if before == digest else "updated")
    return np.array(out, dtype=object)


def _normalized_feedback(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in (*contract.FEEDBACK_COLUMNS, "channel_original"):
        value = row[column]
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            out[column] = None
        elif column == "created_at":
            out[column] = pd.Timestamp(value).isoformat()
        elif column in contract.SCORE_RANGES:
            out[column] = int(value)
        else:
            out[column] = str(value)
    attributes = row.get("attributes")
    if isinstance(attributes, dict) and attributes:
        out["attributes"] = attributes
    return out


def feedback_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Normalised feedback dicts (as held in the rejects table) back to a typed frame."""
    frame = pd.DataFrame(
        records, columns=[*contract.FEEDBACK_COLUMNS, "channel_original", "attributes"]
    )
    frame["attributes"] = [a if isinstance(a, dict) else {} for a in frame["attributes"]]
    frame["created_at"] = pd.to_datetime(frame["created_at"]).astype("datetime64[us]")
    for score in contract.SCORE_RANGES:
        frame[score] = pd.array(frame[score].tolist(), dtype="Int16")
    for column in ("feedback_id", "customer_id", "channel", "channel_original", "text", "language"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def merge_customers(valid: pd.DataFrame, existing: pd.DataFrame, present: set[str]) -> pd.DataFrame:
    """Customer rows as they will be stored: the file's columns over the stored ones.

    A contract column the file lacks keeps its stored value; attributes merge key
    by key (the file's keys win). New customers take the file's values as they are.
    """
    merged = valid.reset_index(drop=True)  # row by row with ``stored`` below, whatever the index
    if existing.empty:
        return merged
    stored = merged[["customer_id"]].merge(existing, on="customer_id", how="left")
    found = stored["content_hash"].notna().to_numpy()
    for column in ("signup_date", "churn_date", "monthly_value"):
        if column not in present:
            merged[column] = merged[column].where(~found, stored[column])
    merged["attributes"] = [
        {**old, **new} if isinstance(old, dict) else new
        for old, new in zip(stored["attributes"], merged["attributes"], strict=True)
    ]
    return merged


def customer_hash(frame: pd.DataFrame) -> np.ndarray:
    """A content hash of stored customer fields (attributes by sorted key)."""
    canonical = pd.DataFrame(
        {
            "signup_date": frame["signup_date"],
            "churn_date": frame["churn_date"],
            "monthly_value": frame["monthly_value"],
            "attributes": [json.dumps(a, sort_keys=True, default=str) for a in frame["attributes"]],
        }
    )
    return content_hash(canonical, list(canonical.columns))


def release_held_feedback(
    store: Store, *, now: datetime, connection: Connection | None = None
) -> int:
    """Store held feedback whose customer has arrived; returns how many rows were released.

    A held row whose feedback_id was stored meanwhile (a later ingest) is dropped
    from the holding list: the newer write wins. Written in ``connection``'s transaction
    when given.
    """
    released = 0
    with store.joined(connection) as connection:
        held = store_records.held_feedback(connection)
        if not held:
            return 0
        by_source: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for reject_id, normalized, source in held:
            by_source.setdefault(source, []).append((reject_id, normalized))
        for source, items in by_source.items():
            frame = feedback_frame([n for _, n in items])
            frame["content_hash"] = feedback_hash(frame)
            _, existing = store_records.write_feedback(
                connection, frame, source=source, now=now, only_new=True
            )
            released += int((~frame["feedback_id"].isin(existing.keys())).sum())
        store_records.delete_rejects(connection, [reject_id for reject_id, _, _ in held])
    return released


def ingest_file(
    store: Store,
    kind: str,
    path: Path | str,
    *,
    settings: Settings,
    now: datetime,
    mapping: dict[str, str] | None = None,
    encoding: str = "utf-8",
    file_format: str | None = None,
    date_format: str | None = None,
    as_of: datetime | None = None,
    rejects_path: Path | str | None = None,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[IngestReport], None] | None = None,
    id_from_row: bool = False,
    created_at: datetime | None = None,
    anonymous: bool = False,
) -> IngestReport:
    """Ingest one file of ``kind`` ('customers' or 'feedback') and return what happened.

    ``now`` is the ingest's notion of the present (feedback dated after it is
    refused); ``as_of`` is the date a ``tenure_months`` column counts back from
    (default: ``now``). A file that cannot be read, or lacks a required column,
    raises InputFileError before anything is written.

    Feedback only: ``id_from_row`` derives each row's feedback_id from its content and the
    file's name (a survey export without response ids: ingesting it again changes nothing);
    ``created_at`` is the survey's date for a file without dates (or for its blank ones);
    ``anonymous`` makes each row without a customer its own anonymous respondent (counted in
    NPS and themes, never scored or listed at risk).
    """
    return Ingestion(
        store,
        kind,
        Path(path),
        settings=settings,
        now=now,
        mapping=mapping,
        encoding=encoding,
        file_format=file_format,
        date_format=date_format,
        as_of=as_of,
        rejects_path=Path(rejects_path) if rejects_path is not None else None,
        progress=progress,
        on_batch=on_batch,
        id_from_row=id_from_row,
        created_at=created_at,
        anonymous=anonymous,
    ).run()


def ingest_records(
    store: Store,
    kind: str,
    records: list[Any],
    *,
    settings: Settings,
    now: datetime,
    source: str,
) -> tuple[IngestReport, list[dict[str, Any]]]:
    """Ingest a batch of JSON objects (an API request) under the file contract.

    ``source`` names the batch: sending the same batch again (same ``source``) changes nothing
    and replaces its earlier rejects, like a file. Returns the report and one result per item,
    in order: ``status`` accepted / updated / unchanged / held / rejected, and for the last two
    the ``errors`` (field, value, reason).
    """
    ingestion = Ingestion(
        store, kind, None, settings=settings, now=now, records=records, source=source
    )
    return _answered(ingestion, kind, records)


def ingest_record_batches(
    store: Store,
    kind: str,
    batches: list[tuple[list[Any], str]],
    *,
    settings: Settings,
    now: datetime,
) -> list[tuple[IngestReport, list[dict[str, Any]]] | Exception]:
    """Several API batches (records, source) at once, each answered as ``ingest_records``
    answers it alone, or with the error that stopped it (the others go on).

    The contract checks one record at a time, so the records of batches with the same fields
    are checked in one call (its cost is mostly fixed per call) and every record gets the
    verdict it would get alone; each batch is then stored as its own run under its own
    source, in order, all in one transaction (on SQLite, one turn of the write lock for the
    lot). Should that transaction fail, it is rolled back and each batch is tried again in its
    own, so that one batch's failure is its answer alone.
    """
    read = [records_chunk(records) for records, _ in batches]
    done: list[tuple[list[str], Chunk, contract.Validated] | None] = [None] * len(batches)
    shapes: dict[tuple[str, ...], list[int]] = {}
    for index, (header, _) in enumerate(read):
        if not contract.missing_required(header, kind):  # else refused whole, alone, below
            shapes.setdefault(tuple(sorted(header)), []).append(index)
    for members in shapes.values():
        offsets = np.cumsum([0] + [len(batches[i][0]) for i in members])
        frame = pd.concat([read[i][1].frame for i in members], ignore_index=True)
        rows = np.concatenate(
            [read[i][1].rows + offset for i, offset in zip(members, offsets, strict=False)]
        )
        whole = check_rows(kind, frame, rows, settings=settings, now=now)
        if kind == "feedback" and not whole.valid.empty:  # hashed once, outside the write lock
            whole.valid["content_hash"] = feedback_hash(whole.valid)
        for i, low, high in zip(members, offsets[:-1], offsets[1:], strict=True):
            done[i] = (read[i][0], read[i][1], _rows_of(whole, int(low), int(high)))

    def ingestion(index: int, connection: Connection | None) -> Ingestion:
        records, source = batches[index]
        return Ingestion(
            store,
            kind,
            None,
            settings=settings,
            now=now,
            records=records,
            source=source,
            checked=done[index],
            connection=connection,
        )

    answers: list[tuple[IngestReport, list[dict[str, Any]]] | Exception] = []
    try:  # all in one transaction: one turn of SQLite's write lock for the lot
        with store.begin() as connection:
            for index, (records, _) in enumerate(batches):
                try:
                    answers.append(_answered(ingestion(index, connection), kind, records))
                except (InputFileError, ConfigError) as error:  # refused whole before writing
                    answers.append(error)
        return answers
    except Exception:  # a batch failed (store down, disk full): all rolled back, and each
        answers = []  # batch is tried again alone, to be answered as it would be alone
    for index, (records, _) in enumerate(batches):
        try:
            answers.append(_answered(ingestion(index, None), kind, records))
        except Exception as error:  # this batch's own failure (store down, disk full), its answer
            answers.append(error)
    return answers


def _rows_of(whole: contract.Validated, low: int, high: int) -> contract.Validated:
    """The records numbered low+1 … high of a validation, renumbered from 1."""
    valid = whole.valid[(whole.valid["row"] > low) & (whole.valid["row"] <= high)].copy()
    valid["row"] -= low
    valid.attrs = dict(whole.valid.attrs)
    errors = whole.errors[(whole.errors["row"] > low) & (whole.errors["row"] <= high)].copy()
    errors["row"] -= low
    rejected = whole.rejected_rows[(whole.rejected_rows > low) & (whole.rejected_rows <= high)]
    return contract.Validated(
        valid=valid.reset_index(drop=True),
        errors=errors.reset_index(drop=True),
        rejected_rows=rejected - low,
    )


def _answered(
    ingestion: Ingestion, kind: str, records: list[Any]
) -> tuple[IngestReport, list[dict[str, Any]]]:
    report = ingestion.run()
    rejected = ingestion.refused
    from cxml.text.redact import redacted_errors

    key = "feedback_id" if kind == "feedback" else "customer_id"
    items = []
    for number, record in enumerate(records, start=1):
        identifier = record.get(key) if isinstance(record, dict) else None
        if identifier is not None and not isinstance(identifier, str):
            identifier = json.dumps(identifier, default=str)  # ids answer as text: 5 → "5"
        if number in rejected:
            found = rejected[number]
            errors = found["errors"]
            items.append(
                {
                    key: identifier,
                    "status": "held" if found["held"] else "rejected",
                    "errors": redacted_errors(errors),
                }
            )
        else:
            items.append({key: identifier, "status": ingestion.statuses.get(number, "unchanged")})
    return report, items
