"""The churn-intent (leave) detector: traps it must refuse, kinds it must tell apart, and the
figures it reaches on the hand-labelled dev set (evaluation only; nothing trained on it)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxml.text.intents import load_default_leave
from cxml.text.leave import (
    _CUES,
    _GATE,
    LeaveDetector,
    _gated,
    letter_first,
    mark_companies,
    split_clauses,
    top_level_alternatives,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEV = SHARED_DATA / "churn-intent" / "dev.csv"


@pytest.fixture(scope="module")
def detector() -> LeaveDetector:
    return load_default_leave()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("My flight was cancelled and nobody told me.", "en"),
        ("You cancelled my order without asking.", "en"),
        ("The delivery got cancelled again, where is my parcel?", "en"),
        ("I cancelled the add-on in May and you still billed me for it.", "en"),
        ("How do I cancel my booking?", "en"),
        ("I'd never switch, I just want this fixed.", "en"),
        ("I'm not cancelling, but the app needs work.", "en"),
        ("My friend switched to another provider last year.", "en"),
        ("Don't buy this, it broke in a week.", "en"),
        ("I left Verizon for you and I'm very happy.", "en"),
        ("注文がキャンセルされました。", "ja"),
        ("解約したのに、まだ請求されています。", "ja"),
        ("予約のキャンセル方法を教えてください。", "ja"),
        ("解約するつもりはありません。", "ja"),
        ("買わなければよかった。", "ja"),
        ("買わないほうがいいです。", "ja"),
        ("母は他社に乗り換えました。", "ja"),
        ("The gym cancelled my class again.", "en"),
        ("It took close to two weeks to get a reply.", "en"),
        ("返品して同じものを注文し直しました。", "ja"),
        ("もう少し安ければリピートします。", "ja"),
        ("ホテルの予約がキャンセルになった。", "ja"),
    ],
)
def test_traps_are_not_leave(detector: LeaveDetector, text: str, language: str) -> None:
    assert detector.detect([text], language) == [[]]


@pytest.mark.parametrize(
    ("text", "language", "kind"),
    [
        ("I'm cancelling my subscription today.", "en", "cancel_account"),
        ("Switching to Delta next month.", "en", "switch"),
        ("Taking my business elsewhere.", "en", "switch"),
        ("You just lost a loyal customer.", "en", "stop_using"),
        ("Never flying with you again.", "en", "never_again"),
        ("If this isn't fixed by Friday I'll cancel my contract.", "en", "threat"),
        ("I switched to Southwest last month.", "en", "already_left"),
        ("解約します。", "ja", "cancel_account"),
        ("他社に乗り換えます。", "ja", "switch"),
        ("もう買いません。", "ja", "stop_using"),
        ("二度と買わない。", "ja", "never_again"),
        ("改善されなければ解約します。", "ja", "threat"),
        ("先月解約しました。", "ja", "already_left"),
        ("Porting my number to another network as soon as the contract is up.", "en", "switch"),
        ("Moving our savings to a different bank this month.", "en", "switch"),
        ("次は別のメーカーの掃除機にします。", "ja", "switch"),
    ],
)
def test_leave_is_found_with_its_kind(
    detector: LeaveDetector, text: str, language: str, kind: str
) -> None:
    found = detector.detect([text], language)[0]
    assert [hit["kind"] for hit in found[:1]] == [kind]
    assert 0.5 <= found[0]["confidence"] <= 1


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("My flight was cancelled twice. Never flying you again!", "Never flying you again!"),
        ("回線が毎晩切れます。他社に乗り換えます。", "他社に乗り換えます。"),
        # the quote is the whole clause, not "99 a month I'm done with you."
        ("At $49.99 a month I'm done with you. Rant over.", "At $49.99 a month I'm done with you."),
    ],
)
def test_the_span_is_the_clause_that_says_it(
    detector: LeaveDetector, text: str, clause: str
) -> None:
    language = "en" if text.isascii() else "ja"
    found = detector.detect([text], language)[0]
    assert text[found[0]["start"] : found[0]["end"]] == clause


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("One. Two!  Three? - four", ["One.", "Two!", "Three?", "four"]),
        ("", []),
        # a price or a version is not a sentence end; a number that ends one is
        (
            "I pay $29.99 a month.Cancelling v2.1 now",
            ["I pay $29.99 a month.", "Cancelling v2.1 now"],
        ),
        ("Paid 3. Then 4.", ["Paid 3.", "Then 4."]),
        ("高い。解約します！", ["高い。", "解約します！"]),
    ],
)
def test_clauses_split_on_sentence_ends(text: str, clauses: list[str]) -> None:
    assert [text[s:e] for s, e in split_clauses(text)] == clauses


@pytest.mark.parametrize(
    ("clause", "to", "marked"),
    [
        (
            "Flying United again? #UnitedAirlines, unit, uni, Unitedly, @Delta",
            "united",
            "Flying @you again? #@you, @you, uni, @you, @other",
        ),
        (
            "#time2switch #SwitchingBoth #fly4less",
            None,
            "#time to switch #Switching Both #fly for less",
        ),
        ("never flying united", None, "never flying united"),
    ],
)
def test_whose_company_a_clause_names(clause: str, to: str | None, marked: str) -> None:
    """The addressee's name as @you (a word of 4+ letters that begins it or that it begins),
    another handle as @other; a hashtag's joined words apart."""
    assert mark_companies(clause, to) == marked


def dev_half(text: str) -> str:
    """dev's fixed halves (the same split as benchmarks/intents.py): "look", whose errors were
    read while the detector was worked on, and "held", never read."""
    return "look" if hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 0 else "held"


def precision_recall(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    hits = float((predicted & truth).sum())
    return hits / max(float(predicted.sum()), 1.0), hits / max(float(truth.sum()), 1.0)


# The figures reached on dev (benchmarks/RESULTS.md, seventh pass, 2026-12-07: English
# 0.82/0.72, held half 0.82/0.67; Japanese 0.88/0.81, held half 0.91/0.83), less one text: on the
# whole of dev and on its held half, the honest figure. A change that loses more fails here. The
# goals (0.90/0.80 per language) are met on Japanese's held half only: English is short of both.
DEV_FLOORS = {
    ("en", "both"): (0.80, 0.71),
    ("en", "held"): (0.80, 0.65),
    ("ja", "both"): (0.83, 0.77),
    ("ja", "held"): (0.81, 0.75),
}


@pytest.mark.parametrize(("language", "half"), sorted(DEV_FLOORS))
def test_dev_precision_and_recall(detector: LeaveDetector, language: str, half: str) -> None:
    assert DEV.exists(), f"{DEV} is missing: the churn-intent dev set is needed (shared/data)"
    dev = pd.read_csv(DEV)
    dev = dev[dev["language"] == language]
    if half != "both":
        dev = dev[dev["text"].astype(str).map(dev_half) == half]
    found = detector.detect(dev["text"].astype(str).tolist(), language)
    predicted = np.array([bool(f) for f in found])
    truth = (dev["label"] == "leave").to_numpy()
    precision, recall = precision_recall(truth, predicted)
    floor_precision, floor_recall = DEV_FLOORS[(language, half)]
    assert precision >= floor_precision and recall >= floor_recall, (precision, recall)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_demo_planted_truth_meets_its_goal(detector: LeaveDetector, language: str) -> None:
    """The demo world's planted leave statements and traps: precision and recall ≥ 0.95."""
    from cxml.demo import generate

    world = generate(600, seed=7)
    truth = world.feedback_truth.rename(columns={"language": "planted_language"})
    frame = world.feedback[["feedback_id", "text"]].merge(truth, on="feedback_id")
    frame = frame[frame["text"].fillna("").str.strip().ne("")]
    frame = frame[frame["planted_language"] == language]
    found = detector.detect(frame["text"].astype(str).tolist(), language)
    predicted = np.array([bool(f) for f in found])
    planted = frame["intents"].fillna("").str.split("|").map(lambda i: "leave" in i)
    planted = planted.to_numpy(dtype=bool)
    assert planted.sum() >= 10
    precision, recall = precision_recall(planted, predicted)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


#: Words the gates are made of, and some that are not, in any case, to build ASCII texts from.
GATE_WORDS = (
    "cancel",
    "Cancelled",
    "LEAVING",
    "left",
    "I'm done",
    "IM DONE",
    "ended",
    "End",
    "#NoMore",
    "ported",
    "Another Provider",
    "no longer",
    "never again",
    "Switching",
    "delete",
    "stay",
    "walk",
    "miles",
    "next flight",
    "Renew",
    "bye",
    "flight",
    "refund",
    "great",
    "K",
    "S",
    "i",
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(GATE_WORDS) | st.text(st.characters(max_codepoint=127), max_size=6),
        max_size=12,
    ).map(" ".join)
)
def test_the_lower_cased_gate_finds_what_the_case_insensitive_one_does(text: str) -> None:
    for language, gate in _GATE.items():
        assert gate.pattern == gate.pattern.lower()  # the fast path lower-cases the text instead
        searched, fast = _gated(text, language)
        for start, end in [(0, len(text)), *split_clauses(text)]:
            assert bool(fast.search(searched, start, end)) == bool(gate.search(text, start, end))


# Words that sit right after a word character or not: "blend" must not pass for "end".
BOUNDARY_PIECES = ("end", "bend", "_left", "left", "#", " ", "lost", "x", "bye", "it is", "'", "9")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(BOUNDARY_PIECES) | st.text(st.characters(max_codepoint=127), max_size=3),
        max_size=10,
    ).map("".join),
    st.integers(0, 8),
)
def test_a_pattern_opened_on_letters_matches_where_it_did(text: str, cut: int) -> None:
    # the English gate and cues, opened on letters (letter_first), against their own source:
    # the same span from the same start, also when the search starts inside the text
    sources = [_GATE["en"].pattern, *_CUES["en"].values()]
    for source in sources:
        before, after = re.compile(source), re.compile(letter_first(source))
        for start in {0, min(cut, len(text))}:
            found, again = before.search(text, start), after.search(text, start)
            assert (found and found.span()) == (again and again.span()), source


def test_the_gate_is_opened_on_letters_and_alternatives_split_at_the_top() -> None:
    assert top_level_alternatives(r"a|(b|c)|[|]x|\|y|[]|]z") == [
        "a",
        "(b|c)",
        "[|]x",
        r"\|y",
        "[]|]z",
    ]
    assert letter_first(r"\bend(ed)?\b|cancel|\bx?y") == r"e(?<!\we)nd(ed)?\b|cancel|\bx?y"
    opened = top_level_alternatives(letter_first(_GATE["en"].pattern))
    assert not [a for a in opened if a.startswith("\\b")]  # every one opens on a letter


def test_non_ascii_text_keeps_the_case_insensitive_gate() -> None:
    # IGNORECASE folds the long s and the Kelvin sign to s and k; lower() does not
    text = "I will ſwitch"
    searched, gate = _gated(text, "en")
    assert searched == text and gate is _GATE["en"] and gate.search(text)
