"""Worklist pulls with a randomised holdout (issue #27): who is held out, that they stay out
of the work, and what the comparison says once the horizon has passed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, update

from cxml.errors import ConfigError, HeldOutError
from cxml.experiments import CONTROL
from cxml.followups import open_follow_up
from cxml.ingest import ingest_records
from cxml.pulls import pull_impact, pull_worklist
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.tables import customers, latest_scores, scores
from cxml.worklist import worklist
from tests.conftest import Server, new_key, run_cxml

NOW = datetime(2026, 12, 1, 9, 0)


def _scored(store: Store, settings: Settings, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ids = [f"K{i:04d}" for i in range(n)]
    ingest_records(
        store,
        "customers",
        [{"customer_id": i, "signup_date": "2025-01-01", "monthly_value": 30} for i in ids],
        settings=settings,
        now=NOW,
        source="api:k",
    )
    p = rng.uniform(0.2, 0.9, n)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": NOW.date(),
            "model_version": "7",
            "probability": p,
            "ranking_score": p,
            "band": np.where(p >= 0.65, "high", "medium"),
            "revenue_at_risk": p * 30 * 3,
            "reasons": [[] for _ in ids],
            "attribution": "exact",
            "scored_at": NOW,
        }
    )
    with store.begin() as connection:
        for table in (scores, latest_scores):
            connection.execute(insert(table), frame.to_dict("records"))
    return frame


def test_a_pull_holds_out_its_share_per_band_and_records_it(
    store: Store, settings: Settings
) -> None:
    scored = _scored(store, settings)
    pull = pull_worklist(store, today=NOW, capacity=100, actor="lead", holdout_share=0.2, seed=5)
    items = pd.DataFrame(pull["items"])
    assert pull["pull_id"] is not None and len(items) == 125
    assert pull["contact"] + pull["control"] == 125 and pull["control"] == 25
    for band, part in items.groupby("band"):
        assert (part["arm"] == CONTROL).sum() == round(0.2 * len(part)), band
    assert (items.loc[items["arm"] == CONTROL, "note"] == "control — do not contact").all()
    top = scored.sort_values("probability", ascending=False)["customer_id"].head(125)
    assert set(items["customer_id"]) == set(top)  # the list's top, whatever the arm
    assert pull["read_after"] == NOW + timedelta(days=90) and pull["model_version"] == "7"

    again = pull_worklist(store, today=NOW, capacity=50, actor="lead", holdout_share=0.2)
    assert not set(pd.DataFrame(again["items"])["customer_id"]) & set(items["customer_id"])

    work = worklist(store, today=NOW, capacity=500)
    listed = {i["customer_id"] for i in work["items"]}
    controls = set(items.loc[items["arm"] == CONTROL, "customer_id"])
    assert not listed & controls and work["held_out"] >= len(controls)


def test_a_control_is_not_contacted_unless_overridden_and_the_override_is_kept(
    store: Store, settings: Settings
) -> None:
    _scored(store, settings, n=60)
    pull = pull_worklist(store, today=NOW, capacity=20, actor="lead", holdout_share=0.3, seed=1)
    control = next(i["customer_id"] for i in pull["items"] if i["arm"] == CONTROL)
    contact = next(i["customer_id"] for i in pull["items"] if i["arm"] != CONTROL)
    with pytest.raises(HeldOutError, match="control of worklist pull") as refused:
        open_follow_up(store, control, {"owner": "ana"}, actor="k", now=NOW)
    assert refused.value.code == "CX108"
    made = open_follow_up(store, control, {}, actor="k", now=NOW, override_holdout=True)
    assert made["history"][0]["changes"]["holdout_override"] == [None, pull["pull_id"]]
    assert open_follow_up(store, contact, {}, actor="k", now=NOW)["status"] == "open"
    later = NOW + timedelta(days=91)  # the pull has passed its horizon: no longer held
    assert open_follow_up(store, control, {}, actor="k", now=later)["status"] == "open"


def test_the_comparison_waits_for_the_horizon_then_reads_the_planted_effect(
    store: Store, settings: Settings
) -> None:
    _scored(store, settings)
    pull = pull_worklist(store, today=NOW, capacity=120, actor="lead", holdout_share=0.25, seed=9)
    early = pull_impact(store, today=NOW + timedelta(days=30))
    assert early["pulls"][0]["verdict"] == "too early"
    assert early["pulls"][0]["message"] == "too early — read on 2027-03-01"
    assert early["overall"] is None
    # Planted: in each band and arm, every fifth customer leaves within the horizon, and
    # two more of every five controls (20 % of those contacted leave, 60 % of controls).
    items = pd.DataFrame(pull["items"])
    items["k"] = items.groupby(["band", "arm"]).cumcount() % 5
    leaves = (items["k"] == 0) | ((items["arm"] == CONTROL) & items["k"].isin([1, 2]))
    churned = items.loc[leaves, "customer_id"].tolist()
    with store.begin() as connection:
        connection.execute(
            update(customers)
            .where(customers.c.customer_id.in_(churned))
            .values(churn_date=(NOW + timedelta(days=40)).date())
        )
    read = pull_impact(store, today=NOW + timedelta(days=91))
    overall = read["overall"]
    assert overall["verdict"] == "contact helps", overall
    low, high = overall["adjusted_interval_pts"]
    assert low <= 40.0 <= high and low > 0
    assert overall["saves"] > 0 and overall["revenue_saved"] > 0
    assert set(overall["by_band"]) == {"high", "medium"}
    assert read["pulls"][0]["contact"] == pull["contact"]


def test_an_empty_store_pulls_nobody_and_says_why(store: Store) -> None:
    pull = pull_worklist(store, today=NOW, capacity=10, actor=None)
    assert pull["pull_id"] is None and pull["items"] == [] and "nobody to pull" in pull["message"]
    impact = pull_impact(store, today=NOW)
    assert (
        impact["pulls"] == [] and impact["overall"] is None and "no pulls yet" in impact["message"]
    )
    with pytest.raises(ConfigError, match="holdout_share"):
        pull_worklist(store, today=NOW, capacity=10, actor=None, holdout_share=1.0)


def test_a_pull_over_http_and_from_the_command_line(tmp_path: Path) -> None:
    """The front doors: POST /v1/worklist/pulls (act), a control refused a follow-up (409
    CX108) unless overridden, GET /v1/worklist/pulls, `cxml worklist pull` / `pulls`."""
    url = f"sqlite:///{tmp_path}/cxml.db"
    store = Store.open(url)
    try:
        _scored(store, Settings(database_url=url), n=80)
    finally:
        store.close()
    keys = {s: new_key(tmp_path, "sqlite:///cxml.db", s) for s in ("read", "act")}
    server = Server(tmp_path, "sqlite:///cxml.db")
    try:
        with httpx.Client(base_url=server.base, timeout=60) as api:
            act = {"X-API-Key": keys["act"]}
            made = api.post("/v1/worklist/pulls", json={"capacity": 20, "seed": 3}, headers=act)
            assert made.status_code == 201, made.text
            body = made.json()
            assert body["contact"] == 20 and body["control"] == 3  # 20 / 0.9 → 23 pulled
            control = next(i["customer_id"] for i in body["items"] if i["arm"] == CONTROL)
            refused = api.post(f"/v1/customers/{control}/follow-ups", json={}, headers=act)
            assert refused.status_code == 409 and refused.json()["code"] == "CX108"
            forced = api.post(
                f"/v1/customers/{control}/follow-ups",
                json={"override_holdout": True},
                headers=act,
            )
            assert forced.status_code == 201, forced.text
            assert forced.json()["due_at"] is not None  # due from the customer's band
            read_key = {"X-API-Key": keys["read"]}
            late = api.get("/v1/follow-ups", params={"overdue": "true"}, headers=read_key)
            assert late.status_code == 200 and late.json() == {"items": []}
            wrong = api.get("/v1/follow-ups", params={"overdue": "false"}, headers=read_key)
            assert wrong.status_code == 422 and wrong.json()["field"] == "overdue"
            read = api.get("/v1/worklist/pulls", headers={"X-API-Key": keys["read"]}).json()
            assert read["pulls"][0]["verdict"] == "too early" and read["overall"] is None
            bad = api.post(
                "/v1/worklist/pulls", json={"capacity": 5, "holdout_share": 1}, headers=act
            )
            assert bad.status_code == 422
    finally:
        server.stop()
    said = run_cxml(["worklist", "pull", "--capacity", "10", "--holdout", "0.2"], tmp_path)
    assert said.returncode == 0, said.stderr
    assert "held out" in said.stdout and "CONTROL — do not contact" in said.stdout
    assert "no follow-up is overdue" in run_cxml(["followups", "overdue"], tmp_path).stdout
    unset = run_cxml(["followups", "escalate"], tmp_path)
    assert unset.returncode == 2 and "CXML_ESCALATION_OWNER" in unset.stderr
    listed = run_cxml(["worklist", "pulls", "--json"], tmp_path)
    pulls = json.loads(listed.stdout)["pulls"]
    assert [p["verdict"] for p in pulls] == ["too early", "too early"]
