"""``GET /v1/at-risk`` on the real server, on SQLite and on PostgreSQL: ranking, pages, filters,
CSV, and hostile filters that never reach SQL as text."""

from __future__ import annotations

import csv
import io

import pytest

from tests.serve.conftest import Served, client

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_at_risk_list_ranks_pages_filters_and_exports_csv(served: Served) -> None:
    with client(served, "read") as api:
        first = api.get("/v1/at-risk", params={"limit": 5}).json()
        second = api.get("/v1/at-risk", params={"limit": 5, "cursor": first["next"]}).json()
        both = first["items"] + second["items"]
        assert len(both) == 10 and len({i["customer_id"] for i in both}) == 10
        probabilities = [i["probability"] for i in both]
        assert probabilities == sorted(probabilities, reverse=True)
        whole = api.get("/v1/at-risk", params={"limit": 10}).json()["items"]
        assert [i["customer_id"] for i in whole] == [i["customer_id"] for i in both]
        by_revenue = api.get("/v1/at-risk", params={"limit": 20, "sort": "revenue_at_risk"}).json()
        revenue = [i["revenue_at_risk"] or -1 for i in by_revenue["items"]]
        assert revenue == sorted(revenue, reverse=True)
        band = both[-1]["band"]
        banded = api.get("/v1/at-risk", params={"band": band, "limit": 1000}).json()["items"]
        assert banded and all(i["band"] == band for i in banded)
        floor = api.get("/v1/at-risk", params={"min_probability": 0.2, "limit": 1000}).json()
        assert all(i["probability"] >= 0.2 for i in floor["items"])
        plan = both[0]["attributes"]["plan"]
        segment = api.get("/v1/at-risk", params={"attribute": f"plan={plan}", "limit": 50}).json()
        assert segment["items"] and all(i["attributes"]["plan"] == plan for i in segment["items"])
        exported = api.get("/v1/at-risk", params={"limit": 10}, headers={"Accept": "text/csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["customer_id"] for r in rows] == [i["customer_id"] for i in both]
        # each reason with the customer's own words where it has them, as the list shows them
        for row, item in zip(rows, both, strict=True):
            for reason in item["reasons"]:
                quote = (reason.get("evidence") or {}).get("quote")
                shown = f"{reason['text']}: “{quote}”" if quote else reason["text"]
                assert shown in row["reasons"]
        assert any("“" in row["reasons"] for row in rows)
        bad = api.get("/v1/at-risk", params={"cursor": "garbage"})
        assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
        assert api.get("/v1/at-risk", params={"limit": 5000}).status_code == 422


@pytest.mark.parametrize(
    "hostile",
    [
        "plan' OR '1'='1",
        'plan"); DROP TABLE customers; --',
        "../../etc/passwd",
        "$.plan') OR 1=1 --",
    ],
)
def test_filters_and_dimensions_never_reach_sql_as_text(served: Served, hostile: str) -> None:
    with client(served, "read") as api:
        everyone = api.get("/v1/at-risk", params={"limit": 1000}).json()["items"]
        as_name = api.get("/v1/at-risk", params={"attribute": f"{hostile}=x", "limit": 1000})
        as_value = api.get("/v1/at-risk", params={"attribute": f"plan={hostile}"})
        grouped = api.get("/v1/metrics/nps", params={"by": hostile})
        story = api.get(f"/v1/customers/{hostile}")
        still = api.get("/v1/at-risk", params={"limit": 1000}).json()["items"]
    assert as_name.status_code in (200, 422) and as_value.status_code in (200, 422)
    if as_name.status_code == 200:
        assert as_name.json()["items"] == []  # a literal name no customer has
    if as_value.status_code == 200:
        assert as_value.json()["items"] == []
    assert grouped.status_code == 422 and grouped.json()["field"] == "by"
    assert story.status_code == 404
    assert len(still) == len(everyone) > 0  # nothing dropped, nothing widened
