"""Intent corrections: a person says an intent the text pipeline read in a comment is wrong
("not a churn intent"), or names the right one ("churn intent: switch").

Each correction keeps who made it, when, the redacted comment (and the clause, when it is
about one detection), what the pipeline had said, and an optional note. Correcting the same
comment and intent again replaces the verdict in force; the earlier one is kept with
``superseded_at`` (the history). The same verdict sent again changes nothing (a retry is
safe). `cxml train text` learns from the ``leave`` ones (``cxml.text.corrections``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from cxml.errors import ConfigError, NotFoundError
from cxml.store import Store
from cxml.store import corrections as stored
from cxml.text.corrections import NOT
from cxml.text.leave import KINDS
from cxml.text.redact import redacted

LEAVE = "leave"
#: Intents a person can correct: churn intent (learned, its verdict is ``not`` or a kind), and
#: the pattern intents (verdict ``not`` or ``yes``; kept for review, not learned yet).
INTENTS = (LEAVE, "competitor", "effort", "callback")
YES = "yes"
MAX_NOTE = 2_000


def allowed_verdicts(intent: str, kinds: Sequence[str] = KINDS) -> tuple[str, ...]:
    """The verdicts ``intent`` takes: ``not`` and a kind for leave, ``not`` and ``yes`` else."""
    return (NOT, *kinds) if intent == LEAVE else (NOT, YES)


def _check_intent(intent: str, intents: Sequence[str] = INTENTS) -> None:
    if intent not in intents:
        raise ConfigError(
            f"intent={intent!r} is not one of {', '.join(intents)}", field="intent", value=intent
        )


def _checked(
    intent: str, verdict: str, note: str | None, kinds: Sequence[str], intents: Sequence[str]
) -> None:
    _check_intent(intent, intents)
    allowed = allowed_verdicts(intent, kinds)
    if verdict not in allowed:
        raise ConfigError(
            f"verdict={verdict!r} is not one of {', '.join(allowed)} for intent {intent}",
            field="verdict",
            value=verdict,
        )
    if note is not None and len(note) > MAX_NOTE:
        raise ConfigError(f"note is {len(note):,} characters; at most {MAX_NOTE:,}", field="note")


def _detection(intents: Any, intent: str) -> dict[str, Any] | None:
    """The stored detection of ``intent`` in a comment, or None."""
    values = json.loads(intents) if isinstance(intents, str) else (intents or [])
    return next((v for v in values if isinstance(v, dict) and v.get("intent") == intent), None)


def record_correction(
    store: Store,
    feedback_id: str,
    intent: str,
    verdict: str,
    *,
    note: str | None = None,
    actor: str,
    now: datetime,
    kinds: Sequence[str] = KINDS,
    intents: Sequence[str] = INTENTS,
) -> dict[str, Any]:
    """Record a person's verdict on ``intent`` in a stored comment; returns the correction in
    force, with ``status``: recorded, replaced (an earlier verdict was superseded) or
    unchanged (the same verdict and note again).

    ``kinds``: the churn-intent kinds accepted (the built-in ones plus a taxonomy's).
    Raises NotFoundError (unknown comment), ConfigError (unknown intent or verdict, no text).
    """
    _checked(intent, verdict, note, kinds, intents)
    comment = stored.corrected_feedback(store, feedback_id)
    if comment is None:
        raise NotFoundError("feedback", feedback_id)
    if not isinstance(comment["text"], str) or not comment["text"].strip():
        raise ConfigError(
            f"feedback {feedback_id!r} has no text: there is no intent to correct",
            field="feedback_id",
            value=feedback_id,
        )
    current = stored.current_correction(store, feedback_id, intent)
    if current is not None and current["verdict"] == verdict and current["note"] == note:
        return {**current, "status": "unchanged"}
    [text] = redacted([comment["text"]])  # the analysis' spans refer to the redacted text
    hit = _detection(comment["intents"], intent)
    span = (
        (int(hit["start"]), int(hit["end"]))
        if hit is not None and "start" in hit and 0 <= hit["start"] < hit["end"] <= len(text)
        else None
    )
    row = stored.insert_correction(
        store,
        {
            "feedback_id": feedback_id,
            "customer_id": comment["customer_id"],
            "intent": intent,
            "verdict": verdict,
            "language": comment["analysed_language"] or comment["language"],
            "text": text,
            "span_start": span[0] if span else None,
            "span_end": span[1] if span else None,
            "detected": (hit.get("kind") or intent) if hit is not None else None,
            "model_version": comment["model_version"],
            "note": note,
            "created_by": actor,
        },
        now,
    )
    return {**row, "status": "recorded" if current is None else "replaced"}


def list_corrections(
    store: Store,
    *,
    intent: str | None = None,
    feedback_id: str | None = None,
    customer_id: str | None = None,
    with_superseded: bool = False,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Corrections, newest first, each with who and when (only those in force unless
    ``with_superseded``). Raises ConfigError for an ``intent`` not in ``INTENTS`` (no
    correction can have it: an empty list would hide the typing error)."""
    if intent is not None:
        _check_intent(intent)
    frame = stored.corrections(
        store,
        intent=intent,
        feedback_id=feedback_id,
        customer_id=customer_id,
        with_superseded=with_superseded,
        limit=limit,
    )
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record in records:
        for column in ("created_at", "superseded_at"):
            value = record[column]
            record[column] = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
        for column in ("span_start", "span_end", "correction_id"):
            if record[column] is not None:
                record[column] = int(record[column])
    return [{str(k): v for k, v in r.items()} for r in records]


def leave_corrections(store: Store) -> pd.DataFrame:
    """The churn-intent corrections in force, oldest first, as `cxml train text` learns from
    them: correction_id, text, language, verdict, span_start, span_end, created_at."""
    frame = stored.corrections(store, intent=LEAVE)
    return frame.sort_values(["created_at", "correction_id"], kind="stable").reset_index(drop=True)
