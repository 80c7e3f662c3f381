"""PII redaction: e-mail addresses, card-like numbers (Luhn-checked), phone numbers, IBANs.

Redaction runs before text reaches models, artifacts or logs. Offsets in the rest of
the text pipeline refer to the redacted text, which is what leaves cxml.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from cxml.estimator import Estimator

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# Runs of digits with spaces, dots, dashes or brackets: checked as cards, then phones.
# Bounded by ASCII word characters only: Japanese text runs straight into numbers.
DIGITS = re.compile(r"(?<![A-Za-z0-9.])\+?\(?\d[\d \-.()\uff0d\u2010-\u2015]{6,}\d(?![A-Za-z0-9])")
PLACEHOLDERS = {"email": "[EMAIL]", "card": "[CARD]", "phone": "[PHONE]", "iban": "[IBAN]"}
PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


def _luhn(number: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(number)):
        digit = int(char)
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")


def _digit_kind(match: str) -> str | None:
    if _DATE_LIKE.match(match):
        return None
    digits = re.sub(r"\D", "", match)
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return "card"
    if 9 <= len(digits) <= 15:
        return "phone"
    return None


_MAYBE_PII = re.compile(r"@|\d.*\d.*\d")


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Return the text with PII replaced by placeholders, and how many of each were found."""
    counts: dict[str, int] = {}
    if not _MAYBE_PII.search(text):
        return text, counts  # no @ and fewer than three digits: nothing to redact

    def replace(kind: str) -> Callable[[re.Match[str]], str]:
        def inner(match: re.Match[str]) -> str:
            counts[kind] = counts.get(kind, 0) + 1
            return PLACEHOLDERS[kind]

        return inner

    text = EMAIL.sub(replace("email"), text)
    text = IBAN.sub(replace("iban"), text)

    def digits(match: re.Match[str]) -> str:
        kind = _digit_kind(match.group(0))
        if kind is None:
            return match.group(0)
        counts[kind] = counts.get(kind, 0) + 1
        return PLACEHOLDERS[kind]

    text = DIGITS.sub(digits, text)  # \d also matches full-width digits
    return text, counts


def redacted(texts: Iterable[Any]) -> list[Any]:
    """Texts as they may leave cxml: PII replaced by placeholders (what is not text — None, a
    missing value — stays as it is)."""
    return [redact(t)[0] if isinstance(t, str) and t else t for t in texts]


_LETTER = re.compile(r"[^\W\d_]")
_IDS = ("feedback_id", "customer_id")


def _words(value: Any) -> bool:
    """A value written in words (at least one letter): the kind that holds a comment. A value
    without letters is a number, a date or a code, shown as sent so the row can be fixed (the
    redactor would read a long number as a phone)."""
    return isinstance(value, str) and _LETTER.search(value) is not None


def redacted_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row's errors (field, value, reason) as they may leave cxml: where the value is words,
    its PII and the reason quoting it are redacted; ids, numbers and dates are kept."""
    out = []
    for error in errors:
        if error.get("field") in _IDS or not _words(error.get("value")):
            out.append(dict(error))
            continue
        out.append(
            {
                **error,
                "value": redact(error["value"])[0],
                "reason": redact(str(error.get("reason", "")))[0],
            }
        )
    return out


def redacted_reject(record: dict[str, Any]) -> dict[str, Any]:
    """A stored reject as it may leave cxml (``cxml rejects``, the ingest's rejects file, an
    API item's errors): its errors as ``redacted_errors`` makes them, and every value in words
    of its raw and normalised row redacted (ids kept)."""

    def row(values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {k: redact(v)[0] if k not in _IDS and _words(v) else v for k, v in values.items()}

    errors = record.get("errors")
    errors = redacted_errors(errors) if isinstance(errors, list) else errors
    first = errors[0] if isinstance(errors, list) and errors else {}
    out = {
        **record,
        "errors": errors,
        "raw": row(record.get("raw")),
        "normalized": row(record.get("normalized")),
    }
    if isinstance(errors, list):
        out["reason"] = "; ".join(str(e.get("reason", "")) for e in errors)
        if "value" in record and first:
            out["value"] = first.get("value")
    return out


class Redactor(Estimator):
    """Estimator wrapper of ``redact``; ``enabled=False`` passes text through.

    Stateless: nothing to learn, so it works with or without ``fit`` (scikit-learn's
    convention for stateless transformers)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def fit(self, texts: object = None, y: object = None) -> Redactor:
        """Nothing to learn."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def transform(self, texts: list[str]) -> list[str]:
        """The redacted texts."""
        if not self.enabled:
            return list(texts)
        return redacted(texts)
