"""A text's language and confidence are its own, whatever else is in its batch (a reviewer's
bug: a Japanese comment beside an English one made the English one ``ja`` at 1.0, and its
churn intent was missed)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cxml.text.language import LanguageDetector

JAPANESE = "もう二度と買いません"
SWITCHING = "I am switching to another provider next month"  # en at 0.8368: unsure
MIX = [
    JAPANESE,
    SWITCHING,
    "The engineer arrived on time and fixed the broadband in under an hour.",
    "I was kept on hold for forty minutes before anyone answered the phone.",
    "Cancel my contract please",
    "Great app",
    "Too expensive",
    "Very poor service",
    "Why do u ask?",
    "スタッフがとても親切でした。",
    "請求書の金額が先月と違います。",
    "アプリがすぐ落ちるので解約を考えています。",
    "料金",
    "解約",
    "El servicio al cliente fue muy lento y nadie me ayudó con la factura.",
    "Der Kundendienst war sehr freundlich und hat mir schnell geholfen.",
    "😡😡😡",
    "12345",
    "!!!",
    "",
]


@pytest.fixture(scope="module")
def shipped_pipeline() -> Any:
    """The pipeline a fresh install serves (``cxml analyze`` and ``/v1/analyze`` without a
    champion): it knows no language of its own, so a batch's languages were all it had."""
    from cxml.text.training import default_pipeline

    return default_pipeline()


def orders() -> list[list[str]]:
    """Both orders of the reviewer's pair, the mix as written, reversed and shuffled."""
    shuffled = []
    for seed in range(3):
        texts = list(MIX)
        random.Random(seed).shuffle(texts)
        shuffled.append(texts)
    return [[JAPANESE, SWITCHING], [SWITCHING, JAPANESE], MIX, MIX[::-1], *shuffled]


def test_the_detector_gives_each_text_what_it_gives_it_alone() -> None:
    detector = LanguageDetector()
    alone = {text: detector.detect([text])[0] for text in MIX}
    assert alone[SWITCHING] == ("en", 0.8368)
    assert alone["😡😡😡"] == alone["12345"] == (None, 0.0)
    for texts in orders():
        assert detector.detect(texts) == [alone[text] for text in texts], texts
    store = {"en", "ja"}
    alone = {text: detector.detect([text], known=store)[0] for text in MIX}
    for texts in orders():
        assert detector.detect(texts, known=store) == [alone[text] for text in texts], texts


@pytest.mark.parametrize("which", ["shipped_pipeline", "demo_text_pipeline"])
def test_a_mixed_batch_gives_each_text_its_own_language_and_confidence(
    which: str, request: pytest.FixtureRequest
) -> None:
    pipeline = request.getfixturevalue(which)

    def language(result: dict[str, Any]) -> tuple[str | None, float]:
        return result["language"], result["language_confidence"]

    alone = {text: language(pipeline.analyze([text])[0]) for text in MIX}
    assert alone[SWITCHING] == ("en", 0.8368)
    assert alone[JAPANESE][0] == "ja"
    for texts in orders():
        assert [language(r) for r in pipeline.analyze(texts)] == [alone[t] for t in texts], texts


def test_the_english_leave_intent_is_found_beside_a_japanese_comment(
    shipped_pipeline: Any,
) -> None:
    for texts in ([JAPANESE, SWITCHING], [SWITCHING, JAPANESE], MIX):
        result = shipped_pipeline.analyze(texts)[texts.index(SWITCHING)]
        assert (result["language"], result["language_confidence"]) == ("en", 0.8368)
        assert "leave" in {intent["intent"] for intent in result["intents"]}


def test_a_language_given_for_one_text_does_not_decide_another(shipped_pipeline: Any) -> None:
    results = shipped_pipeline.analyze([JAPANESE, SWITCHING, "Too expensive"], ["ja", None, None])
    assert [(r["language"], r["language_confidence"]) for r in results[1:]] == [
        (r["language"], r["language_confidence"])
        for r in shipped_pipeline.analyze([SWITCHING, "Too expensive"])
    ]
    assert results[1]["language"] == "en"
