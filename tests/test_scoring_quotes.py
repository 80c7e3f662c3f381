"""The words behind a theme reason: the sentence of the comment the theme was read in, not the
whole comment and not a neighbouring sentence."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from cxml.demo import World
from cxml.scoring import QUOTE_CHARS, _quotes
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
            )
        ).all()
    spans = {(f, t): (s, e) for f, t, s, e in read}
    listed = at_risk(store, today=trained.as_of.to_pydatetime() + timedelta(days=1), limit=1000)
    walked = 0
    for row in listed:
        score = latest_score(store, row["customer_id"])
        assert score is not None
        for reason in score["reasons"]:
            evidence = reason.get("evidence") or {}
            if not reason["feature"].startswith("theme_") or "quote" not in evidence:
                continue
            theme = reason["feature"].removeprefix("theme_").removesuffix("_negative")
            span = spans[(evidence["feedback_id"], theme)]
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
