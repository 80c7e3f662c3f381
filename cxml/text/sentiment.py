"""Sentiment per sentence, comment and theme; one interface over four sources.

Sources, best first: labels the user provides; weak labels from the user's own
scores (NPS, CSAT, CES, star ratings); the default models shipped in ``models/``;
the lexicon. A fitted model per language combines TF-IDF over lemmas (negation
marked: "not good" → ``NOT_good``) with lexicon features, which keeps it useful
outside the domain it learned from.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cxml.estimator import Estimator
from cxml.text.lexicon import N_FEATURES, LexiconScorer, plain_requests, request_spans
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


def checked_weak_labels(
    texts: Sequence[str],
    analysed: Sequence[Analysed],
    language: str,
    labels: Sequence[str | None],
    lexicon: LexiconScorer,
    contradiction: float = 0.6,
) -> tuple[list[str | None], dict[str, int]]:
    """Weak labels (from scores) checked against the words: a plain request or suggestion
    becomes neutral ("please add some free templates" scored 9 is not praise), and a label
    the lexicon flatly contradicts (score says negative, the words' polarity is at least
    ``contradiction``; or the reverse) is dropped, so the model learns what words say rather
    than who scored what. Returns the labels and how many were changed, by kind."""
    requests = _all_sentences_plain_requests(texts, analysed, language, lexicon)
    polarity = lexicon.scores(texts, analysed, language)
    out: list[str | None] = []
    changes = {"request_to_neutral": 0, "contradicted_dropped": 0}
    for label, request, score in zip(labels, requests, polarity, strict=True):
        if label not in LABELS:
            out.append(None)
        elif request and label != "neutral":
            out.append("neutral")
            changes["request_to_neutral"] += 1
        elif (label == "negative" and score >= contradiction) or (
            label == "positive" and score <= -contradiction
        ):
            out.append(None)
            changes["contradicted_dropped"] += 1
        else:
            out.append(label)
    return out, changes


def _all_sentences_plain_requests(
    texts: Sequence[str], analysed: Sequence[Analysed], language: str, lexicon: LexiconScorer
) -> np.ndarray:
    """Which comments are plain requests in every sentence that has content words ("please
    add templates. thanks" is; "still no broadband after two months. I wish you had told me"
    is not: its first sentence is a complaint the lexicon has no word for)."""
    owners: list[int] = []
    pieces: list[str] = []
    records: list[Analysed] = []
    for i, (text, record) in enumerate(zip(texts, analysed, strict=True)):
        for start, end in record.sentences:
            terms = tuple(
                replace(t, start=t.start - start, end=t.end - start)
                for t in record.terms
                if start <= t.start < end
            )
            if len(terms) < 2 and not request_spans(text[start:end], language):
                continue  # "Thanks." "Nothing." carry no request and no topic
            owners.append(i)
            pieces.append(text[start:end])
            records.append(Analysed(terms, ((0, end - start),), ()))
    plain = plain_requests(pieces, records, language, lexicon)
    out = np.zeros(len(texts), dtype=bool)
    seen = np.zeros(len(texts), dtype=bool)
    every = np.ones(len(texts), dtype=bool)
    for owner, is_plain in zip(owners, plain, strict=True):
        seen[owner] = True
        every[owner] &= bool(is_plain)
    out[:] = seen & every
    return out


FAMILIES = ("lemmas+lexicon", "words", "words+chars")
"""Candidate model families, in order of preference when their grades are level:

- ``lemmas+lexicon``: TF-IDF over lemmas and their pairs (negation marked), character
  1-3-grams for scripts without spaces, and the lexicon's scores: the family the shipped
  defaults use, the one that holds up best away from the data it learned from;
- ``words``: the plain reference, TF-IDF over the raw text's word 1-2-grams (character 1-3-grams
  for scripts without spaces) with logistic regression;
- ``words+chars``: word 1-2-grams and character 2-5-grams within words together.
"""


class _LanguageModel:
    """TF-IDF features (of one family) → logistic regression, for one language."""

    def __init__(
        self,
        C: float,
        max_features: int,
        random_state: int,
        characters: bool = False,
        family: str = "lemmas+lexicon",
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.family = family
        self.C = C
        self.on_terms = False  # the second block reads the tokeniser's terms, not the raw text

        def tfidf(**how: Any) -> TfidfVectorizer:
            return TfidfVectorizer(min_df=2, sublinear_tf=True, max_features=max_features, **how)

        # Character 1-3-grams for scripts without spaces (Japanese): they catch
        # inflections and negation (「悪くない」) that dictionary forms lose.
        characters_1_3 = tfidf(analyzer="char", ngram_range=(1, 3)) if characters else None
        if family == "lemmas+lexicon":
            self.vectorizer = tfidf(analyzer=identity)  # terms arrive tokenised and lemmatised
            self.characters = characters_1_3
        elif characters_1_3 is not None:  # no spaces: "words" are characters,
            self.vectorizer = characters_1_3  # with the tokeniser's dictionary forms beside them
            self.characters = tfidf(analyzer=identity) if family == "words+chars" else None
            self.on_terms = True
        else:
            self.vectorizer = tfidf(ngram_range=(1, 2))
            self.characters = (
                tfidf(analyzer="char_wb", ngram_range=(2, 5)) if family == "words+chars" else None
            )
        self.classifier = LogisticRegression(
            C=C, class_weight="balanced", max_iter=2000, random_state=random_state
        )
        self.lexicon_weight = 3.0

    @property
    def uses_lexicon(self) -> bool:
        """Whether the features include the lexicon's scores (only ``lemmas+lexicon`` does;
        models pickled before families existed are that family)."""
        return getattr(self, "family", "lemmas+lexicon") == "lemmas+lexicon"

    def _features(
        self, texts: Sequence[str], terms: list[list[str]], lexicon: np.ndarray, *, fit: bool
    ) -> Any:
        def run(vectorizer: Any, data: Any) -> Any:
            return vectorizer.fit_transform(data) if fit else _transform(vectorizer, data)

        if getattr(self, "family", "lemmas+lexicon") != "lemmas+lexicon":
            blocks = [run(self.vectorizer, texts)]
            if self.characters is not None:
                blocks.append(run(self.characters, terms if self.on_terms else texts))
            return sparse.hstack(blocks).tocsr() if len(blocks) > 1 else blocks[0].tocsr()
        grams = [t + [f"{a}_{b}" for a, b in itertools.pairwise(t)] for t in terms]
        blocks = [run(self.vectorizer, grams)]
        if self.characters is not None:
            blocks.append(run(self.characters, texts))
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


# Per fitted character vectoriser: each word's n-grams as vocabulary columns (word types are
# few, their n-grams many: a word is cut once, not in every sentence it is in).
_WORD_COLUMNS: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, ...]]] = (
    weakref.WeakKeyDictionary()
)
_WORD_COLUMNS_LIMIT = 200_000


def _transform(vectorizer: Any, data: Any) -> Any:
    """``vectorizer.transform(data)``, the same matrix; a TF-IDF over character n-grams
    within words (``char_wb``, scikit-learn's default preprocessing) is counted a word at a
    time, each word's n-grams looked up once (the served English words+chars family spent a
    fifth of the pipeline's time cutting the same words again)."""
    if not (
        getattr(vectorizer, "analyzer", None) == "char_wb"
        and hasattr(vectorizer, "_tfidf")
        and hasattr(vectorizer, "vocabulary_")
        and vectorizer.input == "content"
        and vectorizer.lowercase
        and vectorizer.preprocessor is None
        and vectorizer.strip_accents is None
        and not vectorizer.binary
        and len(data) > 0
        and all(isinstance(text, str) for text in data)
    ):
        return vectorizer.transform(data)
    memo = _WORD_COLUMNS.setdefault(vectorizer, {})
    if len(memo) > _WORD_COLUMNS_LIMIT:
        memo.clear()
    vocabulary = vectorizer.vocabulary_
    low, high = vectorizer.ngram_range
    columns: list[int] = []  # every text's n-grams in the vocabulary, text after text
    lengths: list[int] = []
    for text in data:
        before = len(columns)
        for word in text.lower().split():
            found = memo.get(word)
            if found is None:
                found = memo[word] = tuple(
                    vocabulary[gram] for gram in _char_wb(word, low, high) if gram in vocabulary
                )
            columns.extend(found)
        lengths.append(len(columns) - before)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    # duplicates are summed into counts, and the columns of each row come out sorted
    counted = sparse.csr_matrix(
        (
            np.ones(len(columns), dtype=vectorizer.dtype),
            (rows, np.asarray(columns, dtype=np.int64)),
        ),
        shape=(len(lengths), len(vocabulary)),
    )
    counted.sum_duplicates()
    return vectorizer._tfidf.transform(counted, copy=False)


def _char_wb(word: str, low: int, high: int) -> list[str]:
    """scikit-learn's ``char_wb`` n-grams of one word (``_char_wb_ngrams``)."""
    padded = " " + word + " "
    grams = []
    for n in range(low, high + 1):
        offset = 0
        grams.append(padded[offset : offset + n])
        while offset + n < len(padded):
            offset += 1
            grams.append(padded[offset : offset + n])
        if offset == 0:  # a short word (shorter than n) counts once
            break
    return grams


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
        select: bool = True,
        select_margin: float = 0.005,
        select_max_texts: int = 8000,
        requests_neutral: bool = True,
        check_weak_labels: bool = True,
    ) -> None:
        self.C = C
        self.max_features = max_features
        self.min_texts = min_texts
        self.neutral_band = neutral_band
        self.defaults = defaults
        self.random_state = random_state
        self.select = select
        self.select_margin = select_margin
        self.select_max_texts = select_max_texts
        self.requests_neutral = requests_neutral
        self.check_weak_labels = check_weak_labels

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models pickled before requests were read as neutral (the shipped defaults too), or
        # before candidates were selected: parameters they lack take their defaults, so they
        # clone (a pipeline given a sentiment model with shipped defaults clones them).
        for name, value in (
            ("requests_neutral", True), ("check_weak_labels", True), ("select", True),
            ("select_margin", 0.005), ("select_max_texts", 8000),
        ):  # fmt: skip
            state.setdefault(name, value)
        super().__setstate__(state)

    def candidates(self) -> list[tuple[str, float]]:
        """(family, C) pairs tried per language, the preferred first (see FAMILIES)."""
        if not self.select:
            return [("lemmas+lexicon", self.C)]
        return [
            ("lemmas+lexicon", self.C),
            ("lemmas+lexicon", 0.5 if self.C != 0.5 else 2.0),
            ("words", 1.0),
            ("words+chars", 1.0),
        ]

    def _select(
        self,
        language: str,
        texts: list[str],
        terms: list[list[str]],
        lexicon: np.ndarray,
        labels: np.ndarray,
        times: np.ndarray | None = None,
    ) -> list[dict[str, Any]]:
        """Each candidate's macro-F1 by 3-fold cross-validation on (a sample of) the labelled
        texts: forward in time when every text has a time (train on the older, grade on the
        next newer block, as the model will be used), stratified otherwise. The winner is the
        first candidate within ``select_margin`` of the best mean, so noise between near-equal
        families does not flip the choice."""
        from sklearn.metrics import f1_score

        candidates = self.candidates()
        counts = pd.Series(labels).value_counts()
        if len(candidates) == 1 or counts.min() < 3:
            return [
                {
                    "family": candidates[0][0],
                    "C": candidates[0][1],
                    "macro_f1": None,
                    "chosen": True,
                }
            ]
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(len(labels))
        if len(rows) > self.select_max_texts:  # stratified sample: the same share per label
            picked = [
                rng.choice(np.flatnonzero(labels == label), size=n, replace=False)
                for label, n in (
                    (label, max(3, round(count * self.select_max_texts / len(rows))))
                    for label, count in counts.items()
                )
            ]
            rows = np.sort(np.concatenate(picked))
        folds, how = _folds(rows, labels, times, self.random_state)
        grades: list[dict[str, Any]] = []
        means: list[float] = []
        for family, C in candidates:
            scores = []
            for a, b in folds:
                model = _LanguageModel(
                    C, self.max_features, self.random_state,
                    characters=language in CHARACTER_LANGUAGES, family=family,
                )  # fmt: skip
                model.fit([texts[i] for i in a], [terms[i] for i in a], lexicon[a], labels[a])
                proba = model.proba([texts[i] for i in b], [terms[i] for i in b], lexicon[b])
                predicted = np.array(LABELS, dtype=object)[proba.argmax(axis=1)]
                scores.append(f1_score(labels[b], predicted, average="macro"))
            grades.append(
                {"family": family, "C": C, "macro_f1": float(np.mean(scores)),
                 "sd": float(np.std(scores)), "texts": len(rows), "folds": how,
                 "chosen": False}
            )  # fmt: skip
            means.append(grades[-1]["macro_f1"])
        best = max(means)
        grades[next(i for i, m in enumerate(means) if m >= best - self.select_margin)]["chosen"] = (
            True
        )
        return grades

    def fit(
        self,
        texts: Sequence[str],
        analysed: Sequence[Analysed],
        languages: Sequence[str | None],
        labels: Sequence[str | None],
        times: Sequence[Any] | None = None,
        *,
        weak: bool = False,
    ) -> SentimentModel:
        """Learn one model per language from the labelled texts (None labels are skipped).
        ``times`` (when each text was written) make the choice of family forward in time.

        ``weak``: the labels come from the writers' scores, not from reading the words, so
        the words overrule them (``checked_weak_labels``): a plain request is neutral, and a
        label the lexicon flatly contradicts is dropped."""
        self._forget()
        self.lexicon_ = LexiconScorer()
        self.models_: dict[str, _LanguageModel] = {}
        self.sources_: dict[str, str] = {}
        self.selection_: dict[str, list[dict[str, Any]]] = {}
        frame = pd.DataFrame({"language": list(languages), "label": list(labels)})
        self.weak_label_changes_: dict[str, dict[str, int]] = {}
        if weak and self.check_weak_labels:
            for language, group in frame.groupby("language"):
                index = group.index.to_numpy()
                checked, changes = checked_weak_labels(
                    [texts[i] for i in index],
                    [analysed[i] for i in index],
                    str(language),
                    group["label"].tolist(),
                    self.lexicon_,
                )
                frame.loc[index, "label"] = pd.Series(checked, index=index, dtype=object)
                self.weak_label_changes_[str(language)] = changes
        for language, group in frame.groupby("language"):
            usable = group[group["label"].isin(LABELS)]
            if len(usable) < self.min_texts or usable["label"].nunique() < 2:
                continue
            index = usable.index.to_numpy()
            chosen_texts = [texts[i] for i in index]
            chosen = [analysed[i] for i in index]
            lexicon = self.lexicon_.features(chosen_texts, chosen, str(language))
            terms = term_strings(chosen, mark_negation=True)
            truth = usable["label"].to_numpy(dtype=object)
            when = None if times is None else _instants([times[i] for i in index])
            grades = self._select(str(language), chosen_texts, terms, lexicon, truth, when)
            winner = next(g for g in grades if g["chosen"])
            model = _LanguageModel(
                winner["C"],
                self.max_features,
                self.random_state,
                characters=language in CHARACTER_LANGUAGES,
                family=winner["family"],
            )
            model.fit(chosen_texts, terms, lexicon, truth.tolist())
            self.models_[str(language)] = model
            self.selection_[str(language)] = grades
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
        """(n, 3) probabilities over (negative, neutral, positive) for texts of one language;
        plain requests are neutral (``requests_neutral``)."""
        self._check()
        if not texts:
            return np.zeros((0, len(LABELS)))
        return self._requests_neutral(
            self._proba(texts, analysed, language), texts, analysed, language
        )

    def _proba(
        self, texts: Sequence[str], analysed: Sequence[Analysed], language: str | None
    ) -> np.ndarray:
        """The probabilities as the model, the default or the lexicon reads the words."""
        if language in self.models_:
            model = self.models_[language]
            # VADER reads every sentence in Python: only worth it when the features use it
            lexicon = (
                self.lexicon_.features(texts, analysed, language)
                if model.uses_lexicon
                else np.zeros((len(texts), N_FEATURES))
            )
            return model.proba(texts, term_strings(analysed, mark_negation=True), lexicon)
        if self.defaults and language in self.defaults:
            return self.defaults[language]._proba(texts, analysed, language)
        score = self.lexicon_.scores(texts, analysed, language or "")
        positive = np.clip(score, 0, 1)
        negative = np.clip(-score, 0, 1)
        return np.column_stack([negative, 1 - positive - negative, positive])

    def _requests_neutral(
        self,
        proba: np.ndarray,
        texts: Sequence[str],
        analysed: Sequence[Analysed],
        language: str | None,
    ) -> np.ndarray:
        """``proba`` with plain requests (no praise, no complaint) made neutral: "please add
        templates" says what the customer wants, not how they feel."""
        if not self.requests_neutral:
            return proba
        requests = plain_requests(texts, analysed, language, self.lexicon_)
        if requests.any():
            proba = proba.copy()
            proba[requests] = (0.0, 1.0, 0.0)
        return proba

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


def _instants(values: list[Any]) -> np.ndarray | None:
    """Times as UTC instants (naive ones read as UTC), or None unless every one is a time."""
    try:
        when = pd.to_datetime(
            pd.Series(values, dtype=object), errors="coerce", utc=True, format="mixed"
        )
    except (TypeError, ValueError, OverflowError):
        return None
    return None if when.isna().any() else when.dt.tz_convert(None).to_numpy()


def _folds(
    rows: np.ndarray, labels: np.ndarray, times: np.ndarray | None, random_state: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(train, test) row numbers of three folds and how they were cut: "forward in time" (the
    rows in time order, four blocks, each fold trains on the blocks before the one it grades)
    when times are known and every training block holds at least two labels; "stratified"
    (shuffled, the same share of each label per fold) otherwise."""
    from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit

    if times is not None:
        ordered = rows[np.argsort(times[rows], kind="stable")]
        forward = [(ordered[a], ordered[b]) for a, b in TimeSeriesSplit(n_splits=3).split(ordered)]
        if all(len(set(labels[a])) >= 2 and len(set(labels[b])) >= 2 for a, b in forward):
            return forward, "forward in time"
    split = StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state)
    return [(rows[a], rows[b]) for a, b in split.split(rows, labels[rows])], "stratified"
