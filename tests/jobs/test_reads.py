"""The CX read jobs (``cxml.jobs.reads``) on a real store: the demo world, and an empty store
on its first day."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cxml.demo import World
from cxml.errors import ConfigError, NotFoundError
from cxml.jobs.reads import (
    AlertRequest,
    DriverRequest,
    MetricRequest,
    TimelineRequest,
    run_alerts,
    run_drivers,
    run_metric,
    run_stats,
    run_timeline,
)
from cxml.metrics import NO_CHURN_DATA
from cxml.reporting import Report
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.audit import audit_rows
from tests.conftest import NOW, load_world, postgres_schema


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(
    request: pytest.FixtureRequest,
    world: World,
    demo_text_pipeline: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Store]:
    """The shared demo world (300 customers) loaded and analysed, on SQLite and PostgreSQL."""
    folder = tmp_path_factory.mktemp("reads")
    place = (
        nullcontext(f"sqlite:///{folder / 'cxml.db'}")
        if request.param == "sqlite"
        else postgres_schema(request.getfixturevalue("postgres_engine"))
    )
    with place as url:
        settings = Settings(database_url=url)
        store = Store.open(settings)
        try:
            load_world(store, settings, world, folder, pipeline=demo_text_pipeline)
            yield store
        finally:
            store.close()


# --- stats ----------------------------------------------------------------------------------


def test_stats_count_the_demo_world(demo: Store, world: World) -> None:
    stats = run_stats(demo)
    assert stats.customers == len(world.customers)
    assert stats.customers_active + stats.customers_churned == stats.customers
    assert stats.customers_churned == int((world.customers["churn_date"] != "").sum())
    assert stats.feedback == len(world.feedback)
    assert sum(stats.feedback_by_channel.values()) == stats.feedback
    assert sum(stats.feedback_by_language.values()) == stats.feedback
    assert stats.feedback_first is not None and stats.feedback_first <= str(stats.feedback_last)
    assert list(stats.as_dict())[:3] == ["customers", "customers_active", "customers_churned"]


def test_stats_of_an_empty_store_are_zeros_without_dates(store: Store) -> None:
    stats = run_stats(store)
    assert stats.as_dict() == {
        "customers": 0,
        "customers_active": 0,
        "customers_churned": 0,
        "feedback": 0,
        "feedback_with_text": 0,
        "anonymous_responses": 0,
        "feedback_by_channel": {},
        "feedback_by_language": {},
        "feedback_first": None,
        "feedback_last": None,
        "rejects": 0,
        "rejects_held": 0,
    }


#: Two survey answers naming nobody (one in a file that says it is Japanese), and a comment of
#: a known customer; none of the three says its language but the one.
ANSWERS = (
    "feedback_id,customer_id,created_at,channel,text,language,nps\n"
    "F1,,2025-03-01,survey,Great value for money and friendly staff at the branch,,9\n"
    "F2,,2025-03-02,survey,アプリがすぐに落ちて本当に困っています,ja,2\n"
    "F3,C1,2025-03-03,email,The app keeps crashing and support never answers my emails,,3\n"
)


@pytest.mark.parametrize(
    ("named", "before", "after"),
    [
        # anonymous answers only: no customer at all
        ("F1,F2", {"ja": 1, "unknown": 1}, {"en": 1, "ja": 1}),
        # one customer beside them
        ("F1,F2,F3", {"ja": 1, "unknown": 2}, {"en": 2, "ja": 1}),
    ],
)
def test_stats_count_anonymous_answers_apart_and_languages_as_analysed(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    named: str,
    before: dict[str, int],
    after: dict[str, int],
) -> None:
    from cxml.ingest import ingest_file
    from cxml.text.training import analyze_feedback, default_pipeline

    ids = named.split(",")
    lines = ANSWERS.splitlines()
    (tmp_path / "feedback.csv").write_text(
        "\n".join([lines[0], *(line for line in lines[1:] if line.split(",")[0] in ids)]) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "customers.csv").write_text("customer_id,signup_date\nC1,2024-01-01\n")
    if "F3" in ids:
        ingest_file(store, "customers", tmp_path / "customers.csv", settings=settings, now=NOW)
    ingest_file(
        store, "feedback", tmp_path / "feedback.csv", settings=settings, now=NOW, anonymous=True
    )
    stats = run_stats(store)
    customers = 1 if "F3" in ids else 0
    assert (stats.customers, stats.customers_active, stats.anonymous_responses) == (
        customers,
        customers,
        2,
    )
    assert stats.feedback == len(ids)
    assert stats.feedback_by_language == before  # the file's word, where it gave one
    analyze_feedback(store, default_pipeline(), "defaults", ids, now=NOW)
    stats = run_stats(store)
    assert stats.feedback_by_language == after  # what the analysis found
    assert stats.customers == customers and stats.anonymous_responses == 2


# --- timeline -------------------------------------------------------------------------------


@pytest.mark.parametrize("pii", [False, True])
def test_a_timeline_lists_the_customers_feedback_oldest_first_and_is_audited(
    demo: Store, world: World, pii: bool
) -> None:
    counts = world.feedback["customer_id"].value_counts()
    customer_id = str(counts.index[0])
    before = len(audit_rows(demo, action="read.customer", limit=10_000))
    found = run_timeline(demo, TimelineRequest(customer_id, pii=pii), actor="test", now=NOW)
    assert found.customer["customer_id"] == customer_id
    assert len(found.events) == counts.iloc[0] == len(found.records)
    assert found.events["created_at"].is_monotonic_increasing
    assert len(audit_rows(demo, action="read.customer", limit=10_000)) == before + 1
    newest = audit_rows(demo, action="read.customer", limit=1)[0]
    assert (newest["actor"], newest["target"]) == ("test", customer_id)


def test_a_redacted_timeline_hides_an_email_address_the_raw_one_shows_it(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from cxml.ingest import ingest_file

    (tmp_path / "customers.csv").write_text("customer_id,signup_date\nC1,2024-01-01\n")
    (tmp_path / "feedback.csv").write_text(
        "feedback_id,customer_id,created_at,channel,text\n"
        "F1,C1,2025-01-02,email,Write to me at jane.doe@example.com please\n"
    )
    ingest_file(store, "customers", tmp_path / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", tmp_path / "feedback.csv", settings=settings, now=NOW)
    redacted = run_timeline(store, TimelineRequest("C1"), actor="test", now=NOW)
    raw = run_timeline(store, TimelineRequest("C1", pii=True), actor="test", now=NOW)
    assert "jane.doe@example.com" in raw.records[0]["text"]
    assert "jane.doe@example.com" not in redacted.records[0]["text"]


def test_the_timeline_of_an_unknown_customer_is_not_found_and_not_audited(store: Store) -> None:
    with pytest.raises(NotFoundError):
        run_timeline(store, TimelineRequest("nobody"), actor="test", now=NOW)
    assert audit_rows(store, action="read.customer") == []


# --- metrics --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "churn_data"),
    [
        (MetricRequest("nps", by=("channel,channel",), period="quarter"), None),
        (MetricRequest("csat", period="month", level="customer"), None),
        (MetricRequest("churn-rate", period="quarter"), True),
        (MetricRequest("retention", start=pd.Timestamp("2025-01-01").to_pydatetime()), True),
    ],
)
def test_metrics_of_the_demo_world_have_rows_and_say_whether_churn_data_is_there(
    demo: Store, request_: MetricRequest, churn_data: bool | None
) -> None:
    report = run_metric(demo, request_)
    assert len(report.rows) > 0 and report.churn_data is churn_data
    assert report.message is None
    assert {"ci_low", "ci_high", "n", "small"} <= set(report.rows.columns)
    if request_.by:
        assert list(report.rows.columns[:2]) == ["period", "channel"]  # channel counted once


@pytest.mark.parametrize(
    ("metric", "churn_data"),
    [("nps", None), ("ces", None), ("churn-rate", False), ("retention", False)],
)
def test_metrics_on_the_first_day_have_no_rows_and_churn_figures_say_why(
    store: Store, metric: str, churn_data: bool | None
) -> None:
    report = run_metric(store, MetricRequest(metric, period="month"))
    assert report.rows.empty and report.records == []
    assert report.churn_data is churn_data
    if churn_data is False:
        assert report.message is not None and report.message.startswith(NO_CHURN_DATA)
        assert "no customers loaded yet" in report.message


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (MetricRequest("churn-rate", by=("channel",)), "cannot be split by channel"),
        (MetricRequest("nps", by=("shoe_size",)), "cannot group by 'shoe_size'"),
        (MetricRequest("happiness"), "unknown metric"),
    ],
)
def test_a_metric_request_that_cannot_be_answered_is_refused(
    store: Store, request_: MetricRequest, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        run_metric(store, request_)


# --- drivers --------------------------------------------------------------------------------


def test_nps_drivers_of_the_demo_world_are_ranked_by_impact(demo: Store) -> None:
    report = run_drivers(demo, DriverRequest("nps"), as_of=NOW)
    assert len(report.rows) > 0 and report.churn_data is None
    assert report.rows["impact"].is_monotonic_increasing
    assert report.answer_fields() == {}


def test_churn_drivers_of_the_demo_world_count_tenure_to_the_day_asked(demo: Store) -> None:
    report = run_drivers(demo, DriverRequest("churn"), as_of=NOW)
    assert report.churn_data is True and report.answer_fields() == {"churn_data": True}
    assert len(report.rows) > 0
    assert report.rows["excess_churn_comparable"].is_monotonic_decreasing


#: On an empty store the first thing to run is an ingest, not `cxml train text`.
NO_THEMES_NOR_FEEDBACK = (
    r"^no analysed themes in the store yet, and the store holds no feedback yet: .*"
    r"`cxml ingest feedback FILE`.*; then run `cxml train text` and `cxml analyze --store`$"
)


def test_drivers_on_the_first_day_say_what_is_missing(store: Store) -> None:
    churn = run_drivers(store, DriverRequest("churn"), as_of=NOW)
    assert churn.rows.empty and churn.churn_data is False
    assert churn.answer_fields() == {"churn_data": False, "message": churn.message}
    with pytest.raises(ConfigError, match=NO_THEMES_NOR_FEEDBACK):
        run_drivers(store, DriverRequest("nps"), as_of=NOW)


# --- alerts ---------------------------------------------------------------------------------


def test_alerts_show_only_the_themes_that_raise_one_unless_all_are_asked_for(
    demo: Store,
) -> None:
    everything = run_alerts(demo, AlertRequest(min_count=1, show_all=True)).rows
    only = run_alerts(demo, AlertRequest(min_count=1)).rows
    assert len(everything) > 0 and len(only) == int(everything["alert"].sum())
    assert only.empty or only["alert"].all()


def test_alerts_split_by_a_customer_attribute_name_the_segment(demo: Store) -> None:
    rows = run_alerts(demo, AlertRequest(period="quarter", segment="plan", show_all=True)).rows
    assert rows.columns[0] == "segment" and rows["segment"].nunique() > 1


def test_alerts_on_the_first_day_say_nothing_is_analysed_yet(store: Store) -> None:
    with pytest.raises(ConfigError, match=NO_THEMES_NOR_FEEDBACK):
        run_alerts(store, AlertRequest())


# --- the report's churn fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "fields"),
    [
        (Report(pd.DataFrame()), {}),
        (Report(pd.DataFrame(), churn_data=True), {"churn_data": True}),
        (
            Report(pd.DataFrame(), churn_data=False, message="no churn data"),
            {"churn_data": False, "message": "no churn data"},
        ),
    ],
)
def test_a_report_answers_churn_data_only_for_churn_figures(
    report: Report, fields: dict[str, Any]
) -> None:
    assert report.answer_fields() == fields
    assert report.has_no_churn_data is (fields.get("churn_data") is False)
