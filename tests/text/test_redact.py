"""PII redaction beyond e-mails and phones (issue #29 §5): names, addresses, postcodes, dates
of birth and account numbers, English and Japanese, and the ordinary words it must leave."""

from __future__ import annotations

import pytest

from cxml.text.redact import redact, redacted_reject


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The agent Rosalind Pike hung up on me", "The agent [NAME] hung up on me"),
        ("Mrs. Okonkwo at the branch was lovely", "Mrs. [NAME] at the branch was lovely"),
        (
            "Hi, my name is Felix Draper, account no 4471239",
            "Hi, my name is [NAME], account no [ACCOUNT]",
        ),
        ("I talked with Bernadette yesterday", "I talked with [NAME] yesterday"),
        ("Sorry to moan.\nRegards,\nGwen Talbot", "Sorry to moan.\nRegards,\n[NAME]"),
        ("deliver to 9 Orchard Lane, sw11 4pq please", "deliver to [ADDRESS], [POSTCODE] please"),
        ("Flat 2, 17 Mill Road still has no fibre", "[ADDRESS] still has no fibre"),
        ("my d.o.b. is 02/09/1971", "my d.o.b. is [BIRTH_DATE]"),
        (
            "born 5th of June 1964, a customer for decades",
            "born [BIRTH_DATE], a customer for decades",
        ),
        ("policy number PX-20391 was not renewed", "policy number [ACCOUNT] was not renewed"),
        ("ship it to Austin, TX 78701", "ship it to Austin, TX [POSTCODE]"),
        (
            "Look me up: Dora blake - 22 cherry tree road, ls12 7hw. 11/03/79. Account holder.",
            "Look me up: [NAME] - [ADDRESS], [POSTCODE]. [BIRTH_DATE]. Account holder.",
        ),
        ("サポートの斎藤さんに助けてもらいました", "サポートの[NAME]さんに助けてもらいました"),
        ("松本優子と申します。請求について", "[NAME]と申します。請求について"),
        ("担当者は井上でした", "担当者は[NAME]でした"),
        ("京都府京都市左京区吉田本町1番地に送ってください", "[ADDRESS]に送ってください"),
        ("〒604-8001 に住んでいます", "[POSTCODE] に住んでいます"),
        ("生年月日：昭和55年3月8日", "生年月日：[BIRTH_DATE]"),
        ("お客様番号は77120934です", "お客様番号は[ACCOUNT]です"),
    ],
)
def test_personal_details_are_redacted_and_their_cue_kept(text: str, expected: str) -> None:
    assert redact(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "I spoke to Customer Services twice and the Manager once",
        "Thank you Team, great job",
        "The engineer was late again",
        "I waited 3 hours on the phone",
        "size 8 would be way too big",
        "It took 2 weeks down the line to fix",
        "I have been a member for 12 years",
        "my contract ends on 2025-03-31",
        "order 12345 cost 39.99",
        "level b2 3rd floor is the office",
        "I am So Disappointed",
        "お客様センターに電話しました",
        "皆様に感謝しています",
        "東京と大阪で3日間つながらなかった",
        "新宿店で2個買いました",
        "一平ちゃんが好き",
    ],
)
def test_ordinary_words_and_numbers_are_left_alone(text: str) -> None:
    assert redact(text) == (text, {})


def test_counts_name_each_kind_found() -> None:
    _, counts = redact("Mr Ames, 4 Kiln Way, ox4 1aa, DOB 1/2/1960, account 99120044")
    assert counts == {"name": 1, "address": 1, "postcode": 1, "birth_date": 1, "account": 1}


def test_a_refused_rows_words_lose_names_and_addresses_too() -> None:
    record = {
        "errors": [{"field": "score", "value": "eleven", "reason": "not a number"}],
        "raw": {"customer_id": "C1", "text": "I spoke to Wendell Ross at 4 Quay Street"},
    }
    assert redacted_reject(record)["raw"]["text"] == "I spoke to [NAME] at [ADDRESS]"
