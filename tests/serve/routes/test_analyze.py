"""``POST /v1/analyze`` on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_analyze_returns_the_pipeline_output_in_order(served: Served) -> None:
    with client(served, "score") as api:
        response = api.post(
            "/v1/analyze",
            json={
                "texts": [
                    "The app keeps crashing, mail me at jo@example.com",
                    {"id": "t2", "text": "スタッフがとても親切でした。"},
                ]
            },
        ).json()
    first, second = response["results"]
    assert first["language"] == "en" and second["language"] == "ja" and second["id"] == "t2"
    assert "jo@example.com" not in first["redacted_text"]
    assert first["sentiment"]["label"] in {"negative", "neutral", "positive"}
    assert {"themes", "key_phrases", "intents"} <= set(first)


def test_each_text_gets_the_language_it_gets_alone_in_a_mixed_request(served: Served) -> None:
    """A comment's language and confidence do not come from the others in its request (a
    Japanese or a Spanish comment used to pull unsure English ones to ``ja`` or ``es``)."""
    texts = [
        "もう二度と買いません",
        "I am switching to another provider next month",
        "El servicio al cliente fue muy lento y nadie me ayudó con la factura.",
        "Too expensive",
        "😡😡",
        "12345",
    ]

    def languages(api: Any, batch: list[str]) -> list[tuple[str | None, float]]:
        results = api.post("/v1/analyze", json={"texts": batch}).json()["results"]
        return [(r["language"], r["language_confidence"]) for r in results]

    with client(served, "score") as api:
        alone = {text: languages(api, [text])[0] for text in texts}
        for batch in (texts, texts[::-1]):
            assert languages(api, batch) == [alone[text] for text in batch]
        mixed = api.post("/v1/analyze", json={"texts": texts}).json()["results"][1]
    assert mixed["language"] == "en"
    assert "leave" in {intent["intent"] for intent in mixed["intents"]}
