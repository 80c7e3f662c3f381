"""Scores as stored: one writer, and "a customer's score" means the one with the latest as-of."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from cxml.settings import Settings
from cxml.store import Store
from cxml.store.scores import (
    at_risk,
    at_risk_query,
    at_risk_summary,
    latest_score,
    score_coverage,
    score_history,
    write_scores,
)
from tests.conftest import load_world


def scores_frame(customer: str, as_of: date, version: str, p: float, at: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [customer],
            "as_of": [as_of],
            "model_version": [version],
            "probability": [p],
            "band": ["high" if p > 0.5 else "low"],
            "revenue_at_risk": [None],
            "reasons": [[{"feature": "x", "value": 1, "contribution": 0.1, "text": "x = 1"}]],
            "attribution": ["exact TreeSHAP"],
            "scored_at": [at],
            "features_as_of": [pd.Timestamp(as_of).to_pydatetime()],
        }
    )


def test_a_backdated_run_is_history_not_the_latest(
    store: Store, settings: Settings, world: object, tmp_path: object
) -> None:
    load_world(store, settings, world, tmp_path, analyse=False)  # type: ignore[arg-type]
    customer = "C000001"
    write_scores(store, scores_frame(customer, date(2025, 6, 30), "1", 0.2, datetime(2025, 6, 30)))
    # computed later, but as of an earlier date: January's score must not shadow June's
    write_scores(store, scores_frame(customer, date(2025, 1, 1), "1", 0.9, datetime(2025, 7, 1)))
    assert latest_score(store, customer)["probability"] == 0.2
    assert [h["as_of"] for h in score_history(store, customer)] == [
        date(2025, 6, 30),
        date(2025, 1, 1),
    ]
    listed = {r["customer_id"]: r for r in at_risk(store, today=datetime(2025, 7, 1), limit=500)}
    assert listed[customer]["probability"] == 0.2
    # the same key again replaces, it does not add
    write_scores(store, scores_frame(customer, date(2025, 6, 30), "1", 0.3, datetime(2025, 7, 2)))
    assert latest_score(store, customer)["probability"] == 0.3
    assert len(score_history(store, customer)) == 2


def test_the_latest_score_table_follows_every_write_small_or_staged(
    store: Store, settings: Settings, world: object, tmp_path: object
) -> None:
    """``latest_scores`` (what the at-risk list reads) holds, for every customer, exactly the
    row the ranking of the whole history picks, after runs in any order: newer, backdated, a
    rerun of the same day with a later cut, through bound rows and through the staging table."""
    from sqlalchemy import text

    load_world(store, settings, world, tmp_path, analyse=False)  # type: ignore[arg-type]
    with store.engine.connect() as connection:
        ids = [r[0] for r in connection.execute(text("SELECT customer_id FROM customers"))]
    many, few = ids[:300], ids[:3]  # 300 rows are staged, 3 are bound

    def run(
        who: list[str], as_of: date, p: float, at: datetime, cut: datetime | None = None
    ) -> None:
        frame = pd.concat([scores_frame(c, as_of, "1", p, at) for c in who], ignore_index=True)
        if cut is not None:
            frame["features_as_of"] = cut
        write_scores(store, frame)

    run(many, date(2025, 6, 30), 0.2, datetime(2025, 6, 30))
    run(many, date(2025, 1, 1), 0.9, datetime(2025, 7, 1))  # backdated: history only
    run(few, date(2025, 6, 30), 0.4, datetime(2025, 7, 2), datetime(2025, 6, 30, 12))  # later cut
    run(few[:1], date(2025, 7, 31), 0.7, datetime(2025, 8, 1))  # newer
    ranked = (
        "SELECT customer_id, probability FROM (SELECT customer_id, probability, row_number() "
        "OVER (PARTITION BY customer_id ORDER BY as_of DESC, features_as_of DESC, scored_at DESC)"
        " AS rank FROM scores) r WHERE rank = 1"
    )
    with store.engine.connect() as connection:
        truth = dict(connection.execute(text(ranked)).all())
        kept = dict(
            connection.execute(text("SELECT customer_id, probability FROM latest_scores")).all()
        )
    assert kept == truth and len(kept) == 300
    assert kept[few[0]] == 0.7 and kept[few[1]] == 0.4 and kept[many[-1]] == 0.2
    listed = at_risk(store, today=datetime(2025, 8, 2), limit=5)
    assert listed[0]["customer_id"] == few[0] and listed[0]["probability"] == 0.7


def test_upgrading_a_store_with_scores_fills_the_latest_score_table(
    store: Store, settings: Settings, world: object, tmp_path: object
) -> None:
    """A store scored before revision 0008 is upgraded with every customer's latest score."""
    from alembic import command
    from sqlalchemy import text

    from cxml.store.database import _alembic_config

    load_world(store, settings, world, tmp_path, analyse=False)  # type: ignore[arg-type]
    write_scores(store, scores_frame("C000001", date(2025, 6, 30), "1", 0.2, datetime(2025, 7, 1)))
    write_scores(store, scores_frame("C000001", date(2025, 1, 1), "1", 0.9, datetime(2025, 7, 2)))
    write_scores(store, scores_frame("C000002", date(2025, 1, 1), "1", 0.6, datetime(2025, 7, 2)))
    with store.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0007")
    assert store.schema_revision() == "0007"
    store.migrate()
    with store.engine.connect() as connection:
        kept = dict(
            connection.execute(text("SELECT customer_id, probability FROM latest_scores")).all()
        )
    assert kept == {"C000001": 0.2, "C000002": 0.6}


def test_the_at_risk_list_shows_and_filters_by_each_customers_latest_follow_up(
    store: Store,
) -> None:
    """The latest follow-up is the last changed (ties: the later opened), whatever order they
    were opened in; the status filters and the handled-since cut read that one only."""
    from sqlalchemy import insert

    from cxml.store.followups import change_follow_up, insert_follow_up
    from cxml.store.tables import customers

    with store.begin() as connection:
        connection.execute(
            insert(customers),
            [
                {"customer_id": c, "signup_date": date(2024, 1, 1), "attributes": {},
                 "content_hash": 0, "source": "t", "created_at": datetime(2024, 1, 1),
                 "updated_at": datetime(2024, 1, 1)}
                for c in ("A", "B", "C")
            ],
        )  # fmt: skip
    for customer, p in (("A", 0.9), ("B", 0.8), ("C", 0.7)):
        write_scores(store, scores_frame(customer, date(2025, 6, 1), "1", p, datetime(2025, 6, 1)))
    day = datetime(2025, 6, 2)
    a_first = insert_follow_up(store, "A", {"status": "open", "owner": "x"}, "t", day)
    insert_follow_up(store, "A", {"status": "open", "owner": "y"}, "t", day.replace(hour=1))
    change_follow_up(store, a_first["follow_up_id"], {"status": ["open", "contacted"]}, "t",
                     day.replace(hour=2))  # fmt: skip
    insert_follow_up(store, "B", {"status": "contacted", "owner": "x"}, "t", day)
    b_later = insert_follow_up(store, "B", {"status": "lost", "owner": "y"}, "t", day)  # a tie

    def listed(**filters: object) -> dict[str, object]:
        rows = at_risk(store, today=datetime(2025, 6, 10), limit=10, **filters)  # type: ignore[arg-type]
        return {r["customer_id"]: r["follow_up"] and r["follow_up"]["status"] for r in rows}

    assert listed() == {"A": "contacted", "B": "lost", "C": None}
    assert listed(follow_up_status=["contacted"]) == {"A": "contacted"}
    assert listed(follow_up_status=["lost", "none"]) == {"B": "lost", "C": None}
    assert listed(follow_up_status=["open"]) == {}
    rows = at_risk(store, today=datetime(2025, 6, 10), limit=10)
    assert rows[1]["follow_up"]["follow_up_id"] == b_later["follow_up_id"]
    # A was contacted at 02:00, B lost at 00:00: since 01:30 only A counts as handled.
    assert listed(handled_since=datetime(2025, 6, 2, 1, 30)) == {"B": "lost", "C": None}


def _customers(store: Store, monthly: dict[str, float | None]) -> None:
    from sqlalchemy import insert

    from cxml.store.tables import customers

    with store.begin() as connection:
        connection.execute(
            insert(customers),
            [
                {"customer_id": c, "signup_date": date(2024, 1, 1), "monthly_value": value,
                 "attributes": {}, "content_hash": 0, "source": "t",
                 "created_at": datetime(2024, 1, 1), "updated_at": datetime(2024, 1, 1)}
                for c, value in monthly.items()
            ],
        )  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            # one calibration plateau (0.25 for all): the ranking score orders, exact ties of
            # the ranking score go to the larger revenue at risk, never to the id
            [("A", 0.25, 0.31, 10.0), ("B", 0.25, 0.35, 5.0), ("C", 0.25, 0.31, 40.0),
             ("D", 0.25, 0.29, None), ("E", 0.30, 0.40, 1.0), ("F", 0.25, 0.31, 20.0)],
            ["E", "B", "C", "F", "A", "D"],
        ),
    ],
)  # fmt: skip
def test_the_at_risk_list_orders_by_ranking_score_then_revenue_in_sql(
    store: Store, rows: list[tuple[str, float, float, float | None]], expected: list[str]
) -> None:
    _customers(store, {c: None for c, *_ in rows})
    frame = pd.concat(
        [scores_frame(c, date(2025, 6, 1), "1", p, datetime(2025, 6, 1)) for c, p, *_ in rows],
        ignore_index=True,
    )
    frame["ranking_score"] = [r for _, _, r, _ in rows]
    frame["revenue_at_risk"] = [v for *_, v in rows]
    write_scores(store, frame)
    today = datetime(2025, 6, 10)
    listed = at_risk(store, today=today, limit=10)
    assert [r["customer_id"] for r in listed] == expected
    assert [r["probability"] for r in listed] == sorted(p for _, p, *_ in rows)[::-1]
    # page by page, two at a time, through the ties: the same order, nobody twice or lost
    paged: list[str] = []
    after = None
    while True:
        page = at_risk(store, today=today, limit=2, after=after)
        if not page:
            break
        paged += [r["customer_id"] for r in page]
        after = (page[-1]["sort_key"], page[-1]["customer_id"])
    assert paged == expected
    # by revenue at risk, ties broken by the ranking score (customers without revenue last)
    by_revenue = at_risk(store, today=today, limit=10, sort="revenue_at_risk")
    assert [r["customer_id"] for r in by_revenue] == ["C", "F", "A", "B", "E", "D"]


@pytest.mark.parametrize("sort", ["probability", "revenue_at_risk"])
def test_an_at_risk_page_walks_its_index_in_order_on_sqlite(tmp_path: Path, sort: str) -> None:
    """A page reads the sort's index in order (no sort of every active customer), on the
    first page and after a cursor."""
    from sqlalchemy.dialects import sqlite

    store = Store.open(Settings(database_url=f"sqlite:///{tmp_path / 'plan.db'}"))
    try:
        for after in (None, (0.5, "C000001")):
            query = at_risk_query(
                store, today=datetime(2025, 6, 10), limit=50, sort=sort, after=after
            )
            sql = str(
                query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            )
            with store.engine.connect() as connection:
                plan = " ".join(
                    str(r[-1]) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                )
            index = (
                "ix_latest_scores_ranking" if sort == "probability" else "ix_latest_scores_revenue"
            )
            assert index in plan and "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


def test_the_summary_sums_revenue_at_risk_in_cents(store: Store) -> None:
    # 0.1 + 0.2 in floating point is 0.30000000000000004; money is shown in cents
    values = {"A": 0.1, "B": 0.2, "C": 0.0}
    _customers(store, dict.fromkeys(values))
    frame = pd.concat(
        [scores_frame(c, date(2025, 6, 1), "1", 0.9, datetime(2025, 6, 1)) for c in values],
        ignore_index=True,
    )
    frame["ranking_score"] = [0.9, 0.8, 0.7]
    frame["revenue_at_risk"] = list(values.values())
    write_scores(store, frame)
    (high,) = at_risk_summary(store, today=datetime(2025, 6, 10))
    assert high["band"] == "high" and high["customers"] == 3
    assert high["revenue_at_risk"] == 0.3


def _customer_rows(store: Store, rows: list[tuple[str, date, date | None, datetime]]) -> None:
    """Customers as (id, signup date, churn date, loaded at)."""
    from sqlalchemy import insert

    from cxml.store.tables import customers

    if not rows:
        return
    with store.begin() as connection:
        connection.execute(
            insert(customers),
            [
                {"customer_id": c, "signup_date": signup, "churn_date": churn,
                 "monthly_value": 10.0, "attributes": {}, "content_hash": 0, "source": "t",
                 "created_at": loaded, "updated_at": loaded}
                for c, signup, churn, loaded in rows
            ],
        )  # fmt: skip


#: The day the at-risk summary is read, and the scoring run before it (as of June 1st).
TODAY = datetime(2025, 6, 10)
RUN = datetime(2025, 6, 1, 12)
SIGNED = date(2024, 1, 1)
LOADED = datetime(2024, 1, 2)
NO_ONE_UNSCORED = {"joined_after_snapshot": 0, "loaded_after_scoring": 0, "never_scored": 0}


@pytest.mark.parametrize(
    ("rows", "scored", "expected"),
    [
        # an empty store: nothing to cover, and no snapshot yet
        ([], [], (0, 0, 0, None, NO_ONE_UNSCORED)),
        # anonymous survey respondents only: no customers at all
        ([("anonymous:F1", SIGNED, None, LOADED), ("anonymous:F2", SIGNED, None, LOADED)], [],
         (0, 0, 0, None, NO_ONE_UNSCORED)),
        # one customer, not scored yet
        ([("A", SIGNED, None, LOADED)], [],
         (1, 1, 0, None, NO_ONE_UNSCORED | {"never_scored": 1})),
        # one customer, scored
        ([("A", SIGNED, None, LOADED)], ["A"], (1, 1, 1, date(2025, 6, 1), NO_ONE_UNSCORED)),
        # a base with a customer in each case: A scored; B signed up on the snapshot's day and
        # C after it; D signed up long ago but was loaded after the run; E loaded before the run
        # and left out of it; F churned (in the store, not active); an anonymous respondent
        ([("A", SIGNED, None, LOADED), ("B", date(2025, 6, 1), None, datetime(2025, 6, 1)),
          ("C", date(2025, 6, 5), None, datetime(2025, 6, 5)),
          ("D", SIGNED, None, datetime(2025, 6, 3)), ("E", SIGNED, None, LOADED),
          ("F", SIGNED, date(2025, 6, 8), LOADED), ("anonymous:F1", SIGNED, None, LOADED)],
         ["A", "F"],
         (6, 5, 1, date(2025, 6, 1),
          {"joined_after_snapshot": 2, "loaded_after_scoring": 1, "never_scored": 1})),
    ],
)  # fmt: skip
def test_the_score_coverage_counts_the_base_and_why_the_unscored_have_no_score(
    store: Store,
    rows: list[tuple[str, date, date | None, datetime]],
    scored: list[str],
    expected: tuple[int, int, int, date | None, dict[str, int]],
) -> None:
    _customer_rows(store, rows)
    for customer in scored:
        write_scores(store, scores_frame(customer, date(2025, 6, 1), "1", 0.9, RUN))
    coverage = score_coverage(store, today=TODAY)
    in_store, active, with_score, as_of, unscored = expected
    assert coverage == {
        "store_customers": in_store,
        "active_customers": active,
        "scored_customers": with_score,
        "unscored_customers": active - with_score,
        "scored_as_of": as_of,
        "unscored": unscored,
    }
    # the bands count exactly the scored active customers
    assert sum(b["customers"] for b in at_risk_summary(store, today=TODAY)) == with_score
