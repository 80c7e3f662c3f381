"""The printed lines of the CLI and the demo."""

from __future__ import annotations

import re

from cxml.lines import at_risk_lines

ROW = {
    "customer_id": "C1",
    "probability": 0.455,
    "band": "high",
    "revenue_at_risk": 61.06,
    "survival_90": 0.545,
    "expected_days": 120.0,
    "reasons": [
        {
            "text": "2026年10月に他社への乗り換えについて述べた",
            "evidence": {"quote": "他社に乗り換えます。"},
        },
        {"text": "直近365日に12回の接点", "evidence": {}},
    ],
}


def test_an_at_risk_line_in_english_is_unchanged() -> None:
    line, quote = at_risk_lines([ROW])
    assert line.startswith(
        "  C1  45.5%  high   at risk 61.06  55% still here in 90 days, ~120 days expected  — "
    )
    assert quote == "      «他社に乗り換えます。»"


def test_an_at_risk_line_in_japanese_has_no_english_words() -> None:
    line, quote = at_risk_lines([ROW], "ja")
    assert "リスク額 61.06" in line and "90日後も継続 55%" in line and "約120日" in line
    assert re.search(r"[A-Za-z]{3,}", line.replace("C1", "")) is None, line
    assert quote == "      «他社に乗り換えます。»"


def test_a_customer_without_time_to_churn_or_revenue_has_no_such_words() -> None:
    bare = {**ROW, "revenue_at_risk": None, "expected_days": None}
    for language in ("en", "ja"):
        line = next(iter(at_risk_lines([bare], language)))
        assert "90" not in line.split("—")[0] and " -" in line.split("—")[0]
