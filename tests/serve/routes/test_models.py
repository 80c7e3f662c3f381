"""``/v1/models`` on the real server, on SQLite and on PostgreSQL: reload under load, and the
text champion moving only through the gate."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import run_cxml
from tests.serve.conftest import Served, client, some_customers

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_reload_swaps_models_without_dropping_requests(served: Served) -> None:
    customer = some_customers(served, 1)[0]
    statuses: list[int] = []

    def hammer() -> None:
        with client(served, "score") as api:
            for _ in range(15):
                statuses.append(
                    api.post(
                        "/v1/score",
                        params={"fresh": "true", "record": "false"},
                        json={"customers": [{"customer_id": customer}]},
                    ).status_code
                )

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for worker in workers:
        worker.start()
    with client(served, "read") as api:
        assert api.post("/v1/models/reload").status_code == 403
    with client(served, "admin") as api:
        for _ in range(3):
            reloaded = api.post("/v1/models/reload")
            assert reloaded.status_code == 200 and reloaded.json()["churn"]["version"] == "1"
    for worker in workers:
        worker.join()
    assert statuses and set(statuses) == {200}


def test_the_text_champion_moves_only_through_the_gate(served: Served) -> None:
    with client(served, "read") as api:
        listed = api.get("/v1/models/text/versions").json()["versions"]
        champion = next(v["version"] for v in listed if v["champion"])
        assert {"sentiment_macro_f1", "theme_coverage"} <= set(listed[0]["grades"])
        assert api.post("/v1/models/text/promote").status_code == 403
    new = str(int(listed[-1]["version"]) + 1)
    # a data scientist retrains with the same taxonomy: at least as good, so it may serve
    trained = run_cxml(
        ["train", "text", "--taxonomy", "demo/taxonomy.yaml"],
        served["cwd"],
        database_url=served["url"],
    )
    assert f"champion stays version {champion}" in trained.stdout, trained.stdout + trained.stderr
    with client(served, "admin") as api:
        unknown = api.post("/v1/models/text/promote", json={"version": "99"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "version"
        decided = api.post("/v1/models/text/promote", json={"version": new}, timeout=300)
        assert decided.status_code == 200, decided.text
        body = decided.json()
        assert body["promoted"] is True, body["reason"]
        assert body["lineage"][0] == f"lineage against version {champion}"
        assert len(body["comparison"]) == 3
        assert api.get("/v1/models").json()["text"]["version"] == new  # this worker at once
        again = api.post("/v1/models/text/promote", json={"version": new}).json()
        assert again["promoted"] is False and "already the champion" in again["reason"]
        versions = api.get("/v1/models/text/versions").json()["versions"]
        assert [v["version"] for v in versions if v["champion"]] == [new]
        assert versions[-1]["champion_version_compared"] == champion
        assert versions[-1]["champion_grades"]
        audit = api.get("/v1/audit").json()["items"]
    assert any(r["action"] == "model.promoted" and r["target"] == f"cxml-text/{new}" for r in audit)
