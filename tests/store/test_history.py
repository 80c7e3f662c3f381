"""Point-in-time reads: time is cut in SQL, once; a customer's read holds only their rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cxml.demo import World, generate
from cxml.features import FeatureSpec, customer_features
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.history import (
    EVERYONE,
    Selection,
    customer_buckets,
    day_cut,
    read_history,
)
from tests.conftest import load_world

SNAPSHOT = pd.Timestamp("2025-01-01")
SPEC = FeatureSpec(
    theme_ids=("billing", "network", "support"),
    channels=("email", "chat", "survey"),
    attributes=("plan", "contract"),
)


@pytest.fixture(scope="module")
def small_world() -> World:
    return generate(150, seed=9, end=date(2025, 6, 30))


def features_of(store: Store, selection: Selection = EVERYONE) -> pd.DataFrame:
    return customer_features(read_history(store, SNAPSHOT, selection), SPEC)


def test_features_as_of_t_ignore_everything_after_t(
    database_url: str, small_world: World, demo_text_pipeline: object, tmp_path: Path
) -> None:
    """Features as of T are bit-identical whether or not the store holds data after T."""
    settings = Settings(database_url=database_url)
    full = Store.open(settings)
    load_world(full, settings, small_world, tmp_path / "full", pipeline=demo_text_pipeline)
    complete = features_of(full)
    full.close()
    if database_url.startswith("sqlite"):
        cut_url = f"sqlite:///{tmp_path / 'cut.db'}"
    else:
        cut_url = database_url  # the same fresh schema, emptied
        emptied = Store.open(settings)
        with emptied.begin() as connection:
            for table in (
                "feedback_themes",
                "feedback_analysis",
                "rejects",
                "ingest_runs",
                "feedback",
                "customers",
            ):
                connection.exec_driver_sql(f"DELETE FROM {table}")
        emptied.close()
    cut_settings = Settings(database_url=cut_url)
    cut = Store.open(cut_settings)
    load_world(
        cut,
        cut_settings,
        small_world,
        tmp_path / "cut",
        before=SNAPSHOT,
        pipeline=demo_text_pipeline,
    )
    truncated = features_of(cut)
    cut.close()
    assert len(complete) > 50
    assert complete["theme_billing"].sum() > 0  # the text features are in the comparison
    assert complete["sentiment_mean_365d"].notna().sum() > 50
    pd.testing.assert_frame_equal(complete, truncated, check_exact=True)


def test_nothing_dated_on_or_after_the_instant_leaves_the_database(
    store: Store, settings: Settings, small_world: World, tmp_path: Path
) -> None:
    load_world(store, settings, small_world, tmp_path)
    history = read_history(store, SNAPSHOT)
    assert history.feedback["created_at"].max() < SNAPSHOT
    assert history.themes["created_at"].max() < SNAPSHOT
    assert "churn_date" not in history.customers.columns  # an outcome, read only for labels
    assert (history.customers["signup_date"] < SNAPSHOT).all()
    truth = small_world.customers.set_index("customer_id")
    churned = pd.to_datetime(truth["churn_date"].replace("", None))
    gone = set(churned[churned < SNAPSHOT].index)
    assert not gone & set(history.customers["customer_id"])


def test_one_customers_read_holds_only_their_rows_and_gives_the_bulk_numbers(
    store: Store, settings: Settings, small_world: World, demo_text_pipeline: object, tmp_path: Path
) -> None:
    load_world(store, settings, small_world, tmp_path, pipeline=demo_text_pipeline)
    everyone = features_of(store)
    for customer_id in everyone.index[:: max(1, len(everyone) // 12)]:
        history = read_history(store, SNAPSHOT, Selection.of([customer_id]))
        assert set(history.feedback["customer_id"]) <= {customer_id}
        assert set(history.themes["customer_id"]) <= {customer_id}
        alone = customer_features(history, SPEC)
        pd.testing.assert_frame_equal(alone, everyone.loc[[customer_id]], check_exact=True)


def test_buckets_cover_every_customer_once_and_give_the_same_features(
    store: Store, settings: Settings, small_world: World, demo_text_pipeline: object, tmp_path: Path
) -> None:
    load_world(store, settings, small_world, tmp_path, pipeline=demo_text_pipeline)
    everyone = features_of(store)
    buckets = list(customer_buckets(store, 17, signed_up_before=SNAPSHOT))
    assert len(buckets) > 3
    parts = [features_of(store, bucket) for bucket in buckets]
    ids = [i for part in parts for i in part.index]
    assert len(ids) == len(set(ids))
    pd.testing.assert_frame_equal(
        pd.concat(parts).sort_index(), everyone.sort_index(), check_exact=True
    )


@pytest.mark.parametrize(
    ("instant", "cut"),
    [
        ("2025-01-01 00:00", date(2025, 1, 1)),  # midnight: that day is not before it
        ("2025-01-01 12:30", date(2025, 1, 2)),  # noon: that day started before it
    ],
)
def test_dates_compare_with_an_instant_the_way_midnights_do(instant: str, cut: date) -> None:
    assert day_cut(pd.Timestamp(instant)) == cut
