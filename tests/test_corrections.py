"""People correct intents: stored with who and when, replaced with history kept, refused
with a code when the comment, intent or verdict is unknown (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from cxml.corrections import leave_corrections, list_corrections, record_correction
from cxml.errors import ConfigError, NotFoundError
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW

COMMENTS = [
    ("F1", "C1", "I'm cancelling my account and switching to another bank.", "en"),
    ("F2", "C1", "My flight was cancelled and nobody helped.", "en"),
    ("F3", "C2", "The app keeps crashing.", "en"),
    ("F4", "C2", None, "en"),
]


def small_store(store: Store, settings: Settings, folder: Path, *, analyse: bool = True) -> None:
    """Two customers, four comments (one without text), analysed by the shipped defaults."""
    from cxml.ingest import ingest_file
    from cxml.text.training import analyze_feedback, default_pipeline

    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": ["C1", "C2"], "signup_date": ["2025-01-01", "2025-02-01"]}).to_csv(
        folder / "customers.csv", index=False
    )
    pd.DataFrame(
        [
            {
                "feedback_id": f,
                "customer_id": c,
                "created_at": "2025-06-05",
                "channel": "email",
                "text": t,
                "language": lang,
                "nps": 3,
            }
            for f, c, t, lang in COMMENTS
        ]
    ).to_csv(folder / "feedback.csv", index=False)
    ingest_file(store, "customers", folder / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", folder / "feedback.csv", settings=settings, now=NOW)
    if analyse:
        analyze_feedback(store, default_pipeline(), "defaults", ["F1", "F2", "F3"], now=NOW)


def test_a_correction_is_stored_with_who_when_and_the_clause(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    small_store(store, settings, tmp_path)
    made = record_correction(store, "F2", "leave", "not", note="a flight", actor="aiko", now=NOW)
    assert made["status"] == "recorded"
    assert (made["created_by"], made["created_at"], made["note"]) == ("aiko", NOW, "a flight")
    assert made["customer_id"] == "C1" and made["language"] == "en"
    assert "flight" in made["text"]
    [listed] = list_corrections(store)
    assert listed["correction_id"] == made["correction_id"] and listed["verdict"] == "not"


def test_a_second_verdict_replaces_the_first_and_keeps_it_as_history(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    small_store(store, settings, tmp_path)
    first = record_correction(store, "F3", "leave", "switch", actor="aiko", now=NOW)
    again = record_correction(store, "F3", "leave", "switch", actor="aiko", now=NOW)
    assert again["status"] == "unchanged" and again["correction_id"] == first["correction_id"]
    later = NOW + timedelta(hours=1)
    second = record_correction(store, "F3", "leave", "not", actor="ken", now=later)
    assert second["status"] == "replaced"
    [current] = list_corrections(store)
    assert (current["verdict"], current["created_by"]) == ("not", "ken")
    history = list_corrections(store, with_superseded=True)
    assert [h["verdict"] for h in history] == ["not", "switch"]
    assert history[1]["superseded_at"] == later
    assert leave_corrections(store)["verdict"].tolist() == ["not"]


@pytest.mark.parametrize(
    ("feedback_id", "intent", "verdict", "error", "field"),
    [
        ("NOPE", "leave", "not", NotFoundError, None),
        ("F1", "leave", "bored", ConfigError, "verdict"),
        ("F1", "mood", "not", ConfigError, "intent"),
        ("F1", "effort", "switch", ConfigError, "verdict"),
        ("F4", "leave", "not", ConfigError, "feedback_id"),
    ],
)
def test_unknown_comments_intents_and_verdicts_are_refused(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    feedback_id: str,
    intent: str,
    verdict: str,
    error: type[Exception],
    field: str | None,
) -> None:
    small_store(store, settings, tmp_path, analyse=False)
    with pytest.raises(error) as raised:
        record_correction(store, feedback_id, intent, verdict, actor="aiko", now=NOW)
    if field is not None:
        assert getattr(raised.value, "field", None) == field
    assert list_corrections(store) == []


@pytest.mark.parametrize(("intent", "listed"), [("leave", 1), ("callback", 0)])
def test_corrections_are_listed_by_a_known_intent_even_when_none_has_it(
    store: Store, settings: Settings, tmp_path: Path, intent: str, listed: int
) -> None:
    small_store(store, settings, tmp_path, analyse=False)
    record_correction(store, "F1", "leave", "switch", actor="aiko", now=NOW)
    assert len(list_corrections(store, intent=intent)) == listed


@pytest.mark.parametrize("intent", ["zzz", "Leave", ""])
def test_listing_corrections_by_an_unknown_intent_is_refused_naming_the_known_ones(
    store: Store, settings: Settings, tmp_path: Path, intent: str
) -> None:
    small_store(store, settings, tmp_path, analyse=False)
    with pytest.raises(ConfigError) as raised:
        list_corrections(store, intent=intent)
    assert (raised.value.field, raised.value.value) == ("intent", intent)
    assert (
        str(raised.value) == f"intent={intent!r} is not one of leave, competitor, effort, callback"
    )
