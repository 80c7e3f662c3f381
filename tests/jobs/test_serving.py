"""Which models serve, as the jobs see them: reasons put in a language with the serving text
model's theme labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cxml.jobs.serving import reasons_in
from cxml.settings import Settings
from tests.conftest import english_words

ROWS = [
    {
        "customer_id": "C1",
        "reasons": [
            {
                "feature": "theme_billing_negative",
                "value": 0.8,
                "contribution": 0.6,
                "theme_label": "Billing and charges",
                "evidence": {"date": "2026-03-14", "quote": "The bill was wrong again."},
                "text": "wrote negatively about “Billing and charges” in March 2026",
            },
            {"feature": "nps_last", "value": 2, "contribution": 0.5, "text": "gave 2/10 …"},
        ],
    }
]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_reasons_are_written_in_the_language_asked(language: Any, tmp_path: Path) -> None:
    # no text champion: the shipped defaults serve, with no taxonomy to name themes in Japanese
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cxml.db",
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
    )
    written = reasons_in(settings, ROWS, language)
    if language == "en":  # as scored
        assert written is ROWS
        return
    texts = [r["text"] for r in written[0]["reasons"]]
    assert texts[0] == "2026年3月に「Billing and charges」について否定的に書いた"  # the fallback
    assert texts[1] == "直近のNPSで2/10と回答"
    assert not english_words(texts[1]) and ROWS[0]["reasons"][1]["text"] == "gave 2/10 …"
