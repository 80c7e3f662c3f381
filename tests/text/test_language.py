"""Language detection on short comments (issue #30): a known language, not a rare guess."""

from __future__ import annotations

from typing import Any

import pytest

from cxml.text.language import LanguageDetector, looks_english

SHORT_ENGLISH = ["Very poor service", "Too expensive", "Few templates", "More templates"]
LONG_ENGLISH = [
    "The engineer arrived on time and fixed the broadband in under an hour.",
    "I was kept on hold for forty minutes before anyone answered the phone.",
    "Billing has been wrong three months in a row and nobody calls me back.",
]


def test_py3langid_alone_reads_these_short_english_comments_as_other_languages() -> None:
    from cxml.text.language import _load_identifier

    guesses = [_load_identifier().classify(t) for t in SHORT_ENGLISH]
    assert all(code != "en" and probability < 0.9 for code, probability in guesses)


def test_short_comments_in_an_english_batch_are_english() -> None:
    found = LanguageDetector().detect([*LONG_ENGLISH, *SHORT_ENGLISH])
    assert [code for code, _ in found] == ["en"] * 7


@pytest.mark.parametrize("text", SHORT_ENGLISH)
def test_a_short_english_comment_alone_is_english(text: str) -> None:
    assert LanguageDetector().detect([text])[0][0] == "en"


def test_short_japanese_without_kana_alone_is_japanese() -> None:
    assert LanguageDetector().detect(["料金", "請求書"]) == [("ja", 0.9), ("ja", 0.9)]


def test_a_sure_detection_of_another_language_is_kept_and_a_short_one_takes_its_fallback() -> None:
    found = LanguageDetector().detect(
        [
            "Der Kundendienst war sehr freundlich und hat mir schnell geholfen.",
            "Zu teuer",
            *LONG_ENGLISH,
        ],
        fallback=[None, "de", None, None, None],
    )
    assert [code for code, _ in found] == ["de", "de", "en", "en", "en"]


def test_the_batch_language_set_holds_only_sure_and_known_languages() -> None:
    texts = [*LONG_ENGLISH, "No ones perfect", "Direct debit - easy", "YES I WIL", "Why do u ask?"]
    assert {code for code, _ in LanguageDetector().detect(texts)} == {"en"}
    japanese = LanguageDetector().detect(["OK", "Thanks"], known={"ja"})
    assert {code for code, _ in japanese} <= {"ja", "en"}


def test_english_words_are_recognised() -> None:
    assert all(looks_english(t) for t in SHORT_ENGLISH)
    assert not looks_english("Sehr gut")
    assert not looks_english("料金が高い")


def test_a_short_english_comment_keeps_its_themes_and_sentiment(demo_text_pipeline: Any) -> None:
    results = demo_text_pipeline.analyze(["Very poor service", "Too expensive"])
    assert [r["language"] for r in results] == ["en", "en"]
    english = demo_text_pipeline.analyze([LONG_ENGLISH[0]])[0]
    assert {r["sentiment"]["source"] for r in results} == {english["sentiment"]["source"]}
    assert [t["id"] for t in results[1]["themes"]] != ["other"]
    given = demo_text_pipeline.analyze(["Too expensive"], languages=["af"])[0]
    assert given["sentiment"]["source"] != english["sentiment"]["source"]  # what it would lose


def test_a_short_comment_alone_takes_a_language_the_store_holds(demo_text_pipeline: Any) -> None:
    assert demo_text_pipeline.usual_language_ in {"en", "ja"}
    found = demo_text_pipeline.analyze(["料金", "Few templates", "解約"])
    assert [r["language"] for r in found] == ["ja", "en", "ja"]


def test_an_unsure_unsupported_language_with_english_words_is_analysed_as_english(
    demo_text_pipeline: Any,
) -> None:
    chosen = demo_text_pipeline._supported(
        ["af", "de", "af"],
        [0.19, 0.99, 1.0],
        ["Very poor service", "Sehr gut", "Very poor service"],
    )
    assert chosen == ["en", "de", "af"]  # a sure detection and a given language are kept


STORE_FEEDBACK = (
    "feedback_id,customer_id,created_at,channel,text,language\n"
    "a1,C1,2025-01-02,email,Le technicien est arrivé en retard et rien ne marche,fr\n"
    "a2,C1,2025-02-02,email,La facture est encore fausse ce mois-ci,fr\n"
    "b1,C1,2025-03-02,chat,Trop cher,\n"  # its customer writes French
    "b2,C2,2025-03-02,email,Trop cher,\n"  # a new customer: its channel's usual language
    "b3,C3,2025-03-02,phone,Trop cher,\n"  # nothing known: the store's (English)
)


@pytest.mark.parametrize(
    "feedback, expected", [(STORE_FEEDBACK, {"b1": "fr", "b2": "fr", "b3": "en"})]
)
def test_analyze_store_passes_the_customers_then_the_channels_usual_language(
    store: Any, settings: Any, tmp_path: Any, feedback: str, expected: dict[str, str]
) -> None:
    from cxml.ingest import ingest_file
    from cxml.jobs.analyze import analyze_store
    from cxml.store.analysis import usual_languages
    from tests.conftest import NOW

    (tmp_path / "customers.csv").write_text(
        "customer_id,signup_date\nC1,2024-01-01\nC2,2024-01-01\nC3,2024-01-01\n", encoding="utf-8"
    )
    (tmp_path / "feedback.csv").write_text(feedback, encoding="utf-8")
    ingest_file(store, "customers", tmp_path / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", tmp_path / "feedback.csv", settings=settings, now=NOW)
    assert usual_languages(store, ["b1", "b2", "b3", "missing"]) == ["fr", "fr", None, None]
    analyze_store(
        store,
        settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"}),
        now=NOW,
        batch_rows=1,  # the French comments analysed in earlier batches than the short ones
    )
    analysed = store.table_frame("feedback_analysis").set_index("feedback_id")["language"]
    assert {i: analysed[i] for i in expected} == expected
