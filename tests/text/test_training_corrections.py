"""`cxml train text` learns from the store's intent corrections: before any, it says so and
keeps the shipped detector; after, it reports leave precision and recall on the held-out
corrections, and `cxml analyze --store` with the new model reads the corrected clauses anew."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from cxml.corrections import record_correction
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.analysis import analysed_timeline
from tests.conftest import NOW, run_cxml
from tests.text.test_corrections import LEAVING, NOT_LEAVING

FILLER = [
    "The app keeps crashing when I open the bill.",
    "Great support, the agent fixed my internet quickly.",
    "My invoice was wrong again this month.",
    "Delivery was late and the box was damaged.",
    "Love the new features, very easy to use.",
    "The price went up without any warning.",
    "Waited an hour on hold to talk to someone.",
    "Thanks for the quick refund.",
    "Coverage at home is poor, calls drop.",
    "The website is slow and confusing.",
]


def _world(folder: Path, settings: Settings) -> dict[str, str]:
    """Four customers; the planted comments and some ordinary ones, analysed by the defaults.
    Returns text -> feedback_id of the planted ones."""
    from cxml.ingest import ingest_file
    from cxml.store.records import feedback_frame
    from cxml.text.training import analyze_feedback, default_pipeline

    planted = [t for pair in zip(NOT_LEAVING, LEAVING, strict=True) for t in pair]
    texts = planted + FILLER * 3
    pd.DataFrame({"customer_id": [f"C{i}" for i in range(4)], "signup_date": "2025-01-01"}).to_csv(
        folder / "customers.csv", index=False
    )
    pd.DataFrame(
        {
            "feedback_id": [f"F{i:03d}" for i in range(len(texts))],
            "customer_id": [f"C{i % 4}" for i in range(len(texts))],
            "created_at": [
                (pd.Timestamp("2025-05-01") + pd.Timedelta(hours=7 * i)).isoformat()
                for i in range(len(texts))
            ],
            "channel": "email",
            "text": texts,
            "language": "en",
            "nps": [(3 * i) % 11 for i in range(len(texts))],
        }
    ).to_csv(folder / "feedback.csv", index=False)
    store = Store.open(settings)
    ingest_file(store, "customers", folder / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", folder / "feedback.csv", settings=settings, now=NOW)
    ids = feedback_frame(store, with_text=True)["feedback_id"].tolist()
    analyze_feedback(store, default_pipeline(), "defaults", ids, now=NOW)
    store.close()
    return {t: f"F{i:03d}" for i, t in enumerate(planted)}


def _leave(store: Store, customer_id: str, feedback_id: str) -> list[dict]:
    event = next(
        e for e in analysed_timeline(store, customer_id) if e["feedback_id"] == feedback_id
    )
    return [i for i in event["intents"] if i["intent"] == "leave"]


@pytest.mark.slow
def test_train_text_learns_the_corrections_and_grades_them_held_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cxml.db"
    settings = Settings(database_url=url)
    ids = _world(tmp_path, settings)
    before = run_cxml(["train", "text"], tmp_path, database_url=url)
    assert before.returncode == 0, before.stderr[-2000:]
    assert "no intent corrections yet" in before.stdout + before.stderr

    store = Store.open(settings)
    for n, (text, feedback_id) in enumerate(ids.items()):
        verdict = "not" if text in NOT_LEAVING else "switch"
        record_correction(
            store, feedback_id, "leave", verdict, actor="aiko", now=NOW + timedelta(hours=n)
        )
    store.close()
    after = run_cxml(["train", "text", "--json"], tmp_path, database_url=url)
    assert after.returncode == 0, after.stderr[-2000:]
    report = json.loads(after.stdout)["intent_corrections"]
    assert report["corrections"] == 12 and "newest 4 of 12" in report["heldout"]
    assert report["shipped"]["recall"] == 0.0
    assert (report["taught"]["precision"], report["taught"]["recall"]) == (1.0, 1.0)

    promoted = run_cxml(
        ["promote", "--model", "text", "--version", "2", "--force"], tmp_path, database_url=url
    )
    analysed = run_cxml(["analyze", "--store", "--all"], tmp_path, database_url=url)
    assert analysed.returncode == 0, (promoted.stdout, promoted.stderr, analysed.stderr[-2000:])
    store = Store.open(settings)
    newest_leaving, newest_router = ids[LEAVING[-1]], ids[NOT_LEAVING[-1]]
    assert [
        h["kind"] for h in _leave(store, f"C{int(newest_leaving[1:]) % 4}", newest_leaving)
    ] == ["switch"]
    assert _leave(store, f"C{int(newest_router[1:]) % 4}", newest_router) == []
    store.close()
