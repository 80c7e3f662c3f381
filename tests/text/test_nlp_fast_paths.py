"""The text pipeline's fast paths give exactly what the plain ones give: English tokens read
without running spaCy's lemmatiser on every token, and character n-gram TF-IDF counted a word
at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from cxml.demo import generate
from cxml.text.nlp import (
    _CLAUSE_BREAK,
    _NEGATORS_EN,
    Analysed,
    Term,
    Tokenizer,
    _blank_pipeline,
    _inside,
    _placeholders,
    split_sentences,
)
from cxml.text.sentiment import _transform

ODD = [
    "",
    "   ",
    "I don't like it; not good at all!",
    "Mail [EMAIL] or call [PHONE], Mr [NAME] said the bills were wrong.",
    "can't won't isn't. Never again, never. Cancelled my accounts",
    "Straße café naïve ÉCOLE — DON'T CALL ME\n\nthanks\tagain",
    "The apps were crashing and the prices rising; the staff better than the others'",
    "a b c I me 42 3.5 @united #neverflyunited https://example.com/x?y=1",
]


def _reference(text: str, doc: Any, *, english: bool) -> Analysed:
    """The records as read token by token from spaCy's whole pipeline (the lookup lemmatiser
    run on every token): how the tokenizer read them before its fast path."""
    terms: list[Term] = []
    phrases: list[Term] = []
    run: list[Any] = []
    negated = False

    def close_run() -> None:
        if run:
            start, end = run[0].idx, run[-1].idx + len(run[-1].text)
            if len(run) <= 4:
                phrases.append(
                    Term(" ".join(t.lemma_.lower() or t.lower_ for t in run), start, end)
                )
            run.clear()

    hidden = _placeholders(text)
    for token in doc:
        lower = token.lower_
        if hidden and _inside(hidden, token.idx):
            close_run()
            continue
        if _CLAUSE_BREAK.match(token.text):
            negated = False
            close_run()
            continue
        if lower in _NEGATORS_EN or lower.endswith("n't"):
            negated = True
            close_run()
            continue
        if token.is_stop or not token.is_alpha or len(lower) < 2:
            close_run()
            continue
        lemma = (token.lemma_ or lower).lower() if english else lower
        terms.append(Term(lemma, token.idx, token.idx + len(token.text), negated))
        run.append(token)
    close_run()
    return Analysed(tuple(terms), tuple(split_sentences(text)), tuple(phrases))


@pytest.fixture(scope="module")
def comments() -> list[str]:
    world = generate(150, seed=31, end=date(2025, 6, 30))
    english = world.feedback_truth["language"] == "en"
    return ODD + world.feedback.loc[english, "text"].tolist()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_alphabetic_tokens_are_those_of_spacys_whole_pipeline(
    comments: list[str], language: str
) -> None:
    nlp = _blank_pipeline(language)
    expected = [_reference(t, nlp(t), english=language == "en") for t in comments]
    got = Tokenizer().analyse(comments, language)
    assert got == expected
    if language == "en":  # the lemmas are the lookup table's, not the words as written
        assert any(t.norm == "bill" for t in got[3].terms)


def test_character_ngrams_counted_by_word_are_scikit_learns(comments: list[str]) -> None:
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
    ).fit(comments[len(ODD) :][::2])
    unseen = [*comments[:: 2 + 1], "Zyxt qwv!!", "a", "I\xa0I  I"]
    for texts in (unseen, unseen):  # the second time from the words already looked up
        fast, plain = _transform(vectorizer, texts), vectorizer.transform(texts)
        assert fast.shape == plain.shape and fast.nnz > 0
        assert np.array_equal(fast.indptr, plain.indptr)
        assert np.array_equal(fast.indices, plain.indices)
        assert np.array_equal(fast.data, plain.data)
    words = TfidfVectorizer().fit(comments)  # anything but char_wb: scikit-learn's own path
    assert (_transform(words, comments) != words.transform(comments)).nnz == 0


def test_a_full_stop_between_digits_does_not_end_a_sentence() -> None:
    text = "The bill went up to $29.99 in v2.1. Paid 3. 高い。"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "The bill went up to $29.99 in v2.1.",
        "Paid 3.",
        "高い。",
    ]
