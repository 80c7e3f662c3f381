"""Ranking the worklist by who is moved by a call (issue #27 §3): the uplift learner recovers a
planted effect, the worklist says it is ranked by risk (and why) until a good-enough uplift
model exists, and by expected revenue saved = uplift × value after it is trained."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, update

from cxml.experiments import CONTROL
from cxml.ingest import ingest_records
from cxml.jobs.train_uplift import TrainUpliftRequest, run_train_uplift, worklist_uplift
from cxml.pulls import pull_worklist
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.tables import customers, latest_scores, scores
from cxml.uplift import (
    Encoding,
    UpliftModel,
    fit_uplift,
    planted_world,
    qini_coefficient,
    status,
    status_reason,
)
from cxml.worklist import worklist
from tests.conftest import Server, english_words, new_key, run_cxml

TODAY = datetime(2026, 12, 1, 9, 0)
PULLED = TODAY - timedelta(days=100)


def test_the_learner_finds_the_group_a_call_pushes_away() -> None:
    features, outcomes = planted_world(3, n=3000)
    model = fit_uplift(features, outcomes["arm"].to_numpy(), outcomes["retained"].to_numpy())
    estimate = model.estimate(features)
    pushed = features["theme_pressure"] == 1
    assert estimate.loc[pushed, "uplift"].mean() < -0.05  # planted −0.15
    assert estimate.loc[~pushed, "uplift"].mean() > 0.03  # planted +0 … +0.25
    assert (estimate.loc[pushed, "uplift"] < 0).mean() > 0.8
    assert (estimate["low"] <= estimate["uplift"]).all()
    assert (estimate["uplift"] <= estimate["high"]).all()
    # the true uplift ranks better than the risk ranking on the planted world
    arms, kept = outcomes["arm"].to_numpy(), outcomes["retained"].to_numpy()
    assert qini_coefficient(outcomes["true_uplift"].to_numpy(), arms, kept) > qini_coefficient(
        outcomes["pre_contact_score"].to_numpy(), arms, kept
    )


def _graded(**grades: object) -> UpliftModel:
    return UpliftModel(Encoding([]), [], [], grades=grades)


QINI = {"qini_uplift": 0.0123, "qini_risk": 0.0045}


@pytest.mark.parametrize(
    ("counts", "model", "english", "japanese"),
    [
        (
            (0, 0), None,
            "ranked by risk: 0 randomised outcomes (0 contacted, 0 held out), 200 per arm needed "
            "— pull the worklist with a holdout (`cxml worklist pull`) and wait for the horizon",
            "リスク順：無作為化した結果は0件（連絡0、対照0）、各群200件が必要です。対照を取り置いて"
            "対応リストをプルし（`cxml worklist pull`）、判定期間が過ぎるのを待ってください",
        ),
        (
            (250, 260), None,
            "ranked by risk: 510 randomised outcomes are enough, but no uplift model is trained "
            "yet — run `cxml train uplift`",
            "リスク順：無作為化した結果510件で学習できますが、アップリフトモデルがまだ学習されて"
            "いません。`cxml train uplift` を実行してください",
        ),
        (
            (250, 260),
            _graded(good_enough=False, why="does not beat the risk ranking on the held-out pulls",
                    qini_uplift=0.0012, qini_risk=0.0045),
            "ranked by risk: the uplift model (version 3) does not beat the risk ranking on the "
            "held-out pulls (Qini 0.0012 vs risk 0.0045)",
            "リスク順：アップリフトモデル（バージョン 3）は検証用プルでリスク順を上回っていません"
            "（Qini 0.0012、リスク順では 0.0045）",
        ),
        (
            (250, 260), _graded(good_enough=False, why="an arm is empty in a part"),
            "ranked by risk: the uplift model (version 3) an arm is empty in a part",
            "リスク順：アップリフトモデル（バージョン 3）は学習用か検証用の一方で片方の群が空のため"
            "評価できません",
        ),
        (
            (250, 260), _graded(good_enough=True, **QINI),
            "ranked by uplift: expected revenue saved = estimated uplift × value (uplift model "
            "version 3, held-out Qini 0.0123 vs risk ranking 0.0045)",
            "アップリフト順：救える見込みの収益＝連絡で継続確率がどれだけ変わるかの推定 × 価値"
            "（アップリフトモデル バージョン 3、検証用プルでの Qini 0.0123、リスク順では 0.0045）",
        ),
    ],
)  # fmt: skip
def test_why_the_list_is_ranked_so_is_said_in_english_or_in_japanese(
    counts: tuple[int, int], model: UpliftModel | None, english: str, japanese: str
) -> None:
    said = status(
        {"contact": counts[0], "control": counts[1]}, 200, model, None if model is None else "3"
    )
    assert said["reason"] == english == status_reason(said, "en")
    assert status_reason(said, "ja") == japanese
    assert not english_words(japanese)


def _customers(store: Store, settings: Settings, n: int, pulled: datetime = PULLED) -> list[str]:
    ids = [f"U{i:04d}" for i in range(n)]
    ingest_records(
        store,
        "customers",
        [
            {
                "customer_id": c,
                "signup_date": "2025-01-01",
                "monthly_value": 40,
                "plan": "pressured" if i % 4 == 0 else "standard",
            }
            for i, c in enumerate(ids)
        ],
        settings=settings,
        now=pulled,
        source="api:k",
    )
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.9, n)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": pulled.date(),
            "model_version": "7",
            "probability": p,
            "ranking_score": p,
            "band": np.where(p >= 0.65, "high", "medium"),
            "revenue_at_risk": p * 40 * 3,
            "reasons": [[] for _ in ids],
            "attribution": "exact",
            "scored_at": pulled,
        }
    )
    with store.begin() as connection:
        for table in (scores, latest_scores):
            connection.execute(insert(table), frame.to_dict("records"))
    return ids


def _randomised(store: Store, settings: Settings, n: int = 600, pulled: datetime = PULLED) -> None:
    """A pull of everyone, half held out, past its horizon; planted: a call keeps standard
    customers (15 % leave vs 45 % of controls) and pushes pressured ones away (75 % vs 45 %)."""
    ids = _customers(store, settings, n, pulled)
    pull = pull_worklist(
        store, today=pulled, capacity=n // 2, actor="lead", holdout_share=0.5, seed=4
    )
    assert pull["contact"] + pull["control"] == n
    rng = np.random.default_rng(1)
    pressured = {c for i, c in enumerate(ids) if i % 4 == 0}
    leave = []
    for item in pull["items"]:
        p = 0.45 if item["arm"] == CONTROL else 0.75 if item["customer_id"] in pressured else 0.15
        if rng.random() < p:
            leave.append(item["customer_id"])
    with store.begin() as connection:
        connection.execute(
            update(customers)
            .where(customers.c.customer_id.in_(leave))
            .values(churn_date=(pulled + timedelta(days=30)).date())
        )


def test_the_worklist_is_ranked_by_risk_and_says_why_without_outcomes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/m.db"})
    empty = worklist(
        store,
        today=TODAY,
        capacity=10,
        uplift=worklist_uplift(settings, store, today=TODAY, horizon_days=90),
    )
    assert empty["ranked_by"] == "revenue_at_risk" and empty["items"] == []
    assert empty["uplift"]["ranked_by"] == "risk"
    assert empty["uplift"]["reason"].startswith("ranked by risk: 0 randomised outcomes")
    assert "200 per arm needed" in empty["uplift"]["reason"]
    trained = run_train_uplift(settings, lambda: store, TrainUpliftRequest(), now=TODAY).report
    assert trained["trained"] is False and "200 per arm needed" in trained["message"]

    _customers(store, settings, 40)  # scored, no pulls: ranked by risk, and says so
    listed = worklist(
        store,
        today=TODAY,
        capacity=10,
        uplift=worklist_uplift(settings, store, today=TODAY, horizon_days=90),
    )
    assert listed["ranked_by"] == "revenue_at_risk" and len(listed["items"]) == 10
    assert all(i["uplift"] is None for i in listed["items"])
    assert "pull the worklist with a holdout" in listed["uplift"]["reason"]


def test_after_training_the_worklist_is_ranked_by_uplift_and_flags_the_pushed_away(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/m.db", "uplift_min_per_arm": 100}
    )
    _randomised(store, settings)
    before = worklist_uplift(settings, store, today=TODAY, horizon_days=90)
    assert before.status["ranked_by"] == "risk"
    assert "no uplift model is trained yet" in before.status["reason"]
    report = run_train_uplift(settings, lambda: store, TrainUpliftRequest(), now=TODAY).report
    assert report["trained"] and report["version"] == "1", report
    assert report["grades"]["good_enough"], report["grades"]
    assert report["grades"]["qini_uplift"] > report["grades"]["qini_risk"]

    ranking = worklist_uplift(settings, store, today=TODAY, horizon_days=90)
    listed = worklist(store, today=TODAY, capacity=400, uplift=ranking)
    assert listed["ranked_by"] == "uplift" and listed["uplift"]["ranked_by"] == "uplift"
    assert listed["ranking_note"].startswith("ranked by uplift")
    items = listed["items"]
    saved = [i["expected_saved"] for i in items]
    assert saved == sorted(saved, reverse=True)
    pressured = [i for i in items if i["attributes"].get("plan") == "pressured"]
    standard = [i for i in items if i["attributes"].get("plan") == "standard"]
    assert pressured and standard
    flagged = [i for i in pressured if i["uplift"]["push_away"]]
    assert len(flagged) >= 0.8 * len(pressured)
    assert flagged[0]["uplift"]["note"] == "a call may push them away"
    assert flagged[0]["uplift"]["segment"]["contact"] > 0  # the band's observed evidence
    assert sum(i["uplift"]["push_away"] for i in standard) <= 0.2 * len(standard)
    assert listed["uplift"]["push_away"] == sum(i["uplift"]["push_away"] for i in items)
    # the top of the list is the movable, not merely the riskiest
    top = items[: len(items) // 4]
    assert all(i["attributes"].get("plan") == "standard" for i in top)
    # asked in Japanese: the same list, its notes in Japanese
    japanese = worklist(store, today=TODAY, capacity=400, uplift=ranking, language="ja")
    assert [i["customer_id"] for i in japanese["items"]] == [i["customer_id"] for i in items]
    assert japanese["ranking_note"].startswith("アップリフト順")
    assert {i["uplift"]["note"] for i in japanese["items"] if i["uplift"]["push_away"]} == {
        "連絡が離反を招くおそれ"
    }


def test_the_route_and_the_command_say_how_the_list_is_ranked(tmp_path: Path) -> None:
    """GET /v1/worklist (JSON and CSV) on an empty store, `cxml train uplift` on it."""
    said = run_cxml(["train", "uplift"], tmp_path)
    assert said.returncode == 0, said.stderr
    assert "not trained: 0 randomised outcomes" in said.stdout
    said = run_cxml(["train", "uplift", "--json"], tmp_path)
    assert json.loads(said.stdout)["trained"] is False
    key = new_key(tmp_path, "sqlite:///cxml.db", "read")
    server = Server(tmp_path, "sqlite:///cxml.db")
    try:
        with httpx.Client(base_url=server.base, timeout=60) as api:
            answer = api.get("/v1/worklist", headers={"X-API-Key": key})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["ranked_by"] == "revenue_at_risk" and body["items"] == []
            assert body["uplift"]["ranked_by"] == "risk"
            assert body["uplift"]["reason"].startswith("ranked by risk: 0 randomised outcomes")
            japanese = api.get(
                "/v1/worklist", params={"lang": "ja"}, headers={"X-API-Key": key}
            ).json()
            assert japanese["uplift"]["reason"].startswith("リスク順：無作為化した結果は0件")
            assert japanese["ranking_note"].startswith("リスク収益の順")
            assert not english_words(japanese["effect"]["message"])
            csv = api.get("/v1/worklist", headers={"X-API-Key": key, "Accept": "text/csv"})
            assert csv.status_code == 200 and csv.headers["x-ranked-by"] == "revenue_at_risk"
            assert csv.text.splitlines()[0].endswith("uplift,uplift_low,uplift_high,push_away")
    finally:
        server.stop()


def test_the_route_ranks_by_uplift_once_trained(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cxml.db"
    settings = Settings(
        database_url=url,
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        uplift_min_per_arm=100,
    )
    real_today = datetime.now(UTC).replace(tzinfo=None, microsecond=0)  # the server's now
    store = Store.open(url)
    try:
        _randomised(store, settings, pulled=real_today - timedelta(days=100))
        run_train_uplift(settings, lambda: store, TrainUpliftRequest(), now=real_today)
    finally:
        store.close()
    key = new_key(tmp_path, "sqlite:///cxml.db", "read")
    server = Server(tmp_path, "sqlite:///cxml.db")
    try:
        with httpx.Client(base_url=server.base, timeout=60) as api:
            answer = api.get("/v1/worklist", params={"capacity": 50}, headers={"X-API-Key": key})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["ranked_by"] == "uplift", body["uplift"]
            assert body["uplift"]["model_version"] == "1"
            assert body["items"][0]["uplift"]["estimate"] > 0
            csv = api.get(
                "/v1/worklist",
                params={"capacity": 400},
                headers={"X-API-Key": key, "Accept": "text/csv"},
            )
            assert "a call may push them away" in csv.text
    finally:
        server.stop()
