"""`cxml train text` learns from the store's intent corrections: before any, it says so and
keeps the shipped detector; the first few are taught and it says they are too few to
measure; from ``MIN_CORRECTIONS`` on it reports leave precision and recall on the held-out
corrections, and `cxml analyze --store` with the new model reads the corrected clauses anew."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from cxml.corrections import leave_corrections, record_correction
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.analysis import analysed_timeline
from cxml.text.corrections import MIN_CORRECTIONS, teach_leave
from cxml.text.intents import load_default_leave
from tests.conftest import NOW, run_cxml
from tests.states import cxml, must
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
# The shipped detector misses the first (leaving, without a leaving word) and reads the second
# as already_left (it is the router that was cancelled, not us).
JA_LEAVING = "もっと大事にしてくれる会社にお金を使いたい。"
JA_NOT_LEAVING = "ルーターを解約して新しいのにしました。"
JA_FILLER = [
    "アプリがすぐに落ちます。",
    "サポートの方がとても親切でした。",
    "今月も請求書の金額が間違っていました。",
    "配達が遅れて箱が潰れていました。",
    "新しい機能が使いやすくて気に入っています。",
    "予告なしに料金が上がりました。",
    "電話が一時間もつながりませんでした。",
    "返金が早くて助かりました。",
    "家の中で電波が弱く、通話が切れます。",
    "ウェブサイトが遅くて分かりにくいです。",
]


def _world(folder: Path, settings: Settings, japanese: bool = False) -> dict[str, str]:
    """Four customers; the planted comments and some ordinary ones (English, and Japanese
    too when ``japanese``), analysed by the defaults. Returns text -> feedback_id of the
    planted ones."""
    from cxml.ingest import ingest_file
    from cxml.store.records import feedback_frame
    from cxml.text.training import analyze_feedback, default_pipeline

    planted = [t for pair in zip(NOT_LEAVING, LEAVING, strict=True) for t in pair]
    texts = planted + FILLER * 3
    if japanese:
        planted += [JA_LEAVING, JA_NOT_LEAVING]
        texts = planted + FILLER * 3 + JA_FILLER * 2
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
            "language": ["en" if t.isascii() else "ja" for t in texts],
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


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store of English and Japanese comments, analysed, without corrections (built once;
    each test works on its own copy of ``cxml.db``)."""
    folder = tmp_path_factory.mktemp("bilingual")
    ids = _world(folder, Settings(database_url=f"sqlite:///{folder}/cxml.db"), japanese=True)
    return folder / "cxml.db", ids


def _copy(bilingual: tuple[Path, dict[str, str]], folder: Path) -> tuple[str, dict[str, str]]:
    database, ids = bilingual
    shutil.copy(database, folder / "cxml.db")
    return f"sqlite:///{folder}/cxml.db", ids


def _correct(url: str, ids: dict[str, str], verdicts: list[tuple[str, str]]) -> None:
    """Record these (text, verdict) churn-intent corrections, one a minute after those in the
    store, in this order."""
    store = Store.open(Settings(database_url=url))
    before = len(leave_corrections(store))
    for n, (text, verdict) in enumerate(verdicts, start=before):
        record_correction(
            store, ids[text], "leave", verdict, actor="aiko", now=NOW + timedelta(minutes=n)
        )
    assert len(leave_corrections(store)) == before + len(verdicts)
    store.close()


FIRST = [(JA_LEAVING, "switch")]
JA_ONLY = [*FIRST, (JA_NOT_LEAVING, "not")]
MIXED = [*JA_ONLY, (LEAVING[0], "switch")]
ENOUGH = [
    *JA_ONLY,
    *[
        (t, v)
        for pair in zip(NOT_LEAVING, LEAVING, strict=True)
        for t, v in zip(pair, ("not", "switch"), strict=True)
    ],
]


def _reads_leave(detector: object, text: str) -> bool:
    language = "en" if text.isascii() else "ja"
    return bool(detector.detect([text], language)[0])  # type: ignore[attr-defined]


@pytest.mark.parametrize("verdicts", [FIRST, JA_ONLY, MIXED, ENOUGH], ids=len)
def test_the_corrections_in_the_store_are_taught_from_the_first_one(
    bilingual: tuple[Path, dict[str, str]], tmp_path: Path, verdicts: list[tuple[str, str]]
) -> None:
    url, ids = _copy(bilingual, tmp_path)
    _correct(url, ids, verdicts)
    store = Store.open(Settings(database_url=url))
    taught = teach_leave(leave_corrections(store))
    store.close()
    assert taught.detector is not None and taught.corrections == len(verdicts)
    shipped = load_default_leave()
    for text, verdict in verdicts:
        assert _reads_leave(taught.detector, text) == (verdict != "not"), text
    flipped = [t for t, v in verdicts if _reads_leave(shipped, t) != (v != "not")]
    assert JA_LEAVING in flipped and (JA_NOT_LEAVING in flipped) == (len(verdicts) > 1)
    if len(verdicts) < MIN_CORRECTIONS:
        assert taught.before is None and taught.after is None
        assert "none held out: too few to measure their effect" in taught.summary()
        assert "P " not in taught.summary()
    else:  # the newest 30 %: the last four English ones, two of each
        assert "the newest 4 of 14 corrections held out" in taught.summary()
        assert taught.before is not None and taught.after is not None
        assert taught.before.recall == 0.0
        assert (taught.after.precision, taught.after.recall) == (1.0, 1.0)


def test_train_text_teaches_the_first_corrections_and_says_so_once(
    bilingual: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    url, ids = _copy(bilingual, tmp_path)
    none = must(cxml(tmp_path, url, "train", "text"))
    assert (none.out + none.err).count("no intent corrections yet") == 1

    _correct(url, ids, FIRST)  # a Japanese store's first correction: this crashed
    first = must(cxml(tmp_path, url, "train", "text"))
    said = first.out + first.err
    assert said.count("intent corrections: the one used for training, none held out") == 1
    assert f"too few to measure their effect (need {MIN_CORRECTIONS})" in first.out
    assert "shipped P" not in said

    _correct(url, ids, MIXED[1:])
    mixed = must(cxml(tmp_path, url, "train", "text", "--json"))
    report = json.loads(mixed.out)["intent_corrections"]
    assert report["corrections"] == 3 and report["heldout"].startswith("all 3 used for training")
    assert report["shipped"] is None and report["taught"] is None
