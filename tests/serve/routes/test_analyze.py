"""``POST /v1/analyze`` on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

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
