"""The events a user's path sends (issue #27 §5): a score run announces the customers who
enter the high band (once each, none for those already high), the score route too, and
analysing the store announces an emerging theme once per period however often it reruns.
Deliveries go to a real local HTTP receiver and are verified as a CRM would verify them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import insert, select

from cxml.batch import score_store
from cxml.jobs.analyze import AnalyzeRequest, run_analyze
from cxml.jobs.background import housekeeping
from cxml.jobs.serving import DEFAULTS
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.scores import write_scores
from cxml.store.tables import (
    customers,
    feedback,
    feedback_analysis,
    feedback_themes,
    webhook_outbox,
)
from cxml.webhooks import Verifier, deliver_due, register
from serve.scoring import score_items
from tests.conftest import Trained, load_world
from tests.test_webhooks import Receiver

SCORED_AT = datetime(2025, 7, 1, 9, 0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def world_store(
    store: Store, settings: Settings, trained: Trained, world: Any, tmp_path: Path
) -> Store:
    """The shared demo world in a store of this test's own (the trained one is shared)."""
    load_world(store, settings, world, tmp_path / "world", pipeline=trained.text_pipeline)
    return store


def outbox(store: Store, event_type: str) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(webhook_outbox).where(webhook_outbox.c.event_type == event_type)
        ).mappings()
        return [
            {
                **r,
                "payload": r["payload"]
                if isinstance(r["payload"], dict)
                else json.loads(r["payload"]),
            }
            for r in rows
        ]


def deliver(store: Store, receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Everything due, posted to the receiver, which verifies each signature."""
    receiver.verifier = Verifier(secret)

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        return httpx.post(url, content=body, headers=headers, timeout=5).status_code

    while deliver_due(store, post, now=SCORED_AT + timedelta(minutes=1))["delivered"]:
        pass
    return receiver.accepted


def test_a_score_run_announces_each_customer_entering_high_once(
    world_store: Store, trained: Trained, receiver: Receiver
) -> None:
    store = world_store
    made = register(
        store, receiver.url, ["customer.high_risk"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    parts: list[pd.DataFrame] = []
    run: dict[str, Any] = {
        "model_version": trained.version, "as_of": trained.as_of, "scored_at": SCORED_AT,
        "bucket_customers": 64,
    }  # fmt: skip
    score_store(store, trained.predictor, record=False, sink=parts.append, **run)
    today = pd.concat(parts).reset_index(drop=True)
    high = sorted(today.loc[today["band"] == "high", "customer_id"])
    assert len(high) >= 6
    # A month earlier: a third of them already high, a third medium, a third never scored;
    # and some not high today were high then (leaving the band announces nothing).
    already, medium = set(high[0::3]), set(high[1::3])
    leaving = today.loc[today["band"] != "high", "customer_id"].head(5).tolist()
    before = today[today["customer_id"].isin(already | medium | set(leaving))].copy()
    before["band"] = ["medium" if c in medium else "high" for c in before["customer_id"]]
    before["as_of"] = pd.Timestamp(trained.as_of) - pd.Timedelta(days=30)
    write_scores(store, before)

    score_store(store, trained.predictor, **run)
    queued = outbox(store, "customer.high_risk")
    entering = sorted(set(high) - already)
    assert sorted(r["payload"]["customer_id"] for r in queued) == entering
    first = next(r["payload"] for r in queued if r["payload"]["customer_id"] in medium)
    assert first["previous_band"] == "medium" and first["band"] == "high"
    assert set(first) == {
        "customer_id", "probability", "band", "previous_band", "revenue_at_risk",
        "model_version", "as_of",
    }  # fmt: skip
    assert first["as_of"] == str(pd.Timestamp(trained.as_of).date())
    assert first["model_version"] == trained.version
    fresh = next(r["payload"] for r in queued if r["payload"]["customer_id"] not in medium)
    assert fresh["previous_band"] is None

    score_store(store, trained.predictor, **run)  # a rerun
    assert len(outbox(store, "customer.high_risk")) == len(entering)

    accepted = deliver(store, receiver, made["secret"])
    assert sorted(e["payload"]["customer_id"] for e in accepted) == entering
    assert {e["type"] for e in accepted} == {"customer.high_risk"}


def test_the_score_route_announces_a_customer_it_moves_into_high(
    world_store: Store, trained: Trained, receiver: Receiver
) -> None:
    store = world_store
    made = register(
        store, receiver.url, ["customer.high_risk"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    now = datetime.combine(trained.as_of.date(), datetime.min.time()) + timedelta(hours=15)

    def score(customer_id: str, record: bool = True) -> dict[str, Any]:
        [result] = score_items(
            trained.predictor, store, [{"customer_id": customer_id}], now=now,
            model_version=trained.version, text_pipeline=trained.text_pipeline,
            text_version="test", max_text_chars=20_000, future_tolerance_days=1, record=record,
        )  # fmt: skip
        return result

    parts: list[pd.DataFrame] = []
    score_store(
        store, trained.predictor, model_version=trained.version, as_of=pd.Timestamp(now), scored_at=now,
        bucket_customers=64, record=False, sink=parts.append,
    )  # fmt: skip
    today = pd.concat(parts)
    high = today.loc[today["band"] == "high", "customer_id"].iloc[0]
    low = today.loc[today["band"] == "low", "customer_id"].iloc[0]
    assert score(high)["band"] == "high"
    assert score(low)["band"] == "low"
    assert score(high)["band"] == "high"  # scored again: already high
    queued = outbox(store, "customer.high_risk")
    assert [r["payload"]["customer_id"] for r in queued] == [high]
    assert queued[0]["payload"]["previous_band"] is None
    [event] = deliver(store, receiver, made["secret"])
    assert event["payload"]["customer_id"] == high


def surging_theme(store: Store, month: date) -> None:
    """Four months of 40 analysed comments: 'billing' in 2 a month, then in 20 this month."""
    at = datetime(2025, 1, 1)
    with store.begin() as connection:
        connection.execute(
            insert(customers),
            [
                {"customer_id": f"K{i}", "signup_date": date(2024, 1, 1), "attributes": {},
                 "content_hash": i, "created_at": at, "updated_at": at}
                for i in range(40)
            ],
        )  # fmt: skip
        starts = [pd.Timestamp(month) - pd.DateOffset(months=k) for k in (3, 2, 1, 0)]
        for m, start in enumerate(starts):
            mentions = 20 if m == 3 else 2
            for i in range(40):
                feedback_id = f"F{m}-{i}"
                created = start.to_pydatetime() + timedelta(days=1, hours=i % 20)
                connection.execute(
                    insert(feedback).values(
                        feedback_id=feedback_id, customer_id=f"K{i}", created_at=created,
                        channel="survey", text="billing again", language="en",
                        content_hash=i, ingested_at=created, updated_at=created,
                    )
                )  # fmt: skip
                connection.execute(
                    insert(feedback_analysis).values(
                        feedback_id=feedback_id, language="ja" if i < 12 else "en",
                        sentiment_label="negative", sentiment_score=-0.5, intents=[],
                        model_version=DEFAULTS, analysed_at=at,
                    )
                )  # fmt: skip
                if i < mentions:
                    connection.execute(
                        insert(feedback_themes).values(
                            feedback_id=feedback_id, theme_id="billing",
                            theme_label="billing errors", confidence=0.9, sentiment_score=-0.5,
                        )
                    )  # fmt: skip


def test_rerunning_analyze_announces_an_emerging_theme_once(
    store: Store, database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = Settings(
        database_url=database_url, mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db"
    )
    surging_theme(store, date(2025, 6, 1))
    made = register(
        store, receiver.url, ["theme.emerging"], actor="admin", now=SCORED_AT, allow_private=True
    )
    for _ in range(2):
        run_analyze(settings, lambda: store, AnalyzeRequest(into_store=True), now=SCORED_AT)
    assert "emerging_themes" not in housekeeping(store, settings, now=SCORED_AT)
    [queued] = outbox(store, "theme.emerging")
    assert queued["payload"] == {
        "theme_id": "billing",
        "label": "billing errors",
        "language": "ja",  # 12 of its 20 mentions this month
        "period": "2025-06",
        "count": 20,
        "baseline": 5.0,
        "growth": 45.0,
    }
    [event] = deliver(store, receiver, made["secret"])
    assert event["type"] == "theme.emerging" and event["payload"]["theme_id"] == "billing"


def test_a_retrain_that_promotes_announces_the_new_champion(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cxml.jobs.retrain as job

    rows = [
        {"model": "cxml-text", "trained": "4", "decision": "kept the champion: worse"},
        {"model": "cxml-churn", "trained": "7", "decision": "promoted: ROC-AUC 0.81 > 0.78"},
    ]
    monkeypatch.setattr(
        job,
        "retrain",
        lambda *a, **k: {"models": rows, "churn_promoted": True, "text_promoted": False},
    )
    register(
        store, "http://127.0.0.1:9/hook", ["model.promoted"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    job.run_retrain(Settings(), store, now=SCORED_AT, actor="scheduler", clock=lambda: SCORED_AT)
    [queued] = outbox(store, "model.promoted")
    assert queued["payload"] == {
        "model": "cxml-churn", "version": "7", "reason": "ROC-AUC 0.81 > 0.78",
    }  # fmt: skip


def test_the_first_version_becoming_champion_is_announced_once(store: Store) -> None:
    from cxml.jobs.promote import announce_first_champion

    register(
        store, "http://127.0.0.1:9/hook", ["model.promoted"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    assert announce_first_champion(store, "cxml-text", "1", now=SCORED_AT) == 1
    assert announce_first_champion(store, "cxml-text", "1", now=SCORED_AT) == 0  # a rerun
    [queued] = outbox(store, "model.promoted")
    assert queued["payload"]["version"] == "1" and "first version" in queued["payload"]["reason"]


@pytest.mark.slow  # a real Spark (local[2])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_spark_score_run_announces_the_customers_entering_high(
    world_store: Store, trained: Trained, settings: Settings
) -> None:
    from cxml.spark.jobs import score_with_spark
    from cxml.spark.session import spark_session
    from cxml.spark.sources import Source

    store = world_store
    register(
        store, "http://127.0.0.1:9/hook", ["customer.high_risk"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    spark = spark_session(master="local[2]", jars=Settings().spark_jars)
    try:
        for _ in range(2):  # the second run: everyone high is already high
            score_with_spark(
                spark, Source(database_url=settings.resolved_database_url()), trained.predictor,
                model_version=trained.version, as_of=trained.as_of, scored_at=SCORED_AT,
                bucket_customers=50,
            )  # fmt: skip
    finally:
        spark.stop()
    high = sorted(store.table_frame("latest_scores").query("band == 'high'")["customer_id"])
    queued = outbox(store, "customer.high_risk")
    assert high and sorted(r["payload"]["customer_id"] for r in queued) == high


def test_the_servers_housekeeping_announces_an_emerging_theme_once(store: Store) -> None:
    surging_theme(store, date(2025, 6, 1))
    register(
        store, "http://127.0.0.1:9/hook", ["theme.emerging"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    assert housekeeping(store, Settings(), now=SCORED_AT) == {"emerging_themes": 1}
    assert housekeeping(store, Settings(), now=SCORED_AT) == {}
    assert len(outbox(store, "theme.emerging")) == 1


def test_a_follow_up_past_its_due_date_is_announced_once_then_again_when_escalated(
    store: Store,
) -> None:
    from cxml.followups import escalate_overdue, open_follow_up

    with store.begin() as connection:
        connection.execute(
            insert(customers),
            [
                {"customer_id": "C1", "signup_date": date(2024, 1, 1), "attributes": {},
                 "content_hash": 1, "created_at": SCORED_AT, "updated_at": SCORED_AT}
            ],
        )  # fmt: skip
    opened = open_follow_up(store, "C1", {"owner": "aiko"}, actor="k", now=SCORED_AT)
    register(
        store, "http://127.0.0.1:9/hook", ["follow_up.overdue"], actor="admin", now=SCORED_AT,
        allow_private=True,
    )  # fmt: skip
    assert housekeeping(store, Settings(), now=SCORED_AT) == {}  # not due yet
    late = SCORED_AT + timedelta(days=30)
    assert housekeeping(store, Settings(), now=late) == {"overdue_announced": 1}
    assert housekeeping(store, Settings(), now=late + timedelta(hours=1)) == {}
    [queued] = outbox(store, "follow_up.overdue")
    assert queued["payload"]["follow_up_id"] == opened["follow_up_id"]
    assert queued["payload"]["owner"] == "aiko" and queued["payload"]["escalated"] is False
    escalate_overdue(store, now=late, after_days=3, owner="lead", actor="server")
    handed = [r["payload"] for r in outbox(store, "follow_up.overdue")][1:]
    assert [(p["owner"], p["previous_owner"], p["escalated"]) for p in handed] == [
        ("lead", "aiko", True)
    ]


@pytest.mark.slow  # the demo served, and a real browser
def test_the_worklist_counts_overdue_follow_ups_and_marks_their_rows(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    from sqlalchemy import update

    from cxml.store.tables import follow_ups
    from tests.conftest import demo_server
    from tests.serve.test_page import ARGS, CHROMIUM

    url = f"sqlite:///{tmp_path / 'cxml.db'}"
    with demo_server(tmp_path, url, "sqlite") as served:
        agent = str(served["keys"]["agent"])  # type: ignore[index]
        with httpx.Client(base_url=str(served["base"]), headers={"X-API-Key": agent}) as api:
            listed = api.get("/v1/worklist", params={"capacity": 5}).json()["items"]
            customer = next(i["customer_id"] for i in listed if i["follow_up"] is None)
            made = api.post(
                f"/v1/customers/{customer}/follow-ups", json={"status": "open", "owner": "Aiko"}
            )
            assert made.status_code == 201, made.text
        store = Store.open(url)
        try:
            with store.begin() as connection:
                connection.execute(
                    update(follow_ups)
                    .where(follow_ups.c.follow_up_id == made.json()["follow_up_id"])
                    .values(due_at=datetime(2020, 1, 1))
                )
        finally:
            store.close()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(locale="en-US")
                page.goto(f"{served['base']}/#/worklist")
                page.fill("#signin-key", agent)
                page.click(".signin button[type=submit]")
                page.click("nav a[href='#/worklist']")
                page.wait_for_selector("#worklist-overdue:not([hidden])")
                assert "past their due date: 1" in page.inner_text("#worklist-overdue")
                page.wait_for_selector(
                    f"#worklist-table tr[data-customer='{customer}'] .pill.overdue"
                )
                assert page.locator("#worklist-table .pill.overdue").count() == 1
                assert "overdue since Jan 1, 2020" in page.inner_text("#worklist-table")
            finally:
                browser.close()
