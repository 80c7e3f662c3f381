"""--engine spark gives what the local engine gives: scores, reasons, analysis and training
rows, on SQLite and PostgreSQL stores and on Parquet files (Spark for real, local[2])."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxml.batch import score_store
from cxml.churn.predictor import ChurnDefinition
from cxml.churn.training import feature_spec, snapshot_dates, training_set
from cxml.settings import Settings
from cxml.spark.jobs import analyze_with_spark, score_with_spark, training_rows_with_spark
from cxml.spark.session import spark_session
from cxml.spark.sources import Source
from tests.conftest import Trained

pytestmark = pytest.mark.slow  # a real Spark (local[2]) per session
NOW = datetime(2025, 7, 1, 9, 0)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session(master="local[2]", jars=Settings().spark_jars)
    yield session
    session.stop()


def local_scores(trained: Trained, dialect: str) -> pd.DataFrame:
    parts: list[pd.DataFrame] = []
    score_store(
        trained.stores[dialect],
        trained.predictor,
        model_version=trained.version,
        as_of=trained.as_of,
        scored_at=NOW,
        bucket_customers=50,
        attribution="exact",
        record=False,
        sink=parts.append,
    )
    return pd.concat(parts).set_index("customer_id").sort_index()


def assert_same_scores(spark_scores: pd.DataFrame, local: pd.DataFrame) -> None:
    spark_scores = spark_scores.set_index("customer_id").sort_index()
    assert list(spark_scores.index) == list(local.index) and len(local) > 150
    assert np.abs(spark_scores["probability"] - local["probability"]).max() < 1e-9
    assert np.abs(spark_scores["ranking_score"] - local["ranking_score"]).max() < 1e-12
    assert spark_scores["band"].tolist() == local["band"].tolist()
    assert [json.loads(r) for r in spark_scores["reasons"]] == local["reasons"].tolist()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_spark_scores_the_store_as_the_local_engine_does(
    spark: Any, trained: Trained, dialect: str, tmp_path: Path
) -> None:
    source = Source(database_url=trained.settings[dialect].resolved_database_url())
    done = score_with_spark(
        spark,
        source,
        trained.predictor,
        model_version=trained.version,
        as_of=trained.as_of,
        scored_at=NOW,
        bucket_customers=50,
        out=tmp_path / "scores",
        record=False,
    )
    local = local_scores(trained, dialect)
    assert done["scored"] == len(local)
    assert_same_scores(pd.read_parquet(tmp_path / "scores"), local)
    assert done["top"][0]["ranking_score"] == local["ranking_score"].max()
    assert done["top"][0]["probability"] == local["probability"].max()


def test_spark_reads_parquet_exported_from_the_store_alike(
    spark: Any, trained: Trained, tmp_path: Path
) -> None:
    from cxml.export import export_parquet

    written = export_parquet(trained.stores["postgresql"], tmp_path / "export")
    assert written["feedback"] > 1000 and written["feedback_themes"] > 0
    score_with_spark(
        spark,
        Source(parquet=tmp_path / "export"),
        trained.predictor,
        model_version=trained.version,
        as_of=trained.as_of,
        scored_at=NOW,
        bucket_customers=50,
        out=tmp_path / "scores",
        record=False,
    )
    assert_same_scores(pd.read_parquet(tmp_path / "scores"), local_scores(trained, "postgresql"))


def test_spark_analyses_comments_with_the_same_labels(spark: Any, trained: Trained) -> None:
    store = trained.stores["sqlite"]
    before = store.table_frame("feedback_analysis").set_index("feedback_id").sort_index()
    done = analyze_with_spark(
        spark,
        Source(database_url=trained.settings["sqlite"].resolved_database_url()),
        trained.text_pipeline,
        model_version="test",
        now=NOW,
        everything=True,
    )
    after = store.table_frame("feedback_analysis").set_index("feedback_id").sort_index()
    assert done["analysed"] == len(before) > 1000
    columns = ["language", "sentiment_label", "sentiment_score", "intents"]
    pd.testing.assert_frame_equal(after[columns], before[columns])


def test_spark_builds_the_same_training_rows(spark: Any, trained: Trained) -> None:
    store = trained.stores["postgresql"]
    dates = snapshot_dates(trained.as_of, 90, 3)
    spec = feature_spec(store, first_snapshot=dates[-1], as_of=trained.as_of)
    local = training_set(
        store, dates, 90, spec, ChurnDefinition(), data_end=trained.as_of, bucket_customers=64
    )
    on_spark = training_rows_with_spark(
        spark,
        Source(database_url=trained.settings["postgresql"].resolved_database_url()),
        spec,
        dates,
        90,
        data_end=trained.as_of,
        bucket_customers=64,
        say=lambda _: None,
    )
    assert np.array_equal(on_spark.customer_id, local.customer_id)
    assert np.array_equal(on_spark.y, local.y) and np.array_equal(on_spark.snapshot, local.snapshot)
    numbers = [c for c in spec.columns() if not c.startswith("attr_")]
    pd.testing.assert_frame_equal(on_spark.X[numbers], local.X[numbers], check_exact=True)
    for column in (c for c in spec.columns() if c.startswith("attr_")):
        assert on_spark.X[column].tolist() == [
            None if v is None else str(v) for v in local.X[column]
        ]


def test_the_spark_form_of_active_selects_what_sql_and_pandas_select(spark: Any) -> None:
    from cxml.store.active import active_mask, active_spark
    from tests.store.test_active import FRAME, INSTANTS, _expected

    frame = spark.createDataFrame(FRAME.astype(object).where(FRAME.notna(), None))
    for instant in INSTANTS:
        chosen = {r["customer_id"] for r in frame.where(active_spark(instant)).collect()}
        in_pandas = set(FRAME.loc[active_mask(FRAME, instant), "customer_id"])
        assert chosen == _expected(instant) == in_pandas, instant
