"""Language identification: script rules for Japanese, py3langid (shipped in its package) otherwise,
with a batch's own languages for the short comments py3langid cannot tell apart."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cxml.estimator import Estimator

_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile("[\u4e00-\u9fff]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)

#: The languages cxml analyses fully (lexicons, shipped models); the fallback when nothing
#: else says which language a short comment is in.
FIRST_CLASS: tuple[str, ...] = ("en", "ja")
#: A detection is sure with at least this many words and this probability. On the UK telecom
#: verbatims every comment py3langid put outside English had a probability below 0.61, and
#: two thirds of all comments are above 0.9 (benchmarks/RESULTS.md, Language detection).
MIN_SURE_WORDS = 3
MIN_SURE_PROBABILITY = 0.9


@functools.lru_cache(maxsize=1)
def _load_identifier() -> Any:
    """py3langid's model, read once per process (≈ 1 s); it ships inside the package
    (MODEL_FILE is relative to MODEL_DIR)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(Path(MODEL_DIR) / MODEL_FILE, norm_probs=True)


@functools.lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Common English words: spaCy's stop words and VADER's lexicon (both ship installed)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = set(STOP_WORDS)
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        words.update(SentimentIntensityAnalyzer().lexicon)
    except ImportError:  # pragma: no cover - VADER is a dependency; stop words alone still help
        pass
    words.update(("service", "price", "staff", "app", "phone", "bill", "templates", "support"))
    return frozenset(w.lower() for w in words)


def looks_english(text: str) -> bool:
    """At least half of the text's words are common English words ("Few templates",
    "Too expensive", "Very poor service")."""
    words = [w.lower() for w in _WORDS.findall(text)]
    if not words:
        return False
    known = _english_words()
    return sum(w in known for w in words) * 2 >= len(words)


def looks_japanese(text: str) -> bool:
    """Kana anywhere, or kanji without Latin letters (「料金」「請求書」)."""
    return bool(_KANA.search(text)) or (bool(_HAN.search(text)) and not re.search("[A-Za-z]", text))


class LanguageDetector(Estimator):
    """Return an ISO 639-1 code and a confidence in [0, 1] per text.

    Any kana means Japanese (no other language writes it). Other texts go to
    py3langid's naive Bayes model; ``languages`` restricts its choice when given.
    Texts without letters (empty, digits, emoji) get ``None``.

    Short comments ("Too expensive", "Few templates") are where the model guesses: a
    detection is kept when it is sure (``MIN_SURE_WORDS`` words or more at
    ``MIN_SURE_PROBABILITY``); otherwise the comment takes the likeliest of the languages
    the batch holds (those detected surely in it, the ``known`` ones, each text's
    ``fallback``: its customer's or channel's usual language), and with none of those, the
    likeliest first-class language (English, Japanese). A rare language at low confidence
    never wins.
    """

    _caches = ("_langid",)

    def __init__(self, languages: Sequence[str] | None = None) -> None:
        self.languages = languages

    def fit(self, texts: Any = None, y: Any = None) -> LanguageDetector:
        """Nothing to learn from texts (stateless: usable with or without ``fit``)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def _identifier(self) -> Any:
        if getattr(self, "_langid", None) is None:
            if self.languages:  # set_languages changes the model: a copy of its own
                identifier = _load_identifier.__wrapped__()
                identifier.set_languages(list(self.languages))
            else:
                identifier = _load_identifier()
            self._langid = identifier
        return self._langid

    def detect(
        self,
        texts: Sequence[str | None],
        fallback: Sequence[str | None] | None = None,
        known: Iterable[str] = (),
    ) -> list[tuple[str | None, float]]:
        """(language, confidence) per text.

        ``fallback``, one per text when given, is the language to prefer for that text when the
        detector is unsure (the customer's or the channel's usual one); ``known`` are languages
        the batch holds already (a filled ``language`` column, the store's usual language).
        """
        identifier = self._identifier()
        out: list[tuple[str | None, float]] = []
        unsure: list[int] = []
        sure: Counter[str] = Counter()
        for i, text in enumerate(texts):
            if not text or not _LETTERS.search(text):
                out.append((None, 0.0))
            elif _KANA.search(text):
                out.append(("ja", 0.99))
                sure["ja"] += 1
            else:
                code, probability = identifier.classify(text)
                code, probability = str(code), round(float(probability), 4)
                if (
                    code == "zh"
                    and _HAN.search(text)
                    and (not self.languages or "ja" in self.languages)
                ):
                    # Kanji-only snippets ("料金", "請求書") are as likely Japanese as Chinese.
                    code = "ja" if self.languages and "zh" not in self.languages else code
                out.append((code, probability))
                if len(_WORDS.findall(text)) >= MIN_SURE_WORDS and probability >= (
                    MIN_SURE_PROBABILITY
                ):
                    sure[code] += 1
                else:
                    unsure.append(i)
        if not unsure:
            return out
        held = {*sure, *(k for k in known if k)}
        for i in unsure:
            text = texts[i] or ""
            own = fallback[i] if fallback is not None and i < len(fallback) else None
            candidates = held | ({own} if own else set())
            if not candidates:
                candidates = set(self.languages or FIRST_CLASS)
            if out[i][0] in candidates:
                continue
            out[i] = self._likeliest(identifier, text, candidates, own)
        return out

    @staticmethod
    def _likeliest(
        identifier: Any, text: str, candidates: set[str], own: str | None
    ) -> tuple[str, float]:
        """The likeliest of ``candidates`` for ``text``, with its probability among them."""
        if "ja" in candidates and looks_japanese(text):
            return "ja", 0.9
        ranked = {str(code): float(p) for code, p in identifier.rank(text)}
        scores = {code: ranked.get(code, 0.0) for code in candidates}
        total = sum(scores.values())
        if total <= 0.0:
            code = own or ("en" if "en" in candidates else sorted(candidates)[0])
            return code, 0.0
        best = max(sorted(scores), key=lambda code: scores[code])
        return best, round(scores[best] / total, 4)
