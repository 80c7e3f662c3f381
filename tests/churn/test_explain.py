"""Reasons read as a retention agent would say them, in English and Japanese."""

from __future__ import annotations

from typing import Any

import pytest

from cxml.churn.explain import in_language, reason_text
from tests.conftest import english_words

MARCH = {"feedback_id": "F1", "date": "2026-03-14", "quote": "The bill was wrong again."}


@pytest.mark.parametrize(
    ("reason", "english", "japanese"),
    [
        (
            {"feature": "nps_last", "value": 2, "contribution": 0.8, "evidence": MARCH},
            "gave 2/10 in the latest NPS survey in March 2026",
            "2026年3月に直近のNPSで2/10と回答",
        ),
        (
            {
                "feature": "theme_billing_negative",
                "value": 0.81,
                "contribution": 0.4,
                "theme_label": "Billing and charges",
                "evidence": MARCH,
            },
            "wrote negatively about “Billing and charges” in March 2026",
            "2026年3月に「Billing and charges」について否定的に書いた",
        ),
        (
            {"feature": "intent_leave_90d", "value": 1, "contribution": 1.1, "evidence": MARCH},
            "spoke of leaving in March 2026",
            "2026年3月に離反（解約・乗り換え）の意向を示した",
        ),
        (
            {
                "feature": "intent_leave_90d",
                "value": 1,
                "contribution": 1.1,
                "evidence": {**MARCH, "kind": "switch"},
            },
            "spoke of switching to another provider in March 2026",
            "2026年3月に他社への乗り換えについて述べた",
        ),
        (
            {
                "feature": "intent_leave_90d",
                "value": 1,
                "contribution": 1.1,
                "evidence": {**MARCH, "kind": "threat"},
            },
            "threatened to cancel or switch unless things improve in March 2026",
            "2026年3月に改善されなければ解約・乗り換えすると警告した",
        ),
        (
            {
                "feature": "intent_leave_90d",
                "value": 1,
                "contribution": 1.1,
                "evidence": {**MARCH, "kind": "already_left"},
            },
            "said they have already cancelled or switched in March 2026",
            "2026年3月にすでに解約・乗り換えをしたと述べた",
        ),
        (
            {"feature": "intent_leave_90d", "value": 0, "contribution": -0.3},
            "has not talked about leaving in the last 90 days (lowers the risk)",
            "直近90日、離反の話はしていない（リスクを下げる要因）",
        ),
        (
            {"feature": "intent_cancel_90d", "value": 1, "contribution": 1.1, "evidence": MARCH},
            "said they want to cancel in March 2026",
            "2026年3月に解約の意向を示した",
        ),
        (
            {"feature": "sentiment_min_365d", "value": -0.7, "contribution": 0.5},
            "wrote something strongly negative in the last 365 days",
            "直近365日に強く否定的なコメントがあった",
        ),
        (  # the comment quoted: when it was written, not "in the last 365 days"
            {"feature": "sentiment_min_90d", "value": -0.7, "contribution": 0.5, "evidence": MARCH},
            "wrote something strongly negative in March 2026",
            "2026年3月に強く否定的なコメントがあった",
        ),
        (
            {"feature": "days_since_last_contact", "value": 78.6, "contribution": 0.2},
            "last in touch 79 days ago",
            "最後の接点は79日前",
        ),
        (  # one, not "1 days"
            {"feature": "days_since_last_contact", "value": 1.2, "contribution": 0.2},
            "last in touch 1 day ago",
            "最後の接点は1日前",
        ),
        (
            {"feature": "days_since_last_negative", "value": 0.3, "contribution": 0.2},
            "last negative feedback within the last day",
            "最後の否定的なフィードバックは1日以内",
        ),
        (
            {"feature": "days_since_last_negative", "value": 1, "contribution": 0.2},
            "last negative feedback 1 day ago",
            "最後の否定的なフィードバックは1日前",
        ),
        (
            {"feature": "contacts_30d", "value": 1, "contribution": 0.2},
            "1 contact in the last 30 days",
            "直近30日に1回の接点",
        ),
        (
            {"feature": "detractors_365d", "value": 1, "contribution": 0.2},
            "1 detractor answer in the last year",
            "直近1年に批判的な回答が1回",
        ),
        (
            {"feature": "tenure_days", "value": 12, "contribution": 0.3},
            "a customer for less than a month",
            "利用期間1か月未満",
        ),
        (
            {"feature": "tenure_days", "value": 31, "contribution": 0.3},
            "a customer for 1 month",
            "利用期間1か月",
        ),
        (
            {"feature": "tenure_days", "value": 120, "contribution": 0.3},
            "a customer for 4 months",
            "利用期間4か月",
        ),
        (
            {"feature": "attr_contract", "value": "monthly", "contribution": 1.2},
            "contract: monthly",
            "属性「contract」：monthly",
        ),
    ],
)
def test_reasons_in_plain_words(reason: dict[str, Any], english: str, japanese: str) -> None:
    assert reason_text(reason, "en") == english
    assert reason_text(reason, "ja") == japanese


def test_no_reason_reads_like_a_feature_name() -> None:
    features = [
        "nps_last", "nps_mean", "nps_min", "nps_trend", "detractor_last", "detractors_365d",
        "csat_last", "ces_mean", "sentiment_mean_90d", "sentiment_min_365d", "sentiment_trend",
        "intent_effort_90d", "intent_callback_90d", "days_since_last_negative",
        "contacts_90d", "channel_app_review_365d", "monthly_value",
    ]  # fmt: skip
    for feature in features:
        for value in (None, 0, 3.5, -0.4):
            for language in ("en", "ja"):
                text = reason_text(
                    {"feature": feature, "value": value, "contribution": 0.1}, language
                )
                assert "_" not in text and "=" not in text and "nan" not in text, (feature, text)


def test_stored_reasons_are_put_in_japanese_on_request() -> None:
    stored = [{"feature": "nps_last", "value": 3, "contribution": 0.5, "text": "nps last = 3"}]
    assert in_language(stored, "en")[0]["text"] == "gave 3/10 in the latest NPS survey"
    assert in_language(stored, "ja")[0]["text"].startswith("直近のNPSで3/10")


BILLING = {
    "feature": "theme_billing_negative",
    "value": 0.81,
    "contribution": 0.4,
    "theme_label": "Billing and charges",
    "evidence": MARCH,
}


@pytest.mark.parametrize(
    ("labels", "japanese"),
    [
        ({"billing": "請求と料金"}, "2026年3月に「請求と料金」について否定的に書いた"),
        # the taxonomy gives no Japanese label for it: the label stored with the reason
        ({"network": "回線の安定性"}, "2026年3月に「Billing and charges」について否定的に書いた"),
        (None, "2026年3月に「Billing and charges」について否定的に書いた"),
    ],
)
def test_japanese_reasons_name_a_theme_by_its_japanese_label_when_there_is_one(
    labels: dict[str, str] | None, japanese: str
) -> None:
    assert reason_text(BILLING, "ja", labels) == japanese
    assert in_language([BILLING], "ja", labels)[0]["text"] == japanese
    assert (
        reason_text(BILLING, "en") == "wrote negatively about “Billing and charges” in March 2026"
    )


@pytest.mark.parametrize(
    "feature",
    [
        "nps_last", "nps_mean", "nps_min", "nps_trend", "detractor_last", "detractors_365d",
        "csat_last", "csat_mean", "ces_last", "ces_mean", "sentiment_mean_90d",
        "sentiment_min_365d", "sentiment_trend", "intent_leave_90d", "intent_effort_90d",
        "intent_callback_90d", "days_since_last_negative", "days_since_last_contact",
        "contacts_90d", "channel_app_review_365d", "channel_line_365d", "tenure_days",
        "monthly_value", "theme_billing", "theme_billing_negative", "theme_other",
        "attr_plan", "survival_hazard",
    ],
)  # fmt: skip
def test_japanese_reasons_have_no_english_words_but_names_from_the_data(feature: str) -> None:
    for value in (None, 0, 3.5, -0.4, 400):
        reason = {
            "feature": feature,
            "value": value,
            "contribution": -0.2,
            "theme_label": "Billing and charges" if feature != "theme_other" else "other",
            "evidence": MARCH,
        }
        text = reason_text(reason, "ja", {"billing": "請求と料金"})
        named = {"plan", "survival_hazard"}  # the data's own names: an attribute, a feature
        assert not english_words(text, named=named), (feature, value, text)
