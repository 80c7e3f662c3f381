"""The words behind a theme reason: the sentence of the comment the theme was read in, not the
whole comment and not a neighbouring sentence."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from cxml.demo import World
from cxml.scoring import (
    PRAISE,
    QUOTE_CHARS,
    _distinct,
    _passing_over,
    _praised,
    _quotes,
    _unreadable,
)
from cxml.store.history import History
from cxml.store.scores import at_risk, latest_score
from cxml.store.tables import feedback_themes
from cxml.text.redact import Redactor
from tests.conftest import Trained

COMMENT = "Thanks to the lovely person who helped me today. The bill is wrong again!"


def history(span: tuple[float, float] | None, sentiment: float = -0.6) -> History:
    start, end = span if span is not None else (np.nan, np.nan)
    return History.from_frames(
        pd.Timestamp("2026-06-01"),
        pd.DataFrame(
            {"customer_id": ["C1"], "signup_date": ["2024-01-01"], "monthly_value": [20.0],
             "attributes": [{}]}
        ),
        pd.DataFrame(
            {"feedback_id": ["F1"], "customer_id": ["C1"], "created_at": ["2026-05-01 10:00"],
             "channel": ["email"], "text": [COMMENT], "sentiment_score": [sentiment],
             "intents": ["[]"]}
        ),
        pd.DataFrame(
            {"feedback_id": ["F1"], "customer_id": ["C1"], "created_at": ["2026-05-01 10:00"],
             "theme_id": ["billing"], "theme_label": ["Billing"], "sentiment_score": [sentiment],
             "span_start": [start], "span_end": [end]}
        ),
    )  # fmt: skip


def quote_of(feature: str, known: History) -> dict[str, object]:
    found = _quotes(known, np.array(["C1"], dtype=object), np.zeros((1, 1), np.int64), [feature])
    return found[("C1", feature)]


def test_a_theme_reason_quotes_the_sentence_its_words_are_in() -> None:
    at = COMMENT.index("bill")
    for feature in ("theme_billing", "theme_billing_negative"):
        evidence = quote_of(feature, history((at, at + 4)))
        assert evidence["quote"] == "The bill is wrong again!"
        start, end = evidence["span"]  # type: ignore[misc]
        assert COMMENT[start:end] == evidence["quote"] and start <= at < at + 4 <= end


def test_a_theme_whose_words_run_over_quotes_both_sentences_whole() -> None:
    # words read across a sentence end ("…helped me today. The bill…"): both sentences, not
    # the first and a broken half of the second
    at, to = COMMENT.index("today"), COMMENT.index("bill") + 4
    evidence = quote_of("theme_billing", history((at, to)))
    assert evidence["quote"] == COMMENT


def test_a_theme_read_nowhere_in_particular_quotes_the_comment() -> None:
    # themes stored before spans existed, or the whole comment's theme ("other"): no span
    evidence = quote_of("theme_billing", history(None))
    assert evidence["quote"] == COMMENT and "span" not in evidence
    # a span that does not fit the comment is not trusted either
    evidence = quote_of("theme_billing", history((70.0, 200.0)))
    assert evidence["quote"] == COMMENT and "span" not in evidence


def test_every_theme_reason_of_the_list_quotes_the_sentence_of_its_words(
    trained: Trained, world: World
) -> None:
    # the faithfulness walk for themes: each quote is the redacted comment's sentence that
    # holds the words the theme was read in (for intents: tests/churn/test_explain_leave.py)
    store = trained.stores["sqlite"]
    trained.score("sqlite", top=0)
    texts = dict(zip(world.feedback["feedback_id"], world.feedback["text"], strict=True))
    with store.engine.connect() as connection:
        read = connection.execute(
            select(
                feedback_themes.c.feedback_id,
                feedback_themes.c.theme_id,
                feedback_themes.c.span_start,
                feedback_themes.c.span_end,
                feedback_themes.c.sentiment_score,
            )
        ).all()
    spans = {(f, t): (s, e) for f, t, s, e, _ in read}
    tone = {(f, t): v for f, t, _, _, v in read}
    listed = at_risk(store, today=trained.as_of.to_pydatetime() + timedelta(days=1), limit=1000)
    walked = 0
    for row in listed:
        score = latest_score(store, row["customer_id"])
        assert score is not None
        texts_said = [reason["text"] for reason in score["reasons"]]
        assert len(set(texts_said)) == len(texts_said), texts_said  # nothing said twice
        for reason in score["reasons"]:
            evidence = reason.get("evidence") or {}
            if not reason["feature"].startswith("theme_") or "quote" not in evidence:
                continue
            theme = reason["feature"].removeprefix("theme_").removesuffix("_negative")
            span = spans[(evidence["feedback_id"], theme)]
            if reason["contribution"] > 0:  # a reason that raises the risk never quotes praise
                assert (tone[(evidence["feedback_id"], theme)] or 0.0) <= PRAISE
            redacted = Redactor().transform([str(texts[evidence["feedback_id"]])])[0]
            if span[0] is None:  # read in no words in particular: the comment
                assert evidence["quote"] in (redacted, redacted[: QUOTE_CHARS - 3] + "…")
                continue
            start, end = evidence["span"]
            assert start <= span[0] < span[1] <= end
            assert evidence["quote"] in (
                redacted[start:end],
                redacted[start : start + QUOTE_CHARS - 3] + "…",
            )
            walked += 1
    assert walked > 0, "no theme reason with a quote in the list: the demo world has them"


def mentions(*rows: tuple[str, str, str, float]) -> History:
    """Comments (customer, day, text, sentiment), each read with the theme "support"."""
    feedback = pd.DataFrame(
        [
            {"feedback_id": f"F{i}", "customer_id": customer, "created_at": f"{day} 10:00",
             "channel": "chat", "text": text, "sentiment_score": tone, "nps": np.nan,
             "intents": "[]"}
            for i, (customer, day, text, tone) in enumerate(rows)
        ]
    )  # fmt: skip
    themes = feedback[["feedback_id", "customer_id", "created_at", "sentiment_score"]].assign(
        theme_id="support", theme_label="Customer support", span_start=np.nan, span_end=np.nan
    )
    people = sorted({row[0] for row in rows})
    return History.from_frames(
        pd.Timestamp("2026-06-01"),
        pd.DataFrame(
            {
                "customer_id": people,
                "signup_date": "2024-01-01",
                "monthly_value": 20.0,
                "attributes": [{} for _ in people],
            }
        ),
        feedback,
        themes,
    )


THANKS = "Thanks to the person who helped me today."
NO_CALL = "Support never called me back."


def test_a_reason_that_raises_the_risk_never_quotes_praise() -> None:
    known = mentions(
        ("C1", "2026-03-01", NO_CALL, -0.1),
        ("C1", "2026-05-01", THANKS, 0.7),
        ("C2", "2026-05-01", THANKS, 0.7),
    )
    customers = np.array(["C1", "C2"], dtype=object)
    names = ["theme_support", "contacts_90d", "tenure_days"]
    top = np.array([[0, 1, 2], [0, 1, 2]])
    raises = np.array([[0.4, 0.3, 0.1], [0.4, 0.3, 0.1]])
    # C1 also complained about support: that is the words behind "wrote about support"
    assert (
        _quotes(known, customers, top, names, raises)[("C1", "theme_support")]["quote"] == NO_CALL
    )
    # C2 only ever thanked support: that reason gives way to the next ones
    praised = _praised(known, customers, top, raises, names)
    assert praised.tolist() == [[False, False, False], [True, False, False]]
    kept, values = _passing_over(top, raises, praised, 2)
    assert kept.tolist() == [[0, 1], [1, 2]] and values.tolist() == [[0.4, 0.3], [0.3, 0.1]]
    # a mention that lowers the risk quotes the latest mention, praise included
    lowers = -raises
    assert not _praised(known, customers, top, lowers, names).any()
    assert _quotes(known, customers, top, names, lowers)[("C1", "theme_support")]["quote"] == THANKS


def test_strongly_negative_and_last_negative_quote_the_comment_they_read() -> None:
    known = mentions(
        ("C1", "2025-12-01", "Worst service I have ever had.", -0.9),
        ("C1", "2026-04-15", "The app keeps crashing.", -0.5),
        ("C1", "2026-05-10", "It is slow again.", -0.25),
        ("C1", "2026-05-20", "Fine, thanks.", 0.3),
    )
    customers = np.array(["C1"], dtype=object)
    names = ["sentiment_min_90d", "sentiment_min_365d", "days_since_last_negative"]
    found = _quotes(known, customers, np.array([[0, 1, 2]]), names)
    assert found[("C1", "sentiment_min_90d")]["quote"] == "The app keeps crashing."
    assert found[("C1", "sentiment_min_365d")]["quote"] == "Worst service I have ever had."
    assert found[("C1", "days_since_last_negative")] == {
        "feedback_id": "F2", "date": "2026-05-10", "quote": "It is slow again."
    }  # fmt: skip
    # nothing strongly negative in those days: nothing to quote
    calm = mentions(("C1", "2026-05-10", "It is slow again.", -0.25))
    assert ("C1", "sentiment_min_90d") not in _quotes(calm, customers, np.array([[0]]), names)


def test_a_reason_that_would_mislead_gives_way_to_the_next() -> None:
    names = ["sentiment_min_90d", "sentiment_min_365d", "nps_last", "contacts_30d", "tenure_days"]
    matrix = np.array(
        [
            [-0.8, -0.8, 3.0, 4.0, 100.0],  # the same comment in both windows
            [-0.1, -0.1, 10.0, 4.0, 100.0],  # good news, said to raise the risk
            [-0.8, -0.9, 3.0, 4.0, 100.0],  # bad news, said to lower it; two comments
        ]
    )
    top = np.array([[0, 1, 3, 4, -1], [0, 2, 3, 4, -1], [0, 1, 2, 3, 4]])
    chosen = np.array(
        [[0.5, 0.4, 0.3, 0.2, 0.0], [0.5, 0.4, 0.3, 0.2, 0.0], [-0.5, 0.4, -0.3, 0.2, 0.1]]
    )
    drop = _unreadable(matrix, top, chosen, names)
    assert drop.tolist() == [
        [False, True, False, False, False],
        [True, True, False, False, False],
        [True, False, True, False, False],
    ]
    kept, values = _passing_over(top, chosen, drop, 3)
    assert kept.tolist() == [[0, 3, 4], [3, 4, -1], [1, 3, 4]]
    assert values.tolist() == [[0.5, 0.3, 0.2], [0.3, 0.2, 0.0], [0.4, 0.2, 0.1]]


def test_a_sentence_is_said_once() -> None:
    said = [
        {"feature": "sentiment_min_90d", "text": "wrote something strongly negative in May 2026"},
        {"feature": "sentiment_min_365d", "text": "wrote something strongly negative in May 2026"},
        {"feature": "contacts_30d", "text": "4 contacts in the last 30 days"},
        {"feature": "tenure_days", "text": "a customer for 3 months"},
    ]
    assert [r["feature"] for r in _distinct(said, 3)] == [
        "sentiment_min_90d", "contacts_30d", "tenure_days"
    ]  # fmt: skip


def test_a_detractor_is_bad_news_and_a_promoter_or_passive_good_news() -> None:
    names = ["detractor_last", "tenure_days"]
    matrix = np.array([[1.0, 100.0], [0.0, 100.0], [1.0, 100.0], [0.0, 100.0]])
    top = np.array([[0, 1], [0, 1], [0, 1], [0, 1]])
    chosen = np.array([[0.5, 0.1], [0.5, 0.1], [-0.5, 0.1], [-0.5, 0.1]])
    # a detractor raising the risk and a non-detractor lowering it read true; the others mislead
    assert _unreadable(matrix, top, chosen, names)[:, 0].tolist() == [False, True, True, False]
