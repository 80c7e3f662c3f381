from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxml import contract
from cxml.errors import ConfigError

NOW = datetime(2025, 7, 1)


def feedback(**columns: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "feedback_id": ["f1"],
        "customer_id": ["c1"],
        "created_at": ["2025-01-02"],
        "text": ["fine"],
    }
    base.update(columns)
    size = max(len(v) for v in base.values())
    return pd.DataFrame(
        {k: (v * size if len(v) == 1 else v) for k, v in base.items()}, dtype=object
    )


def validate(frame: pd.DataFrame, **kwargs: object) -> contract.Validated:
    options: dict[str, object] = {"now": NOW, "max_text_chars": 100}
    options.update(kwargs)
    return contract.validate_feedback(frame, np.arange(1, len(frame) + 1), **options)  # type: ignore[arg-type]


def test_out_of_range_nps_is_named_with_row_field_and_value() -> None:
    result = validate(feedback(feedback_id=["a", "b"], nps=["7", "11"]))
    assert list(result.valid["feedback_id"]) == ["a"]
    assert result.errors.to_dict("records") == [
        {"row": 2, "field": "nps", "value": "11", "reason": "nps=11 is outside 0-10"}
    ]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("csat", "0", "csat=0 is outside 1-5"),
        ("ces", "8", "ces=8 is outside 1-7"),
        ("nps", "7.5", "nps=7.5 is not a whole number (expected 0-10)"),
        ("csat", "five", "csat='five' is not a number (expected 1-5)"),
        ("feedback_id", "", "feedback_id is required and is empty"),
        ("customer_id", "  ", "customer_id is required and is empty"),
        ("created_at", "", "created_at is required and is empty"),
        ("language", "english please!", "language='english please!' is not a language code"),
    ],
)
def test_each_bad_value_gets_its_own_reason(column: str, value: str, reason: str) -> None:
    result = validate(feedback(**{column: [value]}))
    assert result.valid.empty
    assert result.errors["field"].tolist() == [column]
    assert result.errors["reason"].iloc[0].startswith(reason)


def test_dates_are_iso_unless_a_format_is_declared() -> None:
    frame = feedback(created_at=["31/12/2024"])
    refused = validate(frame)
    assert "is not an ISO 8601 date" in refused.errors["reason"].iloc[0]
    accepted = validate(frame, date_format="%d/%m/%Y")
    assert accepted.valid["created_at"].iloc[0] == pd.Timestamp("2024-12-31")


def test_offsets_are_converted_to_utc() -> None:
    result = validate(feedback(created_at=["2025-01-02T09:00:00+09:00"]))
    assert result.valid["created_at"].iloc[0] == pd.Timestamp("2025-01-02 00:00:00")


def test_future_feedback_is_refused() -> None:
    result = validate(feedback(created_at=["2025-07-03"]))
    assert "is in the future" in result.errors["reason"].iloc[0]


def test_text_may_be_empty_when_a_score_exists_but_not_otherwise() -> None:
    result = validate(feedback(feedback_id=["a", "b"], text=["", ""], nps=["9", ""]))
    assert list(result.valid["feedback_id"]) == ["a"]
    assert result.valid["text"].iloc[0] is None
    assert "nothing to keep" in result.errors["reason"].iloc[0]


def test_text_over_the_limit_is_refused() -> None:
    result = validate(feedback(text=["x" * 101]))
    assert result.errors["reason"].iloc[0].startswith("text is longer than the limit of 100")


def test_every_problem_of_a_row_is_reported() -> None:
    result = validate(feedback(nps=["12"], csat=["9"], created_at=["nope"]))
    assert sorted(result.errors["field"]) == ["created_at", "csat", "nps"]
    assert result.rejected_rows.tolist() == [1]


def test_undecodable_bytes_and_nul_are_refused() -> None:
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    result = validate(feedback(feedback_id=["a", "b"], text=[bad, "a\x00b"]))
    assert result.valid.empty
    reasons = result.errors["reason"].tolist()
    assert "not valid in the file's encoding" in reasons[0] and "caf\\xe9" in reasons[0]
    assert "NUL" in reasons[1]


@pytest.mark.parametrize(
    ("given_value", "expected", "original"),
    [
        ("email", "email", None),
        ("E-Mail", "email", "E-Mail"),
        ("Live Chat", "chat", "Live Chat"),
        ("APP_REVIEW", "app_review", None),
        ("App Store", "app_review", "App Store"),
        ("LINE", "line", None),
        ("WhatsApp", "whatsapp", None),
        ("call notes", "phone", "call notes"),
        ("carrier pigeon", "other", "carrier pigeon"),
        ("", "other", None),
    ],
)
def test_channels_are_normalised_and_unknown_ones_kept(
    given_value: str, expected: str, original: str | None
) -> None:
    channel, kept = contract.normalize_channel(pd.Series([given_value], dtype=object))
    assert channel.iloc[0] == expected
    assert kept.iloc[0] == original


@given(st.one_of(st.integers(-50, 50), st.floats(-20, 20, allow_nan=False)))
def test_nps_is_accepted_exactly_when_whole_and_within_0_to_10(value: float) -> None:
    result = validate(feedback(nps=[str(value)]))
    whole = float(value).is_integer()
    assert (len(result.valid) == 1) == (whole and 0 <= value <= 10)
    if len(result.valid):
        assert int(result.valid["nps"].iloc[0]) == int(value)


@given(st.text(min_size=1, max_size=30))
def test_any_channel_text_lands_in_a_known_channel(value: str) -> None:
    channel, _ = contract.normalize_channel(pd.Series([value], dtype=object))
    assert channel.iloc[0] in contract.CHANNELS


def test_attributes_keep_text_and_type_plain_numbers() -> None:
    typed = contract.typed_attribute_values(
        pd.Series(["42", "3.50", "02134", "Yes", "", "1e3", "-0.5"], dtype=object)
    )
    assert typed.tolist() == [42, 3.5, "02134", "Yes", None, 1000.0, -0.5]


def test_tenure_months_gives_a_signup_date() -> None:
    frame = pd.DataFrame({"customer_id": ["a"], "tenure_months": ["12"]}, dtype=object)
    result = contract.validate_customers(frame, np.array([1]), now=NOW, as_of=datetime(2025, 1, 1))
    assert result.valid["signup_date"].iloc[0] == pd.Timestamp("2024-01-01")
    assert "signup_date" in result.valid.attrs["present"]


def test_churn_before_signup_is_refused() -> None:
    frame = pd.DataFrame(
        {"customer_id": ["a"], "signup_date": ["2024-05-01"], "churn_date": ["2024-04-01"]},
        dtype=object,
    )
    result = contract.validate_customers(frame, np.array([7]), now=NOW)
    assert result.errors.to_dict("records")[0]["row"] == 7
    assert "before signup_date" in result.errors["reason"].iloc[0]


def test_negative_monthly_value_is_refused() -> None:
    frame = pd.DataFrame(
        {"customer_id": ["a"], "signup_date": ["2024-05-01"], "monthly_value": ["-3"]}, dtype=object
    )
    result = contract.validate_customers(frame, np.array([1]), now=NOW)
    assert result.errors["field"].tolist() == ["monthly_value"]


def test_mapping_pairs_split_on_the_last_equals_sign() -> None:
    assert contract.parse_mapping(["Customer ID=customer_id", "a=b=c"]) == {
        "Customer ID": "customer_id",
        "a=b": "c",
    }
    with pytest.raises(ConfigError, match="expected SOURCE=TARGET"):
        contract.parse_mapping(["customer_id"])


def test_mapping_refuses_unknown_sources_and_collisions() -> None:
    with pytest.raises(ConfigError, match="not in the file"):
        contract.apply_mapping(["a", "b"], {"x": "customer_id"}, source="f.csv")
    with pytest.raises(ConfigError, match="would both become 'customer_id'"):
        contract.apply_mapping(["id", "customer_id"], {"id": "customer_id"}, source="f.csv")


NUMBERISH = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["1e308", "-1e308", "inf", "nan", "1e999", "0x10", "", " ", "1,5"]),
    st.text(max_size=12),
)
DATEISH = st.one_of(
    st.dates().map(str),
    st.sampled_from(["1800-01-01", "0001-01-01", "9999-12-31", "2025-02-30", "", "today"]),
    st.text(max_size=12),
)


@given(value=NUMBERISH, tenure=NUMBERISH, signup=DATEISH, churn=DATEISH)
def test_any_customer_row_is_kept_or_refused_with_a_reason_never_an_exception(
    value: str, tenure: str, signup: str, churn: str
) -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "signup_date": [signup],
            "churn_date": [churn],
            "monthly_value": [value],
            "tenure_months": [tenure],
        },
        dtype=object,
    )
    result = contract.validate_customers(raw, np.array([1]), now=NOW)
    assert len(result.valid) + len(result.rejected_rows) == 1
    if len(result.valid):
        kept = result.valid.iloc[0]
        money = kept["monthly_value"]
        assert pd.isna(money) or 0 <= money <= contract.MAX_MONTHLY_VALUE
        assert pd.isna(kept["signup_date"]) or kept["signup_date"] >= contract.EARLIEST
    else:
        assert all(e["reason"] and e["field"] for e in result.errors.to_dict("records"))


def test_extreme_customer_values_are_refused_naming_the_allowed_range() -> None:
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "signup_date": ["2020-01-01", "1800-01-01", None, "2020-01-01"],
            "tenure_months": [None, None, "1000000", None],
            "monthly_value": ["1e308", "5", "5", "-inf"],
        },
        dtype=object,
    )
    result = contract.validate_customers(raw, np.arange(1, 5), now=NOW)
    assert result.valid.empty
    reasons = {e["row"]: (e["field"], e["reason"]) for e in result.errors.to_dict("records")}
    assert reasons[1] == (
        "monthly_value",
        "monthly_value=1e308 is out of range (expected 0 to 1,000,000,000,000)",
    )
    assert reasons[2][0] == "signup_date" and "before 1900" in reasons[2][1]
    assert reasons[3] == (
        "tenure_months",
        "tenure_months=1000000 is out of range (expected 0 to 1200 months)",
    )
    assert reasons[4][0] == "monthly_value"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.Timestamp("2025-06-30 15:30").date(), "2025-06-30 00:00"),
        ("2025-06-30", "2025-06-30 00:00"),
        ("2025-06-30T15:30:00", "2025-06-30 15:30"),
        (datetime(2025, 6, 30, 15, 30), "2025-06-30 15:30"),
        (pd.Timestamp("2025-06-30 15:30"), "2025-06-30 15:30"),
        ("2025-06-30T15:30:00+09:00", "2025-06-30 15:30"),  # the wall time, zone dropped
        (None, "2025-07-01 12:00"),  # now
    ],
)
def test_parse_as_of_gives_one_naive_timestamp_from_every_edge_form(
    value: object, expected: str
) -> None:
    parsed = contract.parse_as_of(value, now=datetime(2025, 7, 1, 12))
    assert isinstance(parsed, pd.Timestamp) and parsed.tzinfo is None
    assert parsed == pd.Timestamp(expected)


@pytest.mark.parametrize("value", ["30/06/2025", "yesterday"])
def test_parse_as_of_names_the_option_it_cannot_read(value: str) -> None:
    with pytest.raises(ConfigError, match=f"--as-of='{value}' is not an ISO date"):
        contract.parse_as_of(value, field="--as-of")
