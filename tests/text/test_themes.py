"""Themes on a small survey, and sentiment read from the words (issue #30, section 3)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from cxml.errors import ConfigError
from cxml.text.lexicon import LexiconScorer, plain_requests
from cxml.text.nlp import Tokenizer
from cxml.text.pipeline import TextPipeline
from cxml.text.sentiment import SentimentModel, checked_weak_labels
from cxml.text.themes import OTHER, Taxonomy, ThemeModel, written_in

# A made-up whiteboard product's NPS survey: each topic written several ways, the product's
# name and "like" / "great" everywhere, as in a real small survey.
_TOPICS = {
    "mind maps": [
        "the mind maps are {adj}",
        "I use the mind maps every day",
        "mind maps could have more colours",
        "making mind maps with my class is {adj}",
    ],
    "sticky notes": [
        "sticky notes are {adj} for workshops",
        "the sticky notes keep resizing",
        "I like grouping sticky notes by colour",
        "sticky notes text is too small",
    ],
    "mobile app": [
        "the mobile app is slow on my tablet",
        "mobile app crashes when I zoom",
        "I like the mobile app for quick edits",
        "the mobile app needs offline mode",
    ],
    "pdf export": [
        "pdf export cuts the board in half",
        "the pdf export loses links",
        "pdf export takes ages on big boards",
        "I need pdf export for clients",
    ],
    "too expensive": [
        "it is too expensive for a small team",
        "the paid plan is too expensive",
        "too expensive compared with the free plan",
        "honestly too expensive for students",
    ],
}
_OPENERS = ["Boardly is great.", "I like Boardly.", "", "Overall Boardly is good.", ""]
_ADJECTIVES = ["great", "good", "handy", "clear"]


def _survey(n: int = 240, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    topics = list(_TOPICS)
    texts = []
    for i in range(n):
        topic = topics[i % len(topics)]
        body = rng.choice(_TOPICS[topic]).format(adj=rng.choice(_ADJECTIVES))
        texts.append(f"{rng.choice(_OPENERS)} {body[:1].upper() + body[1:]}.".strip())
    return texts


@pytest.fixture(scope="module")
def survey_themes() -> tuple[ThemeModel, list[str], list[str]]:
    texts = _survey()
    analysed = Tokenizer().analyse(texts, "en")
    model = ThemeModel(min_texts=20).fit(analysed, ["en"] * len(texts), texts)
    strongest = [max(m, key=lambda x: x.confidence).id for m in model.match(texts, analysed, "en")]
    return model, texts, strongest


@pytest.mark.parametrize("max_share", [0.30])
def test_no_theme_holds_more_than_the_limit_of_a_small_survey(
    survey_themes: tuple[ThemeModel, list[str], list[str]], max_share: float
) -> None:
    _, texts, strongest = survey_themes
    counts = Counter(s for s in strongest if s != OTHER)
    assert len(counts) >= 3
    assert max(counts.values()) / len(texts) <= max_share, counts
    assert strongest.count(OTHER) / len(texts) <= 0.15


@pytest.mark.parametrize("min_comments", [3])
def test_labels_are_phrases_written_in_their_themes_comments(
    survey_themes: tuple[ThemeModel, list[str], list[str]], min_comments: int
) -> None:
    model, texts, strongest = survey_themes
    for theme_id in set(strongest) - {OTHER}:
        label = model.label(theme_id).lower()
        members = [t for t, s in zip(texts, strongest, strict=True) if s == theme_id]
        assert sum(written_in(label, t, "en") for t in members) >= min_comments, (
            label,
            members[:5],
        )


@pytest.mark.parametrize("generic", ["boardly", "like", "great", "good"])
def test_generic_words_do_not_label_themes(
    survey_themes: tuple[ThemeModel, list[str], list[str]], generic: str
) -> None:
    model, _, strongest = survey_themes
    labels = [model.label(t).lower() for t in set(strongest) - {OTHER}]
    assert all(label != generic for label in labels), labels
    assert sum(generic in label.split(" ") for label in labels) <= 1, labels


def test_the_topics_a_reader_sees_become_themes(
    survey_themes: tuple[ThemeModel, list[str], list[str]],
) -> None:
    model, _, strongest = survey_themes
    labels = " | ".join(model.label(t).lower() for t in set(strongest) - {OTHER})
    found = [topic for topic in _TOPICS if topic.split(" ")[0] in labels]
    assert len(found) >= 4, labels


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Please add some free templates.", "en", "neutral"),
        ("It would be nice to have an offline mode.", "en", "neutral"),
        ("It would help if the export kept the layout.", "en", "neutral"),
        ("I wish there was a dark mode.", "en", "neutral"),
        ("Love the mind maps, please add more shapes.", "en", "positive"),
        ("Please fix the sync, it is awful and loses my changes.", "en", "negative"),
        ("テンプレートをもっと増やしてほしいです。", "ja", "neutral"),
        ("エクスポート機能が欲しい。", "ja", "neutral"),
        ("ダークモードを希望します。", "ja", "neutral"),
        ("料金が高すぎて不満です。", "ja", "negative"),
    ],
)
def test_requests_are_neutral_unless_they_praise_or_complain(
    text: str, language: str, expected: str
) -> None:
    pipeline = TextPipeline().fit(__import__("pandas").DataFrame({"text": []}))
    assert pipeline.analyze([text], [language])[0]["sentiment"]["label"] == expected


@pytest.mark.parametrize(
    ("text", "language", "score_label", "expected"),
    [
        ("please add some free templates", "en", "positive", "neutral"),
        ("Nothing. It is a great tool and suitable for us. thank you.", "en", "negative", None),
        (
            "Still no broadband after two months. I wish you had told me.",
            "en",
            "negative",
            "negative",
        ),
        ("テンプレートを増やしてほしい。", "ja", "positive", "neutral"),
        ("とても使いやすくて満足です。", "ja", "negative", None),
    ],
)
def test_weak_labels_give_way_to_the_words(
    text: str, language: str, score_label: str, expected: str | None
) -> None:
    analysed = Tokenizer().analyse([text], language)
    labels, _ = checked_weak_labels([text], analysed, language, [score_label], LexiconScorer())
    assert labels == [expected]


def test_requests_trained_from_high_scores_come_out_neutral() -> None:
    """A model trained on weak labels where every request was scored 9 still reads a request
    as neutral; without the check it learns to call requests positive."""
    rng = random.Random(0)
    texts, labels = [], []
    for i in range(120):
        thing = rng.choice(["templates", "shapes", "fonts", "icons", "exports"])
        if i % 3 == 0:
            texts.append(f"Please add more {thing}.")
            labels.append("positive")  # promoters asking for more
        elif i % 3 == 1:
            texts.append(f"The {thing} are great, I love them.")
            labels.append("positive")
        else:
            texts.append(f"The {thing} are broken and awful.")
            labels.append("negative")
    analysed = Tokenizer().analyse(texts, "en")
    model = SentimentModel(select=False).fit(
        texts, analysed, ["en"] * len(texts), labels, weak=True
    )
    probe = ["Please add more colours."]
    proba = model.proba(probe, Tokenizer().analyse(probe, "en"), "en")
    assert model.labels_from(proba, "en")[0][0] == "neutral"
    assert model.weak_label_changes_["en"]["request_to_neutral"] == 40


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_request_detector_without_cues_finds_nothing(language: str) -> None:
    texts = ["The board loads fast."] if language == "en" else ["動作が速いです。"]
    analysed = Tokenizer().analyse(texts, language)
    assert not plain_requests(texts, analysed, language).any()


@pytest.mark.parametrize(
    ("comments", "top", "expected"),
    [
        # written variants of one phrase count together; the most written one names the theme
        (
            ["I placed the order online", "placed the order twice", "placed the order today",
             "place an order again", "I placed an order", "the order was late", "order lost",
             "my order", "order never came", "an order"],
            ["order", "place"],
            "placed the order",
        ),
        # a number between two words does not make them a phrase
        (
            ["waiting 3 months", "waiting 6 months", "waiting 2 months", "months of waiting"],
            ["waiting", "months"],
            None,
        ),
    ],
)  # fmt: skip
def test_a_label_is_the_most_written_variant_of_the_phrase_its_comments_share(
    comments: list[str], top: list[str], expected: str | None
) -> None:
    from cxml.text.themes import _choose_label, label_candidates

    analysed = Tokenizer().analyse(comments, "en")
    found = [label_candidates(t, r, "en") for t, r in zip(comments, analysed, strict=True)]
    corpus: dict[str, int] = Counter(p for f in found for p in f)
    label = _choose_label(range(len(comments)), found, corpus, top, set(), set(), "en", 3)
    if expected is None:
        assert label is None or label != "waiting months"
    else:
        assert label == expected


@pytest.mark.parametrize(
    ("phrase", "language", "nameable"),
    [("すぎ", "ja", False), ("つ追加", "ja", False), ("通信速度", "ja", True),
     ("example.com", "en", False), ("mind maps", "en", True)],
)  # fmt: skip
def test_kana_endings_and_addresses_never_name_a_theme(
    phrase: str, language: str, nameable: bool
) -> None:
    from cxml.text.themes import _nameable

    assert _nameable(phrase, language) is nameable


@pytest.mark.parametrize(
    ("terms", "language", "kept"),
    [(["通信速度", "通信", "速度", "遅い"], "ja", ["通信速度", "遅い"]),
     (["customer service", "service", "rude"], "en", ["customer service", "rude"])],
)  # fmt: skip
def test_a_compound_and_its_parts_count_once_in_the_count_searchs_coherence(
    terms: list[str], language: str, kept: list[str]
) -> None:
    import numpy as np

    from cxml.text.themes import _distinct

    vocabulary = np.array(terms)
    columns = _distinct([np.arange(len(terms))], vocabulary, language)[0]
    assert vocabulary[columns].tolist() == kept


@pytest.mark.parametrize(
    ("entry", "label", "labels"),
    [
        ({"id": "price", "label": "Price"}, "Price", {}),  # as before: one label
        ({"id": "price", "label": "Price", "labels": {"ja": "料金"}}, "Price", {"ja": "料金"}),
        ({"id": "price", "labels": {"en": "Price", "ja": "料金"}}, "Price", {"en": "Price", "ja": "料金"}),
        ({"id": "price", "labels": {"ja": "料金"}}, "price", {"ja": "料金"}),
    ],
)  # fmt: skip
def test_a_taxonomy_theme_carries_a_label_per_language(
    entry: dict[str, object], label: str, labels: dict[str, str]
) -> None:
    theme = Taxonomy.from_dict({"themes": [entry]}).themes[0]
    assert (theme.label, theme.labels) == (label, labels)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "price", "labels": ["料金"]}, "theme 'price': labels must map a language"),
        ({"id": "price", "labels": {"ja": ""}}, "theme 'price': labels must map a language"),
        (
            {"id": "price", "label": "Price", "labels": {"en": "Prices"}},
            "label 'Price' and labels.en 'Prices' differ",
        ),
    ],
)
def test_taxonomy_labels_that_cannot_be_read_are_refused(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Taxonomy.from_dict({"themes": [entry]})


def _fitted_with(taxonomy: Taxonomy) -> ThemeModel:
    texts = _survey(120)
    analysed = Tokenizer().analyse(texts, "en")
    return ThemeModel(taxonomy=taxonomy, min_texts=20).fit(analysed, ["en"] * len(texts), texts)


def test_a_fitted_model_gives_the_taxonomys_labels_in_a_language_and_leaves_out_the_rest() -> None:
    taxonomy = Taxonomy.from_dict(
        {
            "themes": [
                {"id": "export", "label": "PDF export", "labels": {"ja": "PDF書き出し"},
                 "keywords": {"en": ["pdf", "export"]}},
                {"id": "price", "label": "Price", "keywords": {"en": ["expensive"]}},
            ]
        }
    )  # fmt: skip
    model = _fitted_with(taxonomy)
    assert model.labels_in("ja") == {"export": "PDF書き出し"}  # price falls back to its label
    assert model.labels_in("en") == {}
    assert model.label("price") == "Price"
    # a taxonomy pickled before labels existed has none, and says so without failing
    del model.taxonomy.themes[0].__dict__["labels"]
    assert model.labels_in("ja") == {}
