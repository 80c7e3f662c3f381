"""Sentiment per sentence, comment and theme; one interface over four sources.

Sources, best first: labels the user provides; weak labels from the user's own
scores (NPS, CSAT, CES, star ratings); the default models shipped in ``models/``;
the lexicon. A fitted model per language combines TF-IDF over lemmas (negation
marked: "not good" → ``NOT_good``) with lexicon features, which keeps it useful
outside the domain it learned from.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cxml.estimator import Estimator
from cxml.text.lexicon import LexiconScorer
from cxml.text.nlp import Analysed, identity, term_strings

LABELS = ("negative", "neutral", "positive")
CHARACTER_LANGUAGES = {"ja", "zh", "ko", "th"}


def weak_labels(frame: pd.DataFrame) -> pd.Series:
    """Sentiment labels from the customers' own scores; None where no score says anything.

    NPS 0–6 negative, 7–8 neutral, 9–10 positive; CSAT and star ratings (1–5):
    1–2 negative, 3 neutral, 4–5 positive; CES (1–7, 1 = very low effort):
    1–2 positive, 3–5 neutral, 6–7 negative. The first score present wins, in that order.
    """
    labels = pd.Series([None] * len(frame), index=frame.index, dtype=object)

    def fill(column: str, bins: list[float], names: list[str]) -> None:
        if column not in frame.columns:
            return
        values = pd.to_numeric(frame[column], errors="coerce")
        cut = pd.cut(values, bins=bins, labels=names, right=True, ordered=False)
        labels[labels.isna()] = cut[labels.isna()].astype(object)

    fill("nps", [-0.5, 6.5, 8.5, 10.5], ["negative", "neutral", "positive"])
    fill("csat", [0.5, 2.5, 3.5, 5.5], ["negative", "neutral", "positive"])
    fill("rating", [0.5, 2.5, 3.5, 5.5], ["negative", "neutral", "positive"])
    fill("ces", [0.5, 2.5, 5.5, 7.5], ["positive", "neutral", "negative"])
    return labels.where(labels.notna(), None)


class _LanguageModel:
    """TF-IDF + lexicon features → logistic regression, for one language."""

    def __init__(
        self, C: float, max_features: int, random_state: int, characters: bool = False
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        # Character 1-3-grams for scripts without spaces (Japanese): they catch
        # inflections and negation (「悪くない」) that dictionary forms lose.
        self.characters = (
            TfidfVectorizer(
                analyzer="char",
                ngram_range=(1, 3),
                min_df=2,
                sublinear_tf=True,
                max_features=max_features,
            )
            if characters
            else None
        )
        self.vectorizer = TfidfVectorizer(
            analyzer=identity,  # terms arrive tokenised and lemmatised
            max_features=max_features,
            min_df=2,
            sublinear_tf=True,
        )
        self.classifier = LogisticRegression(
            C=C, class_weight="balanced", max_iter=2000, random_state=random_state
        )
        self.lexicon_weight = 3.0

    def _features(
        self, texts: Sequence[str], terms: list[list[str]], lexicon: np.ndarray, *, fit: bool
    ) -> Any:
        grams = [t + [f"{a}_{b}" for a, b in itertools.pairwise(t)] for t in terms]
        blocks = [self.vectorizer.fit_transform(grams) if fit else self.vectorizer.transform(grams)]
        if self.characters is not None:
            chars = self.characters
            blocks.append(chars.fit_transform(texts) if fit else chars.transform(texts))
        blocks.append(sparse.csr_matrix(lexicon * self.lexicon_weight))
        return sparse.hstack(blocks).tocsr()

    def fit(
        self,
        texts: Sequence[str],
        terms: list[list[str]],
        lexicon: np.ndarray,
        labels: Sequence[str],
    ) -> _LanguageModel:
        self.classifier.fit(self._features(texts, terms, lexicon, fit=True), list(labels))
        self.classes_ = list(self.classifier.classes_)
        return self

    def proba(
        self, texts: Sequence[str], terms: list[list[str]], lexicon: np.ndarray
    ) -> np.ndarray:
        """Probabilities over LABELS (absent classes get 0)."""
        raw = self.classifier.predict_proba(self._features(texts, terms, lexicon, fit=False))
        out = np.zeros((len(terms), len(LABELS)))
        for j, label in enumerate(self.classes_):
            out[:, LABELS.index(label)] = raw[:, j]
        return out


class SentimentModel(Estimator):
    """Sentiment label and score in [-1, 1] for texts, per language.

    ``fit`` learns a model for every language with enough labelled texts
    (``min_texts`` and two classes at least). ``defaults`` maps a language to a
    fitted model used where this one learned nothing; the lexicon covers the rest.
    Two-class models call a text neutral when |score| < ``neutral_band``.
    """

    _fit_call = "fit(texts, analysed, languages, labels)"

    def __init__(
        self,
        C: float = 2.0,
        max_features: int = 50_000,
        min_texts: int = 50,
        neutral_band: float = 0.3,
        defaults: dict[str, SentimentModel] | None = None,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.max_features = max_features
        self.min_texts = min_texts
        self.neutral_band = neutral_band
        self.defaults = defaults
        self.random_state = random_state

    def fit(
        self,
        texts: Sequence[str],
        analysed: Sequence[Analysed],
        languages: Sequence[str | None],
        labels: Sequence[str | None],
    ) -> SentimentModel:
        """Learn one model per language from the labelled texts (None labels are skipped)."""
        self._forget()
        self.lexicon_ = LexiconScorer()
        self.models_: dict[str, _LanguageModel] = {}
        self.sources_: dict[str, str] = {}
        frame = pd.DataFrame({"language": list(languages), "label": list(labels)})
        for language, group in frame.groupby("language"):
            usable = group[group["label"].isin(LABELS)]
            if len(usable) < self.min_texts or usable["label"].nunique() < 2:
                continue
            index = usable.index.to_numpy()
            chosen_texts = [texts[i] for i in index]
            chosen = [analysed[i] for i in index]
            lexicon = self.lexicon_.features(chosen_texts, chosen, str(language))
            model = _LanguageModel(
                self.C,
                self.max_features,
                self.random_state,
                characters=language in CHARACTER_LANGUAGES,
            )
            model.fit(
                chosen_texts,
                term_strings(chosen, mark_negation=True),
                lexicon,
                usable["label"].tolist(),
            )
            self.models_[str(language)] = model
            self.sources_[str(language)] = "trained"
        return self

    def _check(self) -> None:
        self._check_fitted("models_")

    def source(self, language: str | None) -> str:
        """Where this language's sentiment comes from: trained, default or lexicon."""
        self._check()
        if language in self.models_:
            return self.sources_[language]
        if self.defaults and language in self.defaults:
            return "default"
        return "lexicon"

    def proba(
        self, texts: Sequence[str], analysed: Sequence[Analysed], language: str | None
    ) -> np.ndarray:
        """(n, 3) probabilities over (negative, neutral, positive) for texts of one language."""
        self._check()
        if not texts:
            return np.zeros((0, len(LABELS)))
        if language in self.models_:
            lexicon = self.lexicon_.features(texts, analysed, language)
            return self.models_[language].proba(
                texts, term_strings(analysed, mark_negation=True), lexicon
            )
        if self.defaults and language in self.defaults:
            return self.defaults[language].proba(texts, analysed, language)
        score = self.lexicon_.scores(texts, analysed, language or "")
        positive = np.clip(score, 0, 1)
        negative = np.clip(-score, 0, 1)
        return np.column_stack([negative, 1 - positive - negative, positive])

    def labels_from(self, proba: np.ndarray, language: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) from probabilities: score = P(positive) − P(negative)."""
        score = proba[:, 2] - proba[:, 0]
        three_way = (language in self.models_ and "neutral" in self.models_[language].classes_) or (
            self.defaults is not None
            and language in self.defaults
            and language not in self.models_
            and "neutral" in self.defaults[language].models_.get(language, _NoClasses()).classes_
        )
        if three_way:
            labels = np.array(LABELS, dtype=object)[proba.argmax(axis=1)]
        else:
            labels = np.where(
                score >= self.neutral_band,
                "positive",
                np.where(score <= -self.neutral_band, "negative", "neutral"),
            ).astype(object)
        return labels, np.round(score, 4)


class _NoClasses:
    classes_: list[str] = []  # noqa: RUF012
