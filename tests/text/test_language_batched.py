"""py3langid asked for a whole batch at once gives what it gives text by text, bit for bit:
the code and the very same float probability (issue #28)."""

from __future__ import annotations

import random

import numpy as np

from cxml.demo import generate
from cxml.text.language import (
    _CHUNK,
    _PY3LANGID_READ,
    LanguageDetector,
    _classifier,
    _default_classifier,
    _load_identifier,
    _py3langid_version,
)

ODD = [
    "",
    " ",
    "A",
    "THE BILL IS WRONG AGAIN",
    "Straße café naïve ÉCOLE — don't\n\tcall",
    "e\u0301cole \u212aelvin \ufeffbom",
    "\udc80 a lone surrogate",
    "料金が高い",
    "Привет, связь плохая",
    "🙂👍🏽",
    "x" * 3000,
]


def _texts() -> list[str]:
    rng = random.Random(7)
    alphabet = (
        "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ éèüßñçøå ёжщыйЯ αβγδ 日本語料金 かなカナ عربي "
        "한국어 🙂👍 \n\t.,!?'\"-0123456789\u0301"
    )
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in range(300)]
    demo = generate(300, seed=3).feedback["text"].dropna().astype(str).tolist()
    return [*ODD, *noise, *demo]


def test_the_batch_gives_each_text_exactly_what_py3langid_gives_it() -> None:
    texts = _texts()
    batched = _default_classifier()
    assert batched is not None  # the installed py3langid is one this module reads
    slow = [_load_identifier().classify(text) for text in texts]
    assert batched.classify(texts) == slow
    assert batched.classify(texts[::-1]) == slow[::-1]  # a text's answer is its own
    assert len(texts) * 4 > _CHUNK
    assert batched.classify(texts * 4) == slow * 4  # across the batch's chunks


def test_a_detector_restricted_to_languages_batches_its_own_model() -> None:
    texts = _texts()
    detector = LanguageDetector(languages=["en", "de", "fr", "ja"])
    restricted = _classifier(detector._identifier())
    assert restricted is not None
    assert restricted.classify(texts) == [detector._identifier().classify(t) for t in texts]


def test_detect_answers_the_same_with_the_batch_as_text_by_text() -> None:
    texts = _texts()
    plain = LanguageDetector()
    plain._batched = None  # asks py3langid text by text
    fallback = ["ja" if i % 3 else None for i in range(len(texts))]
    assert LanguageDetector().detect(texts) == plain.detect(texts)
    assert LanguageDetector().detect(texts, fallback, {"en"}) == plain.detect(
        texts, fallback, {"en"}
    )


def test_the_automaton_is_as_deep_as_the_table_says() -> None:
    """The batch reads each position's state from the last ``depth`` bytes alone: right only if
    no state of the automaton lies deeper than that (its longest n-gram)."""
    identifier = _load_identifier()
    moves = np.frombuffer(identifier.tk_nextmove, dtype=f"u{identifier.tk_nextmove.itemsize}")
    rows = np.frombuffer(identifier.tk_row, dtype=f"u{identifier.tk_row.itemsize}").astype(np.int64)
    seen = np.zeros(len(rows), dtype=bool)
    seen[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    depth = 0
    while frontier.size:
        # states sharing a row of moves lead to the same states: expand each row once
        following = np.unique(moves[(np.unique(rows[frontier])[:, None] * 256 + np.arange(256))])
        frontier = following[~seen[following]]
        seen[frontier] = True
        depth += frontier.size > 0
    assert seen.all()
    assert depth == _PY3LANGID_READ[_py3langid_version()]
