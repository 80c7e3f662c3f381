"""Intents that matter for retention: cancellation or switching, high effort, a call-back request.

Default patterns per language; a taxonomy's ``intents`` section adds to them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cxml.estimator import Estimator

DEFAULT_PATTERNS: dict[str, dict[str, list[str]]] = {
    "cancel": {
        "en": [
            r"\bcancel\w*",
            r"\bterminat\w+ (my|the|our) (contract|account|subscription|service)",
            r"\bswitch\w* (to|over to) (another|a different|a new|your competitor|\w+ instead)",
            r"\b(another|different|new) (provider|supplier|company|carrier|bank)\b",
            r"\b(leav\w+|quit\w*|drop\w*) (you|this (company|service|provider)|your service)\b",
            r"\bclose (my|our) account\b",
            r"\bconsidering leaving\b|\bthinking of leaving\b",
            r"\bunsubscrib\w+",
        ],
        "ja": [
            r"解約",
            r"乗り換え",
            r"乗り換える",
            r"他社に(移|変更|切り替)",
            r"退会",
            r"やめ(ます|たい|よう)",
        ],
    },
    "effort": {
        "en": [
            r"\b(call|called|calling|contact\w*|tried|email\w*|wrote|ask\w*)\b[^.!?]{0,40}\b(\d+|two|three|four|five|six|several|many|multiple|numerous) times\b",
            r"\bagain and again\b|\bover and over\b",
            r"\btransferr\w+ (me |from )",
            r"\b(on hold|hold for) \w*\s*(hours?|\d+ minutes)",
            r"\bstill (not|no|waiting|hasn'?t|haven'?t)\b",
            r"\bnobody (replies|answers|called|calls|got back)\b|\bno (reply|response|answer) (yet|from)\b",
        ],
        "ja": [
            r"何度も",
            r"[0-9０-９一二三四五六七八九十]+回も",
            r"たらい回し",
            r"つながら(ない|ず)",
            r"返事がありません",
            r"返信がない",
        ],
    },
    "callback": {
        "en": [
            r"\bcall(ed)? me back\b",
            r"\bcall ?back\b",
            r"\bgive me a call\b",
            r"\bring me\b",
            r"\bphone me\b",
            r"\bcall me\b",
        ],
        "ja": [
            r"折り返し",
            r"電話(を|が)?(ください|下さい|ほしい|欲しい|お願い)",
            r"連絡(を|が)?(ください|下さい|ほしい|欲しい)",
        ],
    },
}


class IntentDetector(Estimator):
    """Intents found in a text, each with its evidence span; patterns per language."""

    def __init__(self, extra: dict[str, dict[str, list[str]]] | None = None) -> None:
        self.extra = extra

    def fit(self, texts: object = None, y: object = None) -> IntentDetector:
        """Compile the patterns (defaults plus ``extra``)."""
        self._forget()
        merged: dict[str, dict[str, list[str]]] = {
            k: {lang: list(p) for lang, p in v.items()} for k, v in DEFAULT_PATTERNS.items()
        }
        for intent, by_language in (self.extra or {}).items():
            for language, patterns in by_language.items():
                merged.setdefault(intent, {}).setdefault(language, []).extend(patterns)
        self.patterns_ = {
            intent: {
                language: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
                for language, patterns in by_language.items()
            }
            for intent, by_language in merged.items()
        }
        return self

    def detect(self, texts: Sequence[str], language: str | None) -> list[list[dict[str, Any]]]:
        """Per text: [{intent, start, end}] for every intent whose pattern matches."""
        self._check_fitted("patterns_")
        out: list[list[dict[str, Any]]] = []
        for text in texts:
            found = []
            for intent, by_language in self.patterns_.items():
                pattern = by_language.get(language or "") or by_language.get("en")
                hit = pattern.search(text) if pattern is not None else None
                if hit:
                    found.append({"intent": intent, "start": hit.start(), "end": hit.end()})
            out.append(found)
        return out
