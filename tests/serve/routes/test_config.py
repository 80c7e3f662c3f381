"""The page's segment filter offers a survey's response attributes (issue #30): the config
lists them apart from customer attributes, and NPS groups by them through the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, new_key, run_cxml

SURVEY = "comment,score,journey\nGreat,10,onboarding\nSlow,2,renewal\nFine,8,renewal\n"


@pytest.mark.parametrize("survey, attribute", [(SURVEY, "journey")])
def test_the_config_lists_response_attributes_and_nps_groups_by_them(
    tmp_path: Path, survey: str, attribute: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cxml.db'}"
    (tmp_path / "survey.csv").write_text(survey, encoding="utf-8")
    ingest = ["ingest", "feedback", "survey.csv", "--map", "comment=text", "--map", "score=nps"]
    flags = ["--id-from-row", "--anonymous", "--created-at", "2025-05-01"]
    assert run_cxml([*ingest, *flags], tmp_path, database_url=url).returncode == 0
    key = new_key(tmp_path, url, "read")
    server = Server(tmp_path, url)
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=60) as api:
            config = api.get("/v1/config").json()
            rows = api.get("/v1/metrics/nps", params={"by": [attribute]}).json()["rows"]
    finally:
        server.stop()
    assert config["response_segments"] == [attribute]
    assert attribute not in config["segments"]  # nobody's customer attribute
    assert {r[attribute]: r["n"] for r in rows} == {"onboarding": 1, "renewal": 2}
