"""Bulk scoring a bucket at a time: the same scores whatever the bucket size, on both databases."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from cxml.batch import score_store
from cxml.store.scores import top_scores
from tests.conftest import Trained

SCORED_AT = datetime(2025, 7, 1, 9, 0)


def run(trained: Trained, dialect: str, bucket: int, **options: object) -> pd.DataFrame:
    parts: list[pd.DataFrame] = []
    score_store(
        trained.stores[dialect],
        trained.predictor,
        model_version=trained.version,
        as_of=trained.as_of,
        scored_at=SCORED_AT,
        bucket_customers=bucket,
        sink=parts.append,
        **options,  # type: ignore[arg-type]
    )
    return pd.concat(parts).sort_values("customer_id").reset_index(drop=True)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_scores_do_not_depend_on_the_bucket_size(trained: Trained, dialect: str) -> None:
    small = run(trained, dialect, 7, record=False, attribution="path")
    large = run(trained, dialect, 10_000, record=False, attribution="path")
    assert len(small) > 150
    pd.testing.assert_frame_equal(small, large, check_exact=True)


def test_both_databases_give_the_same_scores_and_reasons(trained: Trained) -> None:
    sqlite = run(trained, "sqlite", 50, record=False)
    postgres = run(trained, "postgresql", 50, record=False)
    assert sqlite["customer_id"].tolist() == postgres["customer_id"].tolist()
    assert np.abs(sqlite["probability"] - postgres["probability"]).max() < 1e-9
    assert sqlite["band"].tolist() == postgres["band"].tolist()
    assert sqlite["reasons"].tolist() == postgres["reasons"].tolist()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_rerun_replaces_its_scores_and_the_top_is_the_highest(
    trained: Trained, dialect: str
) -> None:
    store = trained.stores[dialect]
    first, again = (
        score_store(
            store,
            trained.predictor,
            model_version=trained.version,
            as_of=trained.as_of,
            scored_at=SCORED_AT,
            bucket_customers=40,
            top=5,
        )
        for _ in range(2)
    )
    stored = store.table_frame("scores")
    mine = stored[stored["as_of"] == trained.as_of.date()]
    assert len(mine) == first.scored == again.scored  # not doubled
    assert [r["customer_id"] for r in first.top] == top_scores(store, trained.as_of.date(), 5)[
        "customer_id"
    ].tolist()
    reasons = first.top[0]["reasons"]
    assert reasons and all({"feature", "value", "contribution", "text"} <= set(r) for r in reasons)
