"""The competitor intent: an alternative or a competitor named, with or without intent to
switch, never the company the text is addressed to (issue #28 §1)."""

from __future__ import annotations

import pytest

from cxml.text.intents import IntentDetector, competitor_mention


@pytest.mark.parametrize(
    ("text", "language", "span"),
    [
        ("@united switching to Delta next month", "en", "switching to Delta"),
        ("Looking at another provider when my contract ends.", "en", "another provider"),
        ("@AmericanAir well I'm flying @JetBlue today", "en", "flying @JetBlue"),
        ("Honestly Trello instead for simple lists.", "en", "Trello instead"),
        ("Notion is free and your app is worse than Notion.", "en", "worse than Notion"),
        ("他社の方が安いです。", "ja", "他社"),
        ("ソニーの方が綺麗です。", "ja", "ソニーの方が綺麗"),
        ("クロームキャストから乗り換えました。", "ja", "クロームキャストから乗り換"),
    ],
)
def test_competitors_are_found_with_their_span(text: str, language: str, span: str) -> None:
    found = competitor_mention(text, language)
    assert found is not None and text[found[0] : found[1]].endswith(span)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("@united never flying United again", "en"),  # the addressee, not a competitor
        ("I went to Boston on Monday.", "en"),
        ("How do I switch to dark mode?", "en"),
        ("I use it every day and love it.", "en"),
        ("They passed me to another agent.", "en"),
        ("こちらの方が安いです。", "ja"),
        ("他の色もあると嬉しい。", "ja"),
        ("この商品に乗り換えて満足です。", "ja"),
    ],
)
def test_traps_are_not_competitors(text: str, language: str) -> None:
    assert competitor_mention(text, language) is None


def test_the_intent_detector_reports_competitor_beside_the_others() -> None:
    detector = IntentDetector(use_leave=False).fit()
    text = "I called three times. BT is cheaper than you, use BT then?"
    found = detector.detect([text], "en")
    start = text.index("use BT")
    assert {"intent": "competitor", "start": start, "end": start + len("use BT")} in found[0]
    assert [hit["intent"] for hit in found[0]][:1] == ["effort"]
