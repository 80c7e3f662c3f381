"""A comment is under a discovered theme only when it holds one of the theme's own words, not a
word the theme's comments happen to hold now and then: a risk reason quotes the comment under
the theme's label ("the router arrived late" under a staff theme read as a contradiction)."""

from __future__ import annotations

import random

import pytest

from cxml.text.nlp import Tokenizer
from cxml.text.themes import OTHER, ThemeModel, _evidence_terms

_STAFF = ["the friendly staff at the store", "staff sorted my bill", "staff at the store were kind"]
_APP = ["the app crashes at login", "app login fails again", "I can't find invoices in the app"]
# a topic too rare for a theme of its own: its words end up at the tail of the others' terms
_ROUTER = ["the router arrived late", "my router keeps rebooting"]


@pytest.fixture(scope="module")
def two_themes() -> ThemeModel:
    rng = random.Random(5)
    texts = []
    for i in range(240):
        text = rng.choice([_STAFF, _APP][i % 2]).capitalize() + "."
        if i % 40 == 0:
            text += " " + rng.choice(_ROUTER).capitalize() + "."
        texts.append(text)
    analysed = Tokenizer().analyse(texts, "en")
    return ThemeModel(n_themes=2, min_texts=20).fit(analysed, ["en"] * len(texts), texts)


def test_a_word_at_the_tail_of_a_themes_terms_does_not_put_a_comment_under_it(
    two_themes: ThemeModel,
) -> None:
    staff = next(t for t in two_themes.themes_.values() if "staff" in t.terms)
    assert "router" in staff.terms  # among its top terms, at a small weight
    probe = ["The router arrived late.", "My router keeps rebooting."]
    found = two_themes.match(probe, Tokenizer().analyse(probe, "en"), "en")
    assert [[m.id for m in f] for f in found] == [[OTHER], [OTHER]]


def test_a_comment_holding_a_themes_own_words_is_still_under_it(two_themes: ThemeModel) -> None:
    staff = next(t for t in two_themes.themes_.values() if "staff" in t.terms)
    probe = ["The staff at the store were kind. The router arrived late."]
    found = two_themes.match(probe, Tokenizer().analyse(probe, "en"), "en")
    assert [m.id for m in found[0]] == [staff.id]
    start, end = found[0][0].start, found[0][0].end
    assert "router" not in probe[0][start:end]  # the evidence is the staff, not the router


def test_evidence_terms_weigh_at_least_a_twentieth_of_the_strongest() -> None:
    weights = {"staff": 1.2, "store": 0.75, "kind": 0.5, "bill": 0.07, "router": 0.03}
    assert _evidence_terms(weights) == {"staff", "store", "kind", "bill"}
    assert _evidence_terms({}) == set()
