"""What people teach the churn-intent detector: corrections flip its reading of similar
clauses, the newest are held out and graded before and after, and nothing taught leaves the
shipped detector as it is."""

from __future__ import annotations

import pandas as pd
import pytest

from cxml.errors import ConfigError
from cxml.text.corrections import (
    MIN_CORRECTIONS,
    TaughtLeaveDetector,
    churn_intent_config,
    heldout_split,
    teach_leave,
)
from cxml.text.intents import load_default_leave

# The shipped detector may read the first as leaving (a router is not the relationship) and
# misses the second (leaving, said without a leaving word).
NOT_LEAVING = [
    "I'm done with the old router, the new one works.",
    "I'm done with the old modem, the new one works fine.",
    "I'm done with the old router now, the new one works great.",
    "I'm done with the old hub, the new one works.",
    "Done with the old router, the new one works well.",
    "I'm done with the old router and the new one works.",
]
LEAVING = [
    "Time to put my money somewhere that respects me.",
    "Time to put my money somewhere that actually respects me.",
    "Time to put our money somewhere that respects us.",
    "It's time to put my money somewhere that respects me.",
    "Time to put my money somewhere that respects its customers.",
    "Time to spend my money somewhere that respects me.",
]


def planted() -> pd.DataFrame:
    """Twelve corrections, alternating, one an hour: the newest four are held out."""
    rows = []
    for not_leaving, leaving in zip(NOT_LEAVING, LEAVING, strict=True):
        rows.append((not_leaving, "not"))
        rows.append((leaving, "switch"))
    return pd.DataFrame(
        {
            "correction_id": range(1, len(rows) + 1),
            "text": [t for t, _ in rows],
            "language": "en",
            "verdict": [v for _, v in rows],
            "span_start": None,
            "span_end": None,
            "created_at": pd.date_range("2026-01-01", periods=len(rows), freq="h"),
        }
    )


def test_corrections_flip_the_reading_of_held_out_clauses() -> None:
    taught = teach_leave(planted())
    assert taught.before is not None and taught.after is not None
    assert taught.before.corrections == 4 and taught.before.leave == 2
    assert taught.before.recall == 0.0  # shipped: misses both
    assert (taught.after.precision, taught.after.recall) == (1.0, 1.0)
    assert "held out" in taught.summary() and "taught P 1.00 / R 1.00" in taught.summary()
    assert taught.metrics()["corrections_leave_recall_taught"] == 1.0
    [[hit], none] = taught.detector.detect([LEAVING[0], NOT_LEAVING[0]], "en")
    assert hit["kind"] == "switch" and none == []


def test_nothing_taught_keeps_the_shipped_detector() -> None:
    taught = teach_leave(pd.DataFrame())
    assert taught.detector is None and taught.summary().startswith("no intent corrections yet")
    assert taught.metrics() == {
        "corrections": 0.0,
        "corrections_taught": 0.0,
        "taxonomy_examples": 0.0,
    }


@pytest.mark.parametrize("n", [1, 3, MIN_CORRECTIONS - 1])
def test_few_corrections_are_all_taught_and_it_says_they_are_too_few_to_measure(n: int) -> None:
    older, heldout, how = heldout_split(planted().head(n))
    assert len(older) == n and heldout.empty
    assert f"too few to measure their effect (need {MIN_CORRECTIONS})" in how
    taught = teach_leave(planted().head(n))
    assert taught.detector is not None and (taught.before, taught.after) == (None, None)
    assert taught.summary() == f"intent corrections: {how}"
    assert "corrections_heldout" not in taught.metrics()
    # the first correction is NOT_LEAVING[0] (not), the second LEAVING[0] (switch)
    assert taught.detector.detect([NOT_LEAVING[0]], "en") == [[]]
    leaving = taught.detector.detect([LEAVING[0]], "en")[0]
    assert [h["kind"] for h in leaving] == ([] if n == 1 else ["switch"])


def test_few_corrections_with_taxonomy_examples_show_no_figures() -> None:
    config = churn_intent_config({"examples": {"en": {"not": ["my flight was cancelled"]}}})
    taught = teach_leave(planted().head(3), config)
    assert taught.before is None and "P " not in taught.summary()
    assert taught.summary().endswith("; 1 taxonomy example phrases taught")


def test_a_detector_taught_nothing_reads_as_the_shipped_one() -> None:
    texts = ["I will cancel my subscription tomorrow.", *LEAVING[:1], *NOT_LEAVING[:1]]
    taught = TaughtLeaveDetector().fit([], [], [])
    assert taught.n_taught_ == 0
    assert taught.detect(texts, "en") == load_default_leave().detect(texts, "en")


def test_unrelated_text_reads_as_the_shipped_detector_does() -> None:
    shipped = load_default_leave()
    taught = TaughtLeaveDetector(base=shipped).fit(LEAVING, ["en"] * 6, ["switch"] * 6)
    texts = ["I will cancel my subscription tomorrow.", "The app keeps crashing."]
    assert taught.detect(texts, "en") == shipped.detect(texts, "en")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"examples": {"en": {"bored": ["x"]}}}, "kind 'bored'"),
        ({"kinds": "downgrade"}, "must be a list"),
        ({"examples": {"en": {"switch": "x"}}}, "must be a list of text"),
    ],
)
def test_a_bad_taxonomy_section_names_the_problem(section: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        churn_intent_config(section)


def test_taxonomy_examples_teach_a_new_kind() -> None:
    config = churn_intent_config(
        {"kinds": ["downgrade"], "examples": {"en": {"downgrade": ["dropping to the free plan"]}}}
    )
    assert config.all_kinds[-1] == "downgrade"
    taught = teach_leave(pd.DataFrame(), config)
    assert taught.detector is not None and taught.examples == 1
    [[hit]] = taught.detector.detect(["We are dropping to the free plan."], "en")
    assert hit["kind"] == "downgrade"
