"""The data contract: column specs, channel names, column mapping and row validation.

Pure: frames in, frames out, no I/O. Every check is vectorised over a batch;
Python-level loops run only over the rows that fail, to word their reasons.

Row numbers are 1-based data records, header not counted (record 1 is the
first row under the header, whatever embedded newlines the file holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeAlias

import numpy as np
import pandas as pd

from cxml.errors import ConfigError

#: The instant a read, a feature or a score is "as of": a tz-naive pandas Timestamp, in UTC
#: like every time the store holds. Made by ``parse_as_of`` at the edges (the CLI's options,
#: a route's clock, a job's request); everything below takes it as it is and parses nothing.
AsOf: TypeAlias = pd.Timestamp


def parse_as_of(
    value: date | datetime | str | None,
    *,
    now: datetime | None = None,
    field: str = "as_of",
) -> AsOf:
    """``value`` as an ``AsOf``: a date is its midnight, ISO text is read as
    ``datetime.fromisoformat`` reads it, None is ``now`` (or the clock's UTC instant when no
    ``now`` is given). A time zone is dropped keeping the wall time, as ingestion's ``as_of``
    always did. Not rounded to a day: callers that mean a day call ``.normalize()``.

    Raises:
        ConfigError: text that is not an ISO date, named by ``field`` (e.g. ``--as-of``).
    """
    if value is None:
        value = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(
                f"{field}={value!r} is not an ISO date (expected YYYY-MM-DD)",
                field=field,
                value=value,
            ) from None
    instant = pd.Timestamp(value)
    return instant.tz_localize(None) if instant.tzinfo is not None else instant


CHANNELS: tuple[str, ...] = (
    "email",
    "chat",
    "phone",
    "survey",
    "social",
    "review",
    "app_review",
    "sms",
    "line",
    "whatsapp",
    "web",
    "other",
)

# Common ways people write the channels; keys are lower-cased, with spaces, dashes
# and underscores folded to single spaces.
_CHANNEL_SYNONYMS: dict[str, str] = {
    "e mail": "email",
    "mail": "email",
    "emails": "email",
    "live chat": "chat",
    "livechat": "chat",
    "webchat": "chat",
    "web chat": "chat",
    "messenger": "chat",
    "chatbot": "chat",
    "call": "phone",
    "calls": "phone",
    "call note": "phone",
    "call notes": "phone",
    "call center": "phone",
    "call centre": "phone",
    "telephone": "phone",
    "voice": "phone",
    "tel": "phone",
    "nps": "survey",
    "nps survey": "survey",
    "csat": "survey",
    "csat survey": "survey",
    "ces survey": "survey",
    "questionnaire": "survey",
    "surveys": "survey",
    "social media": "social",
    "twitter": "social",
    "x": "social",
    "facebook": "social",
    "instagram": "social",
    "tiktok": "social",
    "reviews": "review",
    "product review": "review",
    "google review": "review",
    "trustpilot": "review",
    "app review": "app_review",
    "app reviews": "app_review",
    "app store": "app_review",
    "appstore": "app_review",
    "play store": "app_review",
    "google play": "app_review",
    "text": "sms",
    "text message": "sms",
    "texts": "sms",
    "line app": "line",
    "whats app": "whatsapp",
    "wa": "whatsapp",
    "website": "web",
    "web form": "web",
    "webform": "web",
    "contact form": "web",
    "online": "web",
}

_LANGUAGE_NAMES: dict[str, str] = {
    "english": "en",
    "eng": "en",
    "japanese": "ja",
    "jpn": "ja",
    "jp": "ja",
    "日本語": "ja",
    "英語": "en",
}

FEEDBACK_REQUIRED: tuple[str, ...] = ("feedback_id", "customer_id", "created_at")
FEEDBACK_COLUMNS: tuple[str, ...] = (
    "feedback_id",
    "customer_id",
    "created_at",
    "channel",
    "text",
    "nps",
    "csat",
    "ces",
    "language",
)
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

# A survey answered without naming anyone (``--anonymous``): each such response has its own
# respondent, stored as a customer whose id starts with this prefix. They count in NPS and
# themes, but are never scored, listed at risk or trained on as customers.
ANONYMOUS_PREFIX = "anonymous:"

CUSTOMER_REQUIRED: tuple[str, ...] = ("customer_id",)
CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id", "signup_date", "churn_date", "monthly_value")
# Not stored as such: a tenure in months becomes signup_date = as_of - tenure.
CUSTOMER_DERIVED: tuple[str, ...] = ("tenure_months",)

MAX_ID_CHARS = 255
EARLIEST = pd.Timestamp("1900-01-01")  # dates before this are typing errors, not history
MAX_TENURE_MONTHS = 1200  # a hundred years
# A month's revenue from one customer above this is a unit or typing error; the bound also keeps
# every amount cxml derives from it (× probability × months) a finite float.
MAX_MONTHLY_VALUE = 1e12
_VALUE_SHOWN_CHARS = 60
_NUMBER_RE = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
_LANGUAGE_RE = r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*"
_BAD_BYTES_RE = "[\udc80-\udcff]"  # what surrogateescape leaves for undecodable bytes


@dataclass
class Validated:
    """One validated batch.

    ``valid`` holds the normalised rows that passed, with their record number in
    ``row``; ``errors`` has one line per failed check (``row``, ``field``,
    ``value``, ``reason``); ``rejected_rows`` are the record numbers of rows with
    at least one error, in file order.
    """

    valid: pd.DataFrame
    errors: pd.DataFrame
    rejected_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


class _Checks:
    """Collects failed checks of one batch: (position, field, value, reason)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.positions: list[int] = []
        self.fields: list[str] = []
        self.values: list[str] = []
        self.reasons: list[str] = []
        self.bad = np.zeros(len(frame), dtype=bool)
        self._field_bad: dict[str, np.ndarray] = {}

    def fail(self, mask: np.ndarray | pd.Series, column: str, reason: str) -> None:
        """Record ``reason`` for every row in ``mask``; ``{v}`` in reason is the shown value."""
        mask_array = np.asarray(mask, dtype=bool) & ~self.bad_in(column)
        positions = np.flatnonzero(mask_array)
        if positions.size == 0:
            return
        raw = self.frame[column] if column in self.frame.columns else None
        for position in positions:
            value = "" if raw is None else show_value(raw.iat[position])
            self.positions.append(int(position))
            self.fields.append(column)
            self.values.append(value)
            self.reasons.append(reason.format(v=value, field=column))
        self.bad[positions] = True
        self._field_bad.setdefault(column, np.zeros(len(self.frame), dtype=bool))[positions] = True

    def bad_in(self, column: str) -> np.ndarray:
        """Rows that already failed a check on ``column`` (one reason per field is enough)."""
        return self._field_bad.get(column, np.zeros(len(self.frame), dtype=bool))

    def errors(self, rows: np.ndarray) -> pd.DataFrame:
        """The collected failures as a frame, in row then check order."""
        frame = pd.DataFrame(
            {
                "position": np.asarray(self.positions, dtype=np.int64),
                "field": pd.Series(self.fields, dtype=object),
                "value": pd.Series(self.values, dtype=object),
                "reason": pd.Series(self.reasons, dtype=object),
            }
        )
        frame = frame.sort_values("position", kind="stable")
        frame.insert(0, "row", rows[frame["position"].to_numpy()])
        return frame.drop(columns="position").reset_index(drop=True)


def show_value(value: object) -> str:
    """A value as shown in a reason: undecodable bytes escaped, long text cut."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value)
    if re.search(_BAD_BYTES_RE, text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = text.replace("\x00", "\\x00")
    if len(text) > _VALUE_SHOWN_CHARS:
        text = text[:_VALUE_SHOWN_CHARS] + f"… ({len(text):,} characters)"
    return text


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """Parse ``SOURCE=TARGET`` pairs into {source column: contract column}.

    The split is on the last ``=`` so source names may contain spaces or ``=``.
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise ConfigError(
                f"--map {pair!r}: expected SOURCE=TARGET, for example --map customerID=customer_id"
            )
        mapping[source.strip()] = target.strip()
    return mapping


def apply_mapping(
    columns: Iterable[str], mapping: Mapping[str, str], *, source: str
) -> dict[str, str]:
    """Return {file column: contract column} for every column, mapped ones renamed.

    Raises ConfigError when a mapped source is not in the file or two columns
    would end under one name.
    """
    columns = [str(c) for c in columns]
    missing = [s for s in mapping if s not in columns]
    if missing:
        raise ConfigError(
            f"{source}: mapped column(s) {', '.join(map(repr, missing))} not in the file; "
            f"its columns are: {', '.join(columns)}"
        )
    renamed = {c: mapping.get(c, c) for c in columns}
    seen: dict[str, str] = {}
    for original, target in renamed.items():
        if target in seen:
            raise ConfigError(
                f"{source}: columns {seen[target]!r} and {original!r} would both become {target!r}; "
                "map only one of them"
            )
        seen[target] = original
    return renamed


def missing_required(columns: Iterable[str], kind: str) -> list[str]:
    """The required contract columns of ``kind`` ('customers' or 'feedback') not in ``columns``."""
    required = FEEDBACK_REQUIRED if kind == "feedback" else CUSTOMER_REQUIRED
    present = set(columns)
    return [c for c in required if c not in present]


# Formats tried when a column's dates are not ISO 8601, to suggest a --date-format.
_COMMON_DATE_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
)
_CUSTOMER_WORDS = re.compile(r"customer|client|user|account|member|respondent|subscriber", re.I)


def _date_format_of(values: pd.Series, date_format: str | None) -> str | None:
    """'' when the values are ISO 8601 (or in ``date_format``), a format they all parse in
    otherwise, None when they are not dates."""
    present = values[~blank(values)]
    if present.empty:
        return None
    candidates = [date_format] if date_format else [None, *_COMMON_DATE_FORMATS]
    for candidate in candidates:
        parsed, unparseable = parse_timestamps(present, candidate)
        if not unparseable.any() and parsed.notna().all():
            return candidate or ""
    return None


def _could_be_ids(values: pd.Series) -> bool:
    """Unique, never blank, no spaces (not prose), and not small numbers (scores, counts)."""
    text = strings(values).str.strip()
    if len(text) < 2 or (text == "").any() or not text.is_unique:
        return False
    if text.str.contains(r"\s", regex=True).any():
        return False
    numeric = text.str.fullmatch(_NUMBER_RE).all()
    return not (numeric and text.str.len().max() <= 2)


def mapping_hints(sample: pd.DataFrame, missing: Iterable[str], date_format: str | None) -> str:
    """What to do about each missing required column, naming only the file's columns that
    could hold it (judged on ``sample``, the file's first batch, columns not mapped yet):
    an id column is unique, a date column parses as dates, a customer column is named so."""
    dates = {c: _date_format_of(sample[c], date_format) for c in sample.columns}
    hints = []
    for target in missing:
        if target == "feedback_id":
            # A customer's id is not a response's, even where each customer answered once.
            unique = [
                c
                for c in sample.columns
                if dates[c] is None
                and not _CUSTOMER_WORDS.search(str(c))
                and _could_be_ids(sample[c])
            ]
            hints.append(
                f"feedback_id: map a column unique per row, e.g. --map '{unique[0]}=feedback_id'"
                if unique
                else "feedback_id: no column is unique per row; derive a stable id from each "
                "row with --id-from-row"
            )
        elif target == "created_at":
            found = [(c, f) for c, f in dates.items() if f is not None]
            if found:
                column, found_format = found[0]
                extra = f" --date-format '{found_format}'" if found_format else ""
                if found_format and "%d/%m" in found_format:
                    extra += " (or '%m/%d…' if its months come first)"
                hints.append(
                    f"created_at: map a date column, e.g. --map '{column}=created_at'{extra}"
                )
            else:
                hints.append(
                    "created_at: no column holds dates; give the survey's date to every row "
                    "with --created-at YYYY-MM-DD"
                )
        elif target == "customer_id":
            named = [
                c for c in sample.columns if _CUSTOMER_WORDS.search(str(c)) and dates[c] is None
            ]
            hints.append(
                f"customer_id: map the column naming the customer, e.g. --map '{named[0]}=customer_id'"
                if named
                else "customer_id: no column names the customer or respondent; "
                "map the one that does with --map COLUMN=customer_id, or load the answers as "
                "anonymous respondents with --anonymous"
            )
        else:
            hints.append(f"{target}: map yours with --map COLUMN={target}")
    return "; ".join(hints)


def normalize_channel(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (channel, original): channel in CHANNELS; original kept where it differs.

    Case, spaces, dashes and underscores are folded and common synonyms mapped
    ('E-mail' → email, 'Live chat' → chat, 'App Store' → app_review); anything
    unknown becomes 'other' and its original value is kept.
    """
    stripped = strings(values).str.strip()
    folded = stripped.str.lower().str.replace(r"[\s_\-]+", " ", regex=True)
    canonical = {c.replace("_", " "): c for c in CHANNELS}
    lookup = {**_CHANNEL_SYNONYMS, **canonical}
    channel = folded.map(lookup)
    channel = channel.where(channel.notna(), "other")
    # Keep the original where it said more than case or spacing: a synonym or an unknown value.
    renamed = folded != channel.str.replace("_", " ", regex=False)
    original = stripped.where(renamed & (stripped != ""), None)
    return channel.astype(object), original.astype(object)


def strings(values: pd.Series) -> pd.Series:
    """Raw values as an object Series of Python strings, "" where missing.

    Object dtype on purpose: undecodable bytes (kept by surrogateescape) cannot
    live in pandas' Arrow-backed string dtype.
    """
    array = values.to_numpy(dtype=object, na_value=None)
    series = pd.Series(array, dtype=object)
    if pd.api.types.infer_dtype(array, skipna=False) == "string":
        return series  # the common case: every value is already a string
    missing = series.isna()
    if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
        series = series.map(lambda v: v if isinstance(v, str) or v is None else str(v))
    return series.where(~missing, "")


def is_anonymous(customer_ids: pd.Series) -> np.ndarray:
    """Whether each customer id is an anonymous respondent's (``ANONYMOUS_PREFIX``)."""
    return strings(customer_ids).str.startswith(ANONYMOUS_PREFIX).to_numpy(dtype=bool)


def blank(values: pd.Series) -> np.ndarray:
    """True where a raw value is missing or only white space."""
    return (strings(values).str.strip() == "").to_numpy(dtype=bool)


def _text(values: pd.Series) -> pd.Series:
    """Raw values as stripped Python strings (object dtype), None where blank."""
    stripped = strings(values).str.strip()
    return stripped.where(stripped != "", None).astype(object)


def _contains_any(values: pd.Series, pattern: str) -> np.ndarray:
    """True where a value matches ``pattern``; one joined scan first, per value only on a hit."""
    text = strings(values)
    joined = "\n".join(text.tolist())
    if not re.search(pattern, joined):
        return np.zeros(len(text), dtype=bool)
    compiled = re.compile(pattern)
    return np.fromiter((compiled.search(v) is not None for v in text), dtype=bool, count=len(text))


def parse_timestamps(values: pd.Series, date_format: str | None) -> tuple[pd.Series, np.ndarray]:
    """Return (UTC timestamps without zone, unparseable mask); blanks are NaT, not errors.

    Without ``date_format`` only ISO 8601 is accepted (dates, or date-times with or
    without an offset; no offset means UTC), so day and month are never guessed.
    """
    text = _text(values)
    if date_format:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    parsed = parsed.dt.tz_convert(None).astype("datetime64[us]")
    unparseable = parsed.isna().to_numpy() & text.notna().to_numpy()
    return parsed, unparseable


def _whole_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Return (numbers as float, not-a-number mask, not-whole mask); blanks are NaN."""
    text = _text(values)
    numbers = pd.to_numeric(text, errors="coerce")
    not_number = numbers.isna().to_numpy() & text.notna().to_numpy()
    finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    not_whole = np.zeros(len(values), dtype=bool)
    not_whole[finite] = np.mod(numbers.to_numpy()[finite], 1) != 0
    return numbers.astype("float64"), not_number, not_whole


def _string_problems(checks: _Checks, frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Reject undecodable bytes and NUL characters in any of ``columns``."""
    for column in columns:
        if column not in frame.columns:
            continue
        checks.fail(
            _contains_any(frame[column], _BAD_BYTES_RE),
            column,
            "{field} has bytes that are not valid in the file's encoding "
            "(declare it with --encoding): {v}",
        )
        checks.fail(
            _contains_any(frame[column], "\x00"), column, "{field} contains a NUL character"
        )


def _ids(checks: _Checks, frame: pd.DataFrame, column: str) -> pd.Series:
    ids = _text(frame[column])
    checks.fail(ids.isna().to_numpy(), column, "{field} is required and is empty")
    too_long = strings(ids).str.len().to_numpy() > MAX_ID_CHARS
    checks.fail(too_long, column, f"{{field}} is longer than {MAX_ID_CHARS} characters: {{v}}")
    return ids


def validate_feedback(
    raw: pd.DataFrame,
    rows: np.ndarray,
    *,
    now: datetime,
    max_text_chars: int,
    future_tolerance_days: int = 1,
    date_format: str | None = None,
) -> Validated:
    """Validate and normalise a batch of feedback rows (contract column names, raw strings).

    ``rows`` are the record numbers of the batch. Columns outside the contract are the
    respondent's attributes at this response (journey stage, plan, segment), typed as
    customer attributes are. Returns normalised columns: feedback_id, customer_id,
    created_at (UTC, no zone), channel, channel_original, text, nps, csat, ces (nullable
    Int16), language, attributes (dict per row, blanks left out), row.
    """
    frame = raw.reset_index(drop=True)
    checks = _Checks(frame)
    rows = np.asarray(rows, dtype=np.int64)
    _string_problems(checks, frame, [c for c in FEEDBACK_COLUMNS if c in frame.columns])

    feedback_id = _ids(checks, frame, "feedback_id")
    customer_id = _ids(checks, frame, "customer_id")

    created_at, unparseable = parse_timestamps(frame["created_at"], date_format)
    checks.fail(blank(frame["created_at"]), "created_at", "created_at is required and is empty")
    expected = f"the format {date_format!r}" if date_format else "an ISO 8601 date or date-time"
    checks.fail(
        unparseable,
        "created_at",
        f"created_at='{{v}}' is not {expected} (declare another format with --date-format)",
    )
    latest = pd.Timestamp(now).tz_localize(None) + pd.Timedelta(days=future_tolerance_days)
    checks.fail(
        (created_at > latest).to_numpy(),
        "created_at",
        f"created_at='{{v}}' is in the future (after {latest:%Y-%m-%d %H:%M} UTC)",
    )
    checks.fail(
        (created_at < EARLIEST).to_numpy(),
        "created_at",
        "created_at='{v}' is before 1900 (expected 1900-01-01 or later)",
    )

    out = pd.DataFrame({"feedback_id": feedback_id, "customer_id": customer_id})
    out["created_at"] = created_at

    if "channel" in frame.columns:
        channel, original = normalize_channel(frame["channel"])
    else:
        channel = pd.Series(["other"] * len(frame), dtype=object)
        original = pd.Series([None] * len(frame), dtype=object)
    # Object columns on purpose (see strings()); assigning arrays would infer Arrow strings.
    out["channel"] = channel.astype(object)
    out["channel_original"] = original.astype(object)

    if "text" in frame.columns:
        text = _text(frame["text"])
        too_long = strings(text).str.len().to_numpy() > max_text_chars
        checks.fail(
            too_long,
            "text",
            f"text is longer than the limit of {max_text_chars:,} characters "
            "(CXML_MAX_TEXT_CHARS): {v}",
        )
    else:
        text = pd.Series([None] * len(frame), dtype=object)
    out["text"] = text.astype(object)

    any_score = np.zeros(len(frame), dtype=bool)
    for score, (low, high) in SCORE_RANGES.items():
        if score not in frame.columns:
            out[score] = pd.array([pd.NA] * len(frame), dtype="Int16")
            continue
        numbers, not_number, not_whole = _whole_numbers(frame[score])
        checks.fail(not_number, score, f"{score}='{{v}}' is not a number (expected {low}-{high})")
        checks.fail(
            not_whole, score, f"{score}={{v}} is not a whole number (expected {low}-{high})"
        )
        outside = ((numbers < low) | (numbers > high)).to_numpy()
        checks.fail(outside, score, f"{score}={{v}} is outside {low}-{high}")
        usable = numbers.where(~(not_number | not_whole | outside))
        out[score] = usable.round().astype("Int16")
        any_score |= usable.notna().to_numpy()

    checks.fail(
        out["text"].isna().to_numpy() & ~any_score & ~checks.bad_in("text"),
        "text",
        "text is empty and there is no nps, csat or ces score: nothing to keep",
    )

    if "language" in frame.columns:
        language = _text(frame["language"]).str.lower()
        language = language.map(lambda v: _LANGUAGE_NAMES.get(v, v) if isinstance(v, str) else v)
        language = language.str.replace("_", "-", regex=False)
        well_formed = strings(language).str.fullmatch(_LANGUAGE_RE).to_numpy(dtype=bool)
        bad_language = language.notna().to_numpy() & ~well_formed
        checks.fail(
            bad_language,
            "language",
            "language='{v}' is not a language code (expected ISO 639, e.g. en, ja, pt-br)",
        )
        out["language"] = language.astype(object)
    else:
        out["language"] = pd.Series([None] * len(frame), dtype=object)

    out["attributes"] = feedback_attributes(frame)
    out["row"] = rows
    return Validated(
        valid=out.loc[~checks.bad].reset_index(drop=True),
        errors=checks.errors(rows),
        rejected_rows=rows[checks.bad],
    )


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _escaped(value: object) -> object:
    """A string safe to store as JSON: undecodable bytes as \\x escapes, NUL spelled out."""
    if isinstance(value, str) and re.search(f"{_BAD_BYTES_RE}|\x00", value):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return value.replace("\x00", "\\x00")
    return value


def feedback_attributes(frame: pd.DataFrame) -> pd.Series:
    """Per row, the columns outside the feedback contract as {column: typed value}, blanks
    left out (so a response's attributes are what its respondent said, nothing more)."""
    columns = [c for c in frame.columns if c not in FEEDBACK_COLUMNS]
    typed = {c: typed_attribute_values(frame[c]).map(_escaped).tolist() for c in columns}
    values = [
        {c: typed[c][i] for c in columns if not _missing(typed[c][i])} for i in range(len(frame))
    ]
    return pd.Series(values, dtype=object)


def typed_attribute_values(values: pd.Series) -> pd.Series:
    """Attribute values kept as they are, typed: numbers where the text is a plain number.

    '42' → 42, '3.5' → 3.5, '02134' and 'Yes' stay strings (leading zeros are
    kept), blank → None.
    """
    text = _text(values)
    is_number = strings(text).str.fullmatch(_NUMBER_RE).to_numpy(dtype=bool)
    numbers = pd.to_numeric(text.where(is_number), errors="coerce")
    as_int = numbers.where(
        is_number & np.isfinite(numbers.fillna(0).to_numpy()) & (np.mod(numbers.fillna(0), 1) == 0)
    )
    typed = text.astype(object).copy()
    has_dot = strings(text).str.contains(r"[.eE]", regex=True).to_numpy(dtype=bool)
    int_mask = as_int.notna().to_numpy() & ~has_dot
    float_mask = is_number & ~int_mask
    typed[int_mask] = [int(v) for v in as_int[int_mask]]
    typed[float_mask] = [float(v) for v in numbers[float_mask]]
    return typed


def validate_customers(
    raw: pd.DataFrame,
    rows: np.ndarray,
    *,
    now: datetime,
    as_of: datetime | None = None,
    date_format: str | None = None,
) -> Validated:
    """Validate and normalise a batch of customer rows (contract names, raw strings).

    Returns customer_id, signup_date, churn_date (datetime64, NaT where absent),
    monthly_value (float, NaN where absent), attributes (dict per row: every
    non-contract column, typed), row, and which contract columns the file had in
    ``present`` (a column the file lacks never overwrites a stored value).
    A ``tenure_months`` column gives signup_date = as_of − tenure where signup_date is blank.
    """
    frame = raw.reset_index(drop=True)
    checks = _Checks(frame)
    rows = np.asarray(rows, dtype=np.int64)
    _string_problems(checks, frame, list(frame.columns))
    customer_id = _ids(checks, frame, "customer_id")
    out = pd.DataFrame({"customer_id": customer_id})
    today = pd.Timestamp(now).tz_localize(None).normalize()

    dates: dict[str, pd.Series] = {}
    for column in ("signup_date", "churn_date"):
        if column in frame.columns:
            parsed, unparseable = parse_timestamps(frame[column], date_format)
            expected = f"the format {date_format!r}" if date_format else "an ISO 8601 date"
            checks.fail(
                unparseable,
                column,
                f"{column}='{{v}}' is not {expected} (declare another format with --date-format)",
            )
            checks.fail(
                (parsed > today + pd.Timedelta(days=1)).to_numpy(),
                column,
                f"{column}='{{v}}' is in the future (after {today:%Y-%m-%d})",
            )
            checks.fail(
                (parsed < EARLIEST).to_numpy(),
                column,
                f"{column}='{{v}}' is before 1900 (expected 1900-01-01 or later)",
            )
            parsed = parsed.where(parsed >= EARLIEST)
            dates[column] = parsed.dt.normalize()
        else:
            dates[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")

    if "tenure_months" in frame.columns:
        tenure, not_number, _ = _whole_numbers(frame["tenure_months"])
        checks.fail(not_number, "tenure_months", "tenure_months='{v}' is not a number")
        out_of_range = ~((tenure >= 0) & (tenure <= MAX_TENURE_MONTHS)) & tenure.notna()
        checks.fail(
            out_of_range.to_numpy(),
            "tenure_months",
            f"tenure_months={{v}} is out of range (expected 0 to {MAX_TENURE_MONTHS} months)",
        )
        usable = tenure.notna() & ~out_of_range
        reference = parse_as_of(as_of, now=now).normalize()
        derived = reference - pd.to_timedelta(tenure.where(usable, 0) * 30.4375, unit="D")
        derived = derived.dt.normalize().where(usable)
        dates["signup_date"] = dates["signup_date"].fillna(derived)

    signup, churn = dates["signup_date"], dates["churn_date"]
    checks.fail(
        (churn < signup).to_numpy(),
        "churn_date",
        "churn_date='{v}' is before signup_date (expected on or after it)",
    )
    out["signup_date"] = signup.astype("datetime64[us]").to_numpy()
    out["churn_date"] = churn.astype("datetime64[us]").to_numpy()

    if "monthly_value" in frame.columns:
        value_text = _text(frame["monthly_value"])
        value = pd.to_numeric(value_text, errors="coerce")
        checks.fail(
            value.isna().to_numpy() & value_text.notna().to_numpy(),
            "monthly_value",
            "monthly_value='{v}' is not a number (expected revenue per month ≥ 0)",
        )
        checks.fail(
            ~((value >= 0) & (value <= MAX_MONTHLY_VALUE)).to_numpy() & value.notna().to_numpy(),
            "monthly_value",
            f"monthly_value={{v}} is out of range (expected 0 to {MAX_MONTHLY_VALUE:,.0f})",
        )
        value = value.where((value >= 0) & (value <= MAX_MONTHLY_VALUE))
        out["monthly_value"] = value.astype("float64").to_numpy()
    else:
        out["monthly_value"] = np.nan

    attribute_columns = [
        c for c in frame.columns if c not in CUSTOMER_COLUMNS and c not in CUSTOMER_DERIVED
    ]
    typed = {c: typed_attribute_values(frame[c]).tolist() for c in attribute_columns}
    out["attributes"] = [{c: typed[c][i] for c in attribute_columns} for i in range(len(frame))]
    out["row"] = rows
    valid = out.loc[~checks.bad].reset_index(drop=True)
    present = [c for c in CUSTOMER_COLUMNS if c in frame.columns]
    if "tenure_months" in frame.columns and "signup_date" not in present:
        present.append("signup_date")
    valid.attrs["present"] = present
    return Validated(valid=valid, errors=checks.errors(rows), rejected_rows=rows[checks.bad])
