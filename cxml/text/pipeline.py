"""The text pipeline: one fitted object from raw comments to language, sentiment, themes,
key phrases, intents and redacted text."""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxml.estimator import Estimator
from cxml.text.intents import IntentDetector
from cxml.text.language import (
    FIRST_CLASS,
    MIN_SURE_PROBABILITY,
    LanguageDetector,
    looks_english,
    looks_japanese,
)
from cxml.text.nlp import Analysed, Term, Tokenizer
from cxml.text.redact import Redactor
from cxml.text.sentiment import LABELS, SentimentModel, weak_labels
from cxml.text.themes import DISCOURSE_WORDS, OTHER, Taxonomy, ThemeModel

_MAX_KEY_PHRASES = 5
_WEIGHTS_KEPT = 200_000  # key-phrase weights remembered per language; past it, start afresh


def load_default_sentiment(directory: Path | None = None) -> dict[str, SentimentModel]:
    """The shipped default sentiment models by language: ``sentiment_<lang>.joblib`` in
    ``directory``, by default the package's own (``cxml/shipped``, the repository's
    ``models/``), so a plain ``pip install`` has them."""
    import importlib.resources

    folder = directory or Path(str(importlib.resources.files("cxml").joinpath("shipped")))
    return dict(_read_default_sentiment(str(folder)))


@functools.lru_cache(maxsize=4)
def _read_default_sentiment(folder: str) -> dict[str, SentimentModel]:
    """The models in ``folder``, read once per process (≈ 1 s each: joblib unpickles in
    Python); they are only ever read, so every pipeline can share them."""
    import joblib

    return {
        path.stem.split("_", 1)[1]: joblib.load(path)
        for path in sorted(Path(folder).glob("sentiment_*.joblib"))
    }


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection inside: a batch makes no reference cycles (none found after
    analysing the demo's, the NPS verbatims', the clothing reviews' and chABSA's comments), so
    the collector's passes during one only walk its live records again and again and, once
    they number a quarter of the objects the process already holds, every one of those
    (≈ 185,000 with the models loaded: ≈ 0.1 s a pass). The collector is process-wide:
    threads running meanwhile go without it while the batch runs; it is switched back on
    only if it was on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _sentence_records(record: Analysed) -> list[Analysed]:
    """The record split by sentence: terms and phrases inside each sentence span."""
    out = []
    for start, end in record.sentences:
        terms = tuple(t for t in record.terms if start <= t.start < end)
        phrases = tuple(p for p in record.phrases if start <= p.start < end)
        out.append(Analysed(terms, ((start, end),), phrases))
    return out


class TextPipeline(Estimator):
    """Language → redaction → tokens → sentiment, themes, key phrases and intents.

    Parts are swappable through the constructor. ``fit`` takes a frame with a text
    column and, optionally, a label column (positive/neutral/negative) or score
    columns (nps, csat, ces, rating) for weak labels; languages with neither fall
    back to the shipped default models, then to the lexicon.
    """

    _caches = ("_idf_cache", "_weight_cache")
    _fit_call = "fit(frame)"

    def __init__(
        self,
        detector: LanguageDetector | None = None,
        redactor: Redactor | None = None,
        tokenizer: Tokenizer | None = None,
        sentiment: SentimentModel | None = None,
        themes: ThemeModel | None = None,
        intents: IntentDetector | None = None,
        use_defaults: bool = True,
    ) -> None:
        self.detector = detector
        self.redactor = redactor
        self.tokenizer = tokenizer
        self.sentiment = sentiment
        self.themes = themes
        self.intents = intents
        self.use_defaults = use_defaults

    # --- fitting -------------------------------------------------------------------

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        text_column: str = "text",
        label_column: str | None = None,
        language_column: str = "language",
        time_column: str = "created_at",
        taxonomy: Taxonomy | None = None,
    ) -> TextPipeline:
        """Fit every trainable part on the comments of ``frame`` (rows without text are skipped).
        When ``time_column`` is there, the sentiment family is chosen forward in time.

        Parts given to the constructor are cloned, never fitted in place."""
        from sklearn.base import clone

        self._forget()
        self.detector_ = clone(self.detector) if self.detector else LanguageDetector()
        self.redactor_ = clone(self.redactor) if self.redactor else Redactor()
        self.tokenizer_ = clone(self.tokenizer) if self.tokenizer else Tokenizer()
        defaults = load_default_sentiment() if self.use_defaults else {}
        self.sentiment_ = (
            clone(self.sentiment) if self.sentiment else SentimentModel(defaults=defaults or None)
        )
        self.themes_ = clone(self.themes) if self.themes else ThemeModel(taxonomy=taxonomy)
        self.intents_ = (
            clone(self.intents)
            if self.intents
            else IntentDetector(extra=taxonomy.intents if taxonomy else None)
        )
        self.intents_.fit()
        self.detector_.fit()
        self.redactor_.fit()

        texts_raw = (
            frame[text_column].astype(object).where(frame[text_column].notna(), "").astype(str)
        )
        keep = texts_raw.str.strip() != ""
        data = frame.loc[keep].reset_index(drop=True)
        texts = self.redactor_.transform(texts_raw[keep].tolist())
        given = data[language_column] if language_column in data.columns else None
        languages, confidence = self._languages(texts, given)
        languages = self._supported(languages, confidence, texts)
        analysed = self._analyse(texts, languages)

        if label_column:
            if label_column not in data.columns:
                from cxml.errors import ConfigError

                raise ConfigError(f"label column {label_column!r} is not in the input")
            labels = (
                data[label_column]
                .astype(object)
                .map(lambda v: str(v).strip().lower() if isinstance(v, str) else None)
            )
            labels = labels.where(labels.isin(LABELS), None)
            self.label_source_ = f"labels from column {label_column!r}"
        else:
            labels = weak_labels(data)
            self.label_source_ = "weak labels from scores" if labels.notna().any() else "none"
        times = data[time_column].tolist() if time_column in data.columns else None
        self.sentiment_.fit(
            texts, analysed, languages, labels.tolist(), times, weak=not label_column
        )
        self.themes_.fit(analysed, languages, texts)
        self.languages_ = sorted({lang for lang in languages if lang})
        counted = pd.Series([lang for lang in languages if lang], dtype=object).value_counts()
        self.usual_language_ = str(counted.index[0]) if len(counted) else None
        self.n_texts_ = len(texts)
        self.labelled_ = int(labels.notna().sum())
        return self

    def _check(self) -> None:
        self._check_fitted("themes_")

    def _languages(
        self,
        texts: Sequence[str],
        given: pd.Series | None,
        fallback: Sequence[str | None] | None = None,
    ) -> tuple[list[str | None], list[float]]:
        """(language, confidence) per text: the given language, else the detected one.

        Short comments the detector is unsure of take the likeliest of the fitted pipeline's
        usual language and first-class languages, and ``fallback``'s per text (the customer's or
        channel's usual language). The other texts, and the languages given with them, never
        count: a text's language and confidence are the same alone as in any batch."""
        chosen: list[str | None] = [None] * len(texts)
        confidence = [1.0] * len(texts)
        if given is not None:
            for i, value in enumerate(given.astype(object).where(given.notna(), None).tolist()):
                if isinstance(value, str) and value.strip():
                    chosen[i] = value.strip().lower()
        missing = [i for i, c in enumerate(chosen) if c is None]
        # What the store holds: its usual language and the first-class languages the pipeline
        # was fitted on (a kanji-only "料金" in an en + ja store is ja).
        known: set[str] = set()
        usual = getattr(self, "usual_language_", None)
        if usual:
            known.add(usual)
        known.update(set(FIRST_CLASS) & set(getattr(self, "languages_", [])))
        detected = self.detector_.detect(
            [texts[i] for i in missing],
            [fallback[i] for i in missing] if fallback is not None else None,
            known,
        )
        for i, (code, probability) in zip(missing, detected, strict=True):
            chosen[i], confidence[i] = code, probability
        return chosen, confidence

    def _supported(
        self, chosen: list[str | None], confidence: list[float], texts: Sequence[str]
    ) -> list[str | None]:
        """A comment detected, unsurely, in a language nothing was fitted for, whose words are
        English or Japanese, is analysed as such rather than emptied to neutral and ``other``.
        (A sure detection and a language given with the comment are kept.)"""
        fitted = {*FIRST_CLASS, *getattr(self, "languages_", [])}
        out = list(chosen)
        for i, code in enumerate(chosen):
            if code is None or code in fitted or confidence[i] >= MIN_SURE_PROBABILITY:
                continue
            if looks_japanese(texts[i]):
                out[i] = "ja"
            elif looks_english(texts[i]):
                out[i] = "en"
        return out

    def _analyse(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Analysed]:
        out: list[Analysed | None] = [None] * len(texts)
        groups: dict[str, list[int]] = {}
        for i, language in enumerate(languages):
            groups.setdefault(language or "xx", []).append(i)
        for language, index in groups.items():
            for i, record in zip(
                index, self.tokenizer_.analyse([texts[i] for i in index], language), strict=True
            ):
                out[i] = record
        return [r if r is not None else Analysed((), ((0, 0),), ()) for r in out]

    # --- applying ------------------------------------------------------------------

    def analyze(
        self,
        texts: Sequence[str | None],
        languages: Sequence[str | None] | None = None,
        fallback: Sequence[str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """One result per text, in order: language, sentiment, themes, key phrases, intents, redacted text.

        ``languages`` are known languages (None: detect); ``fallback`` per text is the language
        to prefer when a short comment's is unsure (its customer's or channel's usual one)."""
        self._check()
        with _collector_paused():
            return self._analyze_batch(texts, languages, fallback)

    def _analyze_batch(
        self,
        texts: Sequence[str | None],
        languages: Sequence[str | None] | None,
        fallback: Sequence[str | None] | None,
    ) -> list[dict[str, Any]]:
        raw = [t if isinstance(t, str) else "" for t in texts]
        redacted = self.redactor_.transform(raw)
        given = pd.Series(list(languages), dtype=object) if languages is not None else None
        chosen, confidence = self._languages(redacted, given, fallback)
        chosen = self._supported(chosen, confidence, redacted)
        analysed = self._analyse(redacted, chosen)
        results: list[dict[str, Any]] = [{} for _ in raw]
        groups: dict[str | None, list[int]] = {}
        for i, language in enumerate(chosen):
            groups.setdefault(language, []).append(i)
        for language, index in groups.items():
            self._analyze_group(
                [redacted[i] for i in index],
                [analysed[i] for i in index],
                language,
                [results[i] for i in index],
            )
        for i, result in enumerate(results):
            result["language"] = chosen[i]
            result["language_confidence"] = confidence[i]
            result["redacted_text"] = redacted[i]
            if not redacted[i].strip():
                result.update(
                    sentiment=None,
                    themes=[],
                    key_phrases=[],
                    intents=[],
                    language=None,
                    language_confidence=0.0,
                )
        return results

    def _analyze_group(
        self,
        texts: list[str],
        analysed: list[Analysed],
        language: str | None,
        results: list[dict[str, Any]],
    ) -> None:
        sentence_records: list[Analysed] = []
        sentence_texts: list[str] = []
        owner: list[int] = []
        for i, (text, record) in enumerate(zip(texts, analysed, strict=True)):
            for sentence in _sentence_records(record):
                start, end = sentence.sentences[0]
                sentence_records.append(sentence)
                sentence_texts.append(text[start:end])
                owner.append(i)
        proba = self.sentiment_.proba(sentence_texts, sentence_records, language)
        weights = np.array([len(r.terms) + 1.0 for r in sentence_records])
        owner_array = np.array(owner, dtype=np.int64)
        comment = np.zeros((len(texts), len(LABELS)))
        np.add.at(comment, owner_array, proba * weights[:, None])
        totals = np.bincount(owner_array, weights=weights, minlength=len(texts))[:, None]
        comment = np.divide(comment, totals, out=np.full_like(comment, 1 / 3), where=totals > 0)
        labels, scores = self.sentiment_.labels_from(comment, language)
        matches = self.themes_.match(texts, analysed, language)
        intents = self.intents_.detect(texts, language, analysed)
        spans_by_text: dict[int, list[tuple[int, int, np.ndarray]]] = {}
        for k, i in enumerate(owner):
            start, end = sentence_records[k].sentences[0]
            spans_by_text.setdefault(i, []).append((start, end, proba[k]))
        # every theme's sentiment, labelled in one call: (text, match, probabilities)
        theme_rows: list[tuple[int, Any, np.ndarray]] = []
        for i in range(len(results)):
            spans = spans_by_text.get(i, [])
            for match in matches[i]:
                inside = [p for s, e, p in spans if s <= match.start < e or (match.id == OTHER)]
                # the mean of one row is that row (np.mean costs ≈ 10 µs a call)
                mean = inside[0] if len(inside) == 1 else np.mean(inside, axis=0)
                theme_rows.append((i, match, mean if inside else comment[i]))
        theme_labels, theme_scores = (
            self.sentiment_.labels_from(np.array([row[2] for row in theme_rows]), language)
            if theme_rows
            else ([], [])
        )
        source = self.sentiment_.source(language)
        for i, result in enumerate(results):
            result["sentiment"] = {
                "label": str(labels[i]),
                "score": float(scores[i]),
                "source": source,
            }
            result["themes"] = []
        for (i, match, _), theme_label, theme_score in zip(
            theme_rows, theme_labels, theme_scores, strict=True
        ):
            results[i]["themes"].append(
                {
                    "id": match.id,
                    "label": self.themes_.label(match.id),
                    "confidence": match.confidence,
                    "sentiment": {"label": str(theme_label), "score": float(theme_score)},
                    "span": [match.start, match.end] if match.id != OTHER else None,
                    "evidence": texts[i][match.start : match.end] if match.id != OTHER else None,
                }
            )
        for i, result in enumerate(results):
            result["key_phrases"] = self._key_phrases(texts[i], analysed[i], language)
            result["intents"] = [
                {**hit, "evidence": texts[i][int(hit["start"]) : int(hit["end"])]}
                for hit in intents[i]
            ]

    def _idf(self, language: str | None) -> tuple[dict[str, float], float]:
        """The fitted themes' idf per term of ``language`` (as Python floats) and the largest
        (the weight of a word they never saw)."""
        cache: dict[str | None, tuple[dict[str, float], float]] = self.__dict__.setdefault(
            "_idf_cache", {}
        )
        if language not in cache:
            vectorizer = self.themes_.vectorizers_.get(language or "")
            idf = (
                dict(
                    zip(
                        vectorizer.get_feature_names_out(),
                        vectorizer.idf_.tolist(),
                        strict=True,
                    )
                )
                if vectorizer is not None
                else {}
            )
            cache[language] = (idf, max(idf.values(), default=1.0))
        return cache[language]

    def _key_phrases(self, text: str, record: Analysed, language: str | None) -> list[str]:
        idf, default = self._idf(language)
        stop = DISCOURSE_WORDS.get(language or "", set())
        weights: dict[str, float] = self.__dict__.setdefault("_weight_cache", {}).setdefault(
            language, {}
        )  # a phrase's weight, worked out once (phrases repeat across comments)

        def weight(phrase: Term) -> float:
            found = weights.get(phrase.norm)
            if found is None:
                parts = phrase.norm.split(" ") if language != "ja" else [phrase.norm]
                found = sum(idf.get(p, default) for p in parts) + 0.5 * (len(parts) - 1)
                if len(weights) >= _WEIGHTS_KEPT:
                    weights.clear()
                weights[phrase.norm] = found
            return found

        ranked = sorted((p for p in record.phrases if p.norm not in stop), key=weight, reverse=True)
        seen: list[str] = []
        lowered: set[str] = set()
        for phrase in ranked:
            surface = text[phrase.start : phrase.end]
            if surface.lower() not in lowered:
                seen.append(surface)
                lowered.add(surface.lower())
            if len(seen) >= _MAX_KEY_PHRASES:
                break
        return seen

    def theme_table(self) -> pd.DataFrame:
        """The themes as a frame (id, label, language, kind, terms)."""
        self._check()
        return pd.DataFrame(self.themes_.table())

    def theme_labels(self, language: str) -> dict[str, str]:
        """Theme id to label in ``language`` where the taxonomy gives one (``ThemeModel.labels_in``)."""
        self._check()
        return self.themes_.labels_in(language)

    def coverage(self, results: Sequence[dict[str, Any]]) -> float:
        """Share of analysed texts that got at least one theme other than ``other``."""
        with_text = [r for r in results if r.get("themes")]
        if not with_text:
            return 0.0
        return sum(any(t["id"] != OTHER for t in r["themes"]) for r in with_text) / len(with_text)
