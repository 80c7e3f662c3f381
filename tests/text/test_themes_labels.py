"""Theme labels name the topic, not the opinion: a theme's complaints are quoted under its label
as much as its praise ("mentioned Friendly staff" over a complaint reads as a contradiction),
and a fragment (本日対応, "today's support") tells the reader nothing."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from cxml.text.nlp import Tokenizer
from cxml.text.themes import (
    ThemeModel,
    _choose_label,
    _opinion_words,
    _strip_opinion,
    label_candidates,
)


def _label(
    comments: list[str], top: list[str], language: str, others: Sequence[str] = ()
) -> str | None:
    """The label ``_choose_label`` gives a theme of ``comments`` in a corpus that also holds
    ``others``."""
    texts = [*comments, *others]
    analysed = Tokenizer().analyse(texts, language)
    found = [label_candidates(t, r, language) for t, r in zip(texts, analysed, strict=True)]
    corpus: dict[str, int] = Counter(p for f in found for p in f)
    return _choose_label(range(len(comments)), found, corpus, top, set(), set(), language, 3)


def test_a_neutral_phrase_about_as_frequent_names_the_theme_over_an_opinion() -> None:
    # "friendly staff" is the most written phrase, but the theme also holds the complaints
    # about the staff, which a risk reason quotes under its label
    comments = [
        "The friendly staff sorted it out",
        "friendly staff at the store",
        "such friendly staff",
        "friendly staff and a quick visit",
        "the staff were rude to me",
        "staff kept me waiting for an hour",
        "the staff never called back",
    ]
    assert _label(comments, ["staff", "friendly"], "en") == "staff"


def test_an_opinion_is_dropped_from_a_label_when_no_neutral_phrase_qualifies() -> None:
    # "dress" alone is written all over the corpus (a poor name for this theme by itself),
    # yet the label is the topic of "love this dress", not the love
    comments = [
        "Love this dress",
        "love this dress so much",
        "I love this dress",
        "love this dress!",
    ]
    others = [f"the dress {w}" for w in ("runs small", "is long", "came late", "is blue")] * 4
    assert _label(comments, ["love", "dress"], "en", others) == "dress"


def test_an_opinion_label_stays_when_its_topic_is_taken() -> None:
    comments = [
        "Love this dress",
        "love this dress so much",
        "I love this dress",
        "love this dress!",
    ]
    texts = comments
    analysed = Tokenizer().analyse(texts, "en")
    found = [label_candidates(t, r, "en") for t, r in zip(texts, analysed, strict=True)]
    corpus: dict[str, int] = Counter(p for f in found for p in f)
    label = _choose_label(range(4), found, corpus, ["love", "dress"], {"dress"}, set(), "en", 3)
    assert label == "love this dress"


@pytest.mark.parametrize(
    ("phrase", "topic"),
    [("very helpful staff", "staff"), ("love this dress", "dress"), ("good quality", "quality"),
     ("download speeds are great", "download speeds"), ("highly recommend", ""),
     ("no problems", "no problems"), ("too expensive", "too expensive"),
     ("customer support", "customer support")],
)  # fmt: skip
def test_stripping_drops_the_opinion_at_a_labels_ends_and_nothing_else(
    phrase: str, topic: str
) -> None:
    assert _strip_opinion(phrase, "en") == topic


@pytest.mark.parametrize(
    ("word", "language", "opinion"),
    [("friendly", "en", True), ("great", "en", True), ("love", "en", True),
     ("recommend", "en", True), ("problem", "en", False), ("support", "en", False),
     ("cancel", "en", False), ("delay", "en", False), ("no", "en", False),
     ("親切", "ja", True), ("良い", "ja", True), ("快適", "ja", True), ("障害", "ja", False),
     ("解約", "ja", False), ("エラー", "ja", False)],
)  # fmt: skip
def test_opinion_words_are_the_lexicons_describing_words_not_the_things_it_names(
    word: str, language: str, opinion: bool
) -> None:
    # a lexicon noun ("problem", 障害: outage) names a theme's topic as well as a feeling
    assert (word in _opinion_words(language)) is opinion


def test_a_japanese_time_word_does_not_name_a_theme() -> None:
    comments = [
        "本日対応してくださった方に感謝しています。",
        "本日対応してくださった方に感謝しています。",
        "本日対応していただき助かりました。",
        "担当者の対応が悪く、問題が全く解決しませんでした。",
    ]
    analysed = Tokenizer().analyse(comments, "ja")
    found = label_candidates(comments[0], analysed[0], "ja")
    assert "本日対応" not in found and "本日" not in found
    assert "対応" in found
    assert _label(comments, ["感謝", "本日対応", "対応"], "ja") == "対応"


def test_a_japanese_opinion_written_as_conjugated_is_no_candidate() -> None:
    # 勧め is 勧める ("recommend") as written: an opinion, not what the comment is about
    text = "友人にも勧めたいと思います。"
    found = label_candidates(text, Tokenizer().analyse([text], "ja")[0], "ja")
    assert "友人" in found
    assert not any(p.startswith("勧め") for p in found)


def test_english_time_words_neither_open_nor_end_a_label() -> None:
    text = "Thanks to the lovely person who helped me today"
    found = label_candidates(text, Tokenizer().analyse([text], "en")[0], "en")
    assert not any(p.split(" ")[0] == "today" or p.split(" ")[-1] == "today" for p in found)
    assert "person who helped" in found


_STAFF = ["the {o} staff at the store", "{o} staff sorted my bill", "staff at the store were {o}"]
_ROUTER = ["the router arrived late", "router setup took {n} days", "my router keeps rebooting"]
_APP = ["the app crashes at login", "app login fails again", "I can't find invoices in the app"]


def _corpus(opinion: str, n: int = 120, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    pools = [_STAFF, _ROUTER, _APP]
    return [
        rng.choice(pools[i % 3]).format(o=opinion, n=rng.randint(2, 9)).capitalize()
        for i in range(n)
    ]


def test_theme_ids_do_not_change_when_only_labels_change() -> None:
    # ids come from the themes' term weights (and the reference themes'), never from labels:
    # a model whose labels held opinions hands its ids on to one whose labels do not
    texts = _corpus("friendly")
    analysed = Tokenizer().analyse(texts, "en")
    first = ThemeModel(n_themes=3, min_texts=20).fit(analysed, ["en"] * len(texts), texts)
    was = {
        t.id: dataclasses.replace(t, label=f"Friendly {t.label}") for t in first.themes_.values()
    }
    again = ThemeModel(n_themes=3, min_texts=20, reference_themes=list(was.values()))
    again.fit(analysed, ["en"] * len(texts), texts)
    assert set(again.themes_) == set(first.themes_)
    for theme_id, theme in again.themes_.items():
        assert theme.terms == first.themes_[theme_id].terms
    assert {e["event"] for e in again.lineage_} == {"renamed"}
