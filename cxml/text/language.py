"""Language identification: script rules for Japanese, py3langid (shipped in its package) otherwise,
with the store's or the text's own usual language for the short comments py3langid cannot tell
apart."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


#: The py3langid releases whose ``classify`` ``_Classifier`` reproduces step for step (it reads
#: the identifier's automaton and tables), with the length in bytes of their model's longest
#: n-gram (the depth of its automaton, which tests/text/test_language_batched.py measures); any
#: other release is asked text by text.
_PY3LANGID_READ = {"0.4.0": 6}
_FEW = 8  # fewer texts than this are asked one by one: the batch's fixed cost is not worth it
_CHUNK = 2048  # texts walked at once (a few int64 arrays as long as their bytes)


def _py3langid_version() -> str:
    from importlib.metadata import version

    return version("py3langid")


class _Classifier:
    """``identifier.classify`` for many texts at once: the same (code, probability) per text,
    bit for bit, at a fraction of the cost (issue #28; py3langid was a fifth of the English
    pipeline).

    py3langid walks each text's UTF-8 bytes through an Aho–Corasick automaton in Python, counts
    the byte n-grams it meets (in the order first met), scores them with one product of their
    log-counts and the float16 table cast to float32, then normalises. Here the walk is done for
    the whole batch with numpy: the automaton's state after a byte is the longest suffix of the
    text so far that is one of its n-grams, so it depends only on the last ``depth`` bytes (its
    longest n-gram) and every position's state is the walk from the root over those bytes. The
    counts keep py3langid's order and dtype, and each text's product is the same call on the
    same rows (cast once per batch, not per text), so its float32 rounding is unchanged; the
    normalisation is element-wise, row by row."""

    def __init__(self, identifier: Any, depth: int) -> None:
        self.identifier = identifier

        def unsigned(values: Any) -> np.ndarray:  # an array.array's items, not copied
            widths = {2: np.uint16, 4: np.uint32, 8: np.uint64}
            return np.frombuffer(values, dtype=widths[values.itemsize])

        self.moves = unsigned(identifier.tk_nextmove)
        self.rows = unsigned(identifier.tk_row).astype(np.int64) << 8
        self.outputs = np.asarray(identifier.tk_output, dtype=np.int64)
        self.depth = depth

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``[identifier.classify(text) for text in texts]``."""
        out: list[tuple[str, float]] = []
        for start in range(0, len(texts), _CHUNK):
            out += self._classify(texts[start : start + _CHUNK])
        return out

    def _classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        identifier = self.identifier
        encoded = [identifier._encode(text) for text in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.int64)
        owner = np.repeat(np.arange(len(encoded)), lengths)
        begins = np.repeat(np.cumsum(lengths) - lengths, lengths)  # each byte's text's first
        position = np.arange(len(data))
        state = np.zeros(len(data), dtype=np.int64)
        for back in range(self.depth - 1, -1, -1):
            inside = np.flatnonzero(position - back >= begins)
            state[inside] = self.moves[self.rows[state[inside]] + data[inside - back]]
        feature = self.outputs[state]
        met = np.flatnonzero(feature >= 0)
        # each (text, feature) once, with its count and where the text first meets it; in that
        # order, as py3langid's Counter has them
        n_features = identifier.nb_ptc.shape[0]
        keys = owner[met] * n_features + feature[met]
        ranked = np.argsort(keys, kind="stable")
        grouped = keys[ranked]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        counted = np.zeros(len(keys), dtype=np.int64)  # at each first meeting, its count
        counted[ranked[starts]] = np.diff(np.r_[starts, len(keys)])
        firsts = np.flatnonzero(counted)
        keys, counts = keys[firsts], counted[firsts]
        bounds = np.searchsorted(keys // n_features, np.arange(len(encoded) + 1))
        used = np.zeros(n_features, dtype=bool)
        used[keys % n_features] = True
        table = identifier.nb_ptc[used].astype(np.float32)  # the batch's rows, cast once
        where = (np.cumsum(used) - 1)[keys % n_features]
        weights = np.log1p(counts.astype(np.float32))
        scores = np.zeros((len(encoded), len(identifier.nb_classes)), dtype=np.float32)
        edges = bounds.tolist()
        for i in range(len(encoded)):
            low, high = edges[i], edges[i + 1]
            if high > low:
                scores[i] = weights[low:high] @ table[where[low:high]]
        scores[bounds[1:] > bounds[:-1]] += identifier.nb_pc
        scores *= np.array([1.0 / math.sqrt(n or 1) for n in lengths.tolist()], np.float32)[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in identifier._alias_pairs:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        best = scores.argmax(axis=1)
        classes = identifier.nb_classes
        return [
            (classes[b], c)
            for b, c in zip(best.tolist(), scores[np.arange(len(best)), best].tolist(), strict=True)
        ]


def _classifier(identifier: Any) -> _Classifier | None:
    """The batched classifier for ``identifier`` when it is the py3langid this module reads
    (normalised probabilities, no confidence floor), else None (ask it text by text)."""
    depth = _PY3LANGID_READ.get(_py3langid_version())
    if (
        depth is None
        or not getattr(identifier, "_norm_probs", False)
        or getattr(identifier, "min_confidence", None) is not None
    ):
        return None
    return _Classifier(identifier, depth)


@functools.lru_cache(maxsize=1)
def _default_classifier() -> _Classifier | None:
    """The shared identifier's batched classifier, built once per process."""
    return _classifier(_load_identifier())


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
    ``MIN_SURE_PROBABILITY``); otherwise the comment takes the likeliest of the ``known``
    languages (the store's) and its own ``fallback`` (its customer's or channel's usual
    language), and with none of those, the likeliest first-class language (English,
    Japanese). A rare language at low confidence never wins.

    Each text's language and confidence are its own: the other texts of a batch never change
    them (a kana comment beside an unsure English one used to make Japanese its only choice,
    at a confidence of 1.0).
    """

    _caches = ("_langid", "_batched")

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

    def _classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """py3langid's (code, probability) per text: a batch at once when it is big enough."""
        identifier = self._identifier()
        if len(texts) < _FEW:
            return [identifier.classify(text) for text in texts]
        if "_batched" not in self.__dict__:
            self._batched = _classifier(identifier) if self.languages else _default_classifier()
        if self._batched is None:
            return [identifier.classify(text) for text in texts]
        return self._batched.classify(texts)

    def detect(
        self,
        texts: Sequence[str | None],
        fallback: Sequence[str | None] | None = None,
        known: Iterable[str] = (),
    ) -> list[tuple[str | None, float]]:
        """(language, confidence) per text.

        ``fallback``, one per text when given, is the language to prefer for that text when the
        detector is unsure (the customer's or the channel's usual one); ``known`` are languages
        the store holds (its usual language, the first-class ones a pipeline was fitted on),
        the same for every text. What the other texts are never counts.
        """
        identifier = self._identifier()
        out: list[tuple[str | None, float]] = []
        unsure: list[int] = []
        asked = [
            text for text in texts if text and _LETTERS.search(text) and not _KANA.search(text)
        ]
        answers = iter(self._classify(asked))
        for i, text in enumerate(texts):
            if not text or not _LETTERS.search(text):
                out.append((None, 0.0))
            elif _KANA.search(text):
                out.append(("ja", 0.99))
            else:
                code, probability = next(answers)
                code, probability = str(code), round(float(probability), 4)
                if (
                    code == "zh"
                    and _HAN.search(text)
                    and (not self.languages or "ja" in self.languages)
                ):
                    # Kanji-only snippets ("料金", "請求書") are as likely Japanese as Chinese.
                    code = "ja" if self.languages and "zh" not in self.languages else code
                out.append((code, probability))
                if len(_WORDS.findall(text)) < MIN_SURE_WORDS or probability < (
                    MIN_SURE_PROBABILITY
                ):
                    unsure.append(i)
        if not unsure:
            return out
        held = {k for k in known if k}
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
