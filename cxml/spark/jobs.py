"""The heavy jobs on Spark: score every customer, analyse every comment, build training rows.

Customers are hashed into buckets; each bucket's rows go to one task
(``groupBy(bucket).applyInPandas``), which builds the bucket's ``History`` and calls the very
functions the local engine calls: ``ChurnPredictor.features``, ``cxml.scoring.score``,
``TextPipeline.analyze``. Results go to Parquet and, when the store is the source, into the
store (each task writes its bucket in one transaction, as ``cxml.batch`` does).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.predictor import ChurnPredictor
from cxml.contract import AsOf
from cxml.errors import ModelMismatchError
from cxml.spark.sources import Source, history_frames
from cxml.store.scores import TIMING_COLUMNS

SCORE_SCHEMA = (
    "customer_id string, as_of string, model_version string, probability double, "
    "ranking_score double, band string, revenue_at_risk double, reasons string, attribution string, "
    "scored_at string, features_as_of string, survival_30 double, survival_60 double, "
    "survival_90 double, expected_days double"
)


def _buckets(customers: int, bucket_customers: int) -> int:
    return max(1, math.ceil(customers / max(1, bucket_customers)))


def _bucketed(frame: Any, buckets: int) -> Any:
    from pyspark.sql import functions as F

    return frame.withColumn("bucket", F.pmod(F.xxhash64("customer_id"), F.lit(buckets)))


def _history(as_of: AsOf, rows: pd.DataFrame) -> Any:
    from cxml.store.history import History

    kind = rows["kind"]
    return History.from_frames(
        as_of,
        rows[kind == "customer"],
        rows[kind == "feedback"],
        rows[kind == "theme"],
    )


def score_with_spark(
    spark: Any,
    source: Source,
    predictor: ChurnPredictor,
    *,
    model_version: str,
    as_of: AsOf,
    scored_at: datetime,
    bucket_customers: int,
    out: Path | None = None,
    record: bool = True,
    top: int = 10,
) -> dict[str, Any]:
    """Score every customer active at ``as_of`` on Spark; returns counts and the top."""
    from pyspark.sql import functions as F

    from cxml.scoring import attribution_for, attribution_name

    if predictor.mode != "store" or predictor.spec is None:
        raise ModelMismatchError(
            "this churn model was trained on a flat table: Spark scores the store's history "
            "(train one with `cxml train churn --as-of DATE`)",
            field="mode",
            value=predictor.mode,
        )
    if predictor.definition.kind != "subscription":
        raise ModelMismatchError(
            f"--engine spark scores models of the subscription churn definition; this one is "
            f"{predictor.definition.kind!r}: score it with --engine local",
            field="definition",
            value=predictor.definition.kind,
        )
    rows = history_frames(
        spark,
        source,
        as_of,
        bucket_customers=bucket_customers,
        with_text=predictor.spec.with_text,
    ).cache()
    customers = rows.where("kind = 'customer'").count()
    attribution = attribution_for(customers)
    database_url = source.database_url if record else None

    def task(bucket: pd.DataFrame) -> pd.DataFrame:
        from cxml.scoring import score_history
        from cxml.store import Store
        from cxml.webhooks import record_scores

        history = _history(as_of, bucket)
        if history.customers.empty:
            return pd.DataFrame(columns=[c.split()[0] for c in SCORE_SCHEMA.split(", ")])
        scored = score_history(
            predictor,
            history,
            scored_at=scored_at,
            model_version=model_version,
            attribution=attribution,
        )
        if database_url is not None:
            store = Store.open(database_url, migrate=False)
            try:  # the bucket's scores and its customer.high_risk events, together
                record_scores(store, scored, now=scored_at)
            finally:
                store.close()
        return _score_rows(scored)

    scored = (
        _bucketed(rows, _buckets(customers, bucket_customers))
        .groupBy("bucket")
        .applyInPandas(task, schema=SCORE_SCHEMA)
        .cache()
    )
    count = scored.count()
    if out is not None:
        scored.write.mode("overwrite").parquet(str(out))
    leaders = (
        scored.orderBy(  # as the at-risk list orders: ranking score, then revenue at risk
            scored.ranking_score.desc(),
            F.coalesce(scored.revenue_at_risk, F.lit(-1.0)).desc(),
            scored.customer_id.desc(),
        )
        .limit(top)
        .toPandas()
    )
    scored.unpersist()
    rows.unpersist()
    return {
        "scored": int(count),
        "attribution": attribution_name(predictor.estimator, attribution),
        "top": [
            {**row, "reasons": json.loads(row["reasons"])}
            for row in leaders.to_dict(orient="records")
        ],
    }


def _score_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """Scores as Spark carries them: reasons as JSON, dates and times as ISO text."""
    return pd.DataFrame(
        {
            "customer_id": scored["customer_id"].astype(str),
            "as_of": [str(d) for d in scored["as_of"]],
            "model_version": scored["model_version"].astype(str),
            "probability": scored["probability"].astype(float),
            "ranking_score": scored["ranking_score"].astype(float),
            "band": scored["band"].astype(str),
            "revenue_at_risk": pd.to_numeric(scored["revenue_at_risk"]).astype(float),
            "reasons": [json.dumps(r, ensure_ascii=False, default=str) for r in scored["reasons"]],
            "attribution": scored["attribution"].astype(str),
            "scored_at": [pd.Timestamp(t).isoformat() for t in scored["scored_at"]],
            "features_as_of": [pd.Timestamp(t).isoformat() for t in scored["features_as_of"]],
            **{
                c: pd.to_numeric(scored[c]).astype(float)
                if c in scored
                else pd.Series(np.nan, index=scored.index)
                for c in TIMING_COLUMNS
            },
        }
    )


ANALYSIS_SCHEMA = (
    "feedback_id string, language string, sentiment_label string, sentiment_score double, "
    "intents string, themes string, model_version string"
)


def analyze_with_spark(
    spark: Any,
    source: Source,
    pipeline: Any,
    *,
    model_version: str,
    now: datetime,
    everything: bool = False,
    out: Path | None = None,
    partitions: int | None = None,
) -> dict[str, Any]:
    """Analyse the comments not yet read by ``model_version`` (all with ``everything``) on
    Spark, a partition at a time with the same pipeline; results into the store and Parquet."""
    from pyspark.sql import functions as F

    texts = _comments(spark, source, model_version, everything=everything)
    # The store is read through one connection; the reading is cheap next to the analysis,
    # which is spread over every core the cluster has (a few tasks per core, so a slow one
    # does not hold the job up).
    texts = texts.repartition(partitions or 4 * spark.sparkContext.defaultParallelism)
    database_url = source.database_url

    def task(parts: Any) -> Any:
        from cxml.store import Store
        from cxml.store.analysis import write_analysis
        from cxml.text.training import analysis_frames

        store = Store.open(database_url, migrate=False) if database_url else None
        try:
            for part in parts:
                if part.empty:
                    continue
                languages = [v if isinstance(v, str) and v else None for v in part["language"]]
                results = pipeline.analyze(part["text"].tolist(), languages)
                analysis, themes = analysis_frames(
                    part["feedback_id"].tolist(), results, model_version, now
                )
                if store is not None:
                    write_analysis(store, analysis, themes)
                # One pass over the theme rows (a pandas group per comment cost more than the
                # analysis itself).
                per_comment: dict[str, list[dict[str, Any]]] = {}
                for fid, row in zip(
                    themes["feedback_id"].tolist(),
                    themes.drop(columns="feedback_id")
                    .astype(object)
                    .where(themes.drop(columns="feedback_id").notna(), None)
                    .to_dict(orient="records"),
                    strict=True,
                ):
                    per_comment.setdefault(fid, []).append(row)
                theme_text = {fid: json.dumps(rows) for fid, rows in per_comment.items()}
                yield pd.DataFrame(
                    {
                        "feedback_id": analysis["feedback_id"].astype(str),
                        "language": analysis["language"].astype(object),
                        "sentiment_label": analysis["sentiment_label"].astype(object),
                        "sentiment_score": pd.to_numeric(analysis["sentiment_score"]).astype(float),
                        "intents": [json.dumps(i) for i in analysis["intents"]],
                        "themes": [theme_text.get(f, "[]") for f in analysis["feedback_id"]],
                        "model_version": model_version,
                    }
                )
        finally:
            if store is not None:
                store.close()

    analysed = texts.mapInPandas(task, schema=ANALYSIS_SCHEMA).cache()
    count = analysed.count()
    if out is not None:
        analysed.write.mode("overwrite").parquet(str(out))
    languages = {
        row["language"]: int(row["n"])
        for row in analysed.groupBy("language").agg(F.count("*").alias("n")).collect()
    }
    analysed.unpersist()
    return {"analysed": int(count), "model_version": model_version, "languages": languages}


def _comments(spark: Any, source: Source, model_version: str, *, everything: bool) -> Any:
    """feedback_id, text, language of the comments to analyse."""
    if source.parquet is not None:
        from pyspark.sql import functions as F

        feedback = spark.read.parquet(str(source.parquet / "feedback.parquet"))
        texts = feedback.where(F.col("text").isNotNull()).select("feedback_id", "text", "language")
        if not everything:
            done = spark.read.parquet(str(source.parquet / "feedback_analysis.parquet")).where(
                F.col("model_version") == model_version
            )
            texts = texts.join(done.select("feedback_id"), on="feedback_id", how="left_anti")
        return texts
    from cxml.spark.sources import _jdbc
    from cxml.store import Store
    from cxml.store.analysis import unanalysed_query

    assert source.database_url is not None
    store = Store.open(source.database_url, migrate=False)
    try:
        sql = str(
            unanalysed_query(model_version, everything=everything).compile(
                dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}
            )
        )
    finally:
        store.close()
    return _jdbc(spark, source.database_url, sql, ["1 = 1"])


def training_rows_with_spark(
    spark: Any,
    source: Source,
    spec: Any,
    dates: list[pd.Timestamp],
    horizon_days: int,
    *,
    data_end: pd.Timestamp,
    bucket_customers: int,
    say: Callable[[str], None],
) -> Any:
    """The rows of ``cxml.churn.training.training_set``, built by Spark tasks with the same
    features; the labels come from churn dates known by ``data_end``. Returns a TrainingSet."""
    from pyspark.sql import functions as F

    from cxml.churn.training import TrainingSet
    from cxml.store import Store
    from cxml.store.history import churn_dates

    if source.database_url is None:
        raise ModelMismatchError(
            "training on Spark reads the store (its churn dates are the labels); "
            "give the store, not --parquet"
        )
    store = Store.open(source.database_url, migrate=False)
    try:
        from cxml.store.history import EVERYONE

        outcomes = churn_dates(store, EVERYONE, known_by=data_end)
    finally:
        store.close()
    outcome_frame = pd.DataFrame(
        {"customer_id": outcomes.index.astype(str), "churn_date": outcomes.to_numpy()}
    )
    columns = spec.columns()
    schema = ", ".join(
        ["snapshot string", "customer_id string", "label long"]
        + [f"`{c}` {'string' if c.startswith('attr_') else 'double'}" for c in columns]
    )
    frames = []
    for date in dates:
        rows = history_frames(
            spark, source, date, bucket_customers=bucket_customers, with_text=spec.with_text
        ).withColumn("snapshot", F.lit(str(date)))
        frames.append(rows)
        say(f"training rows: snapshot {date.date()} read on Spark")
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    customers = union.where("kind = 'customer'").count()
    churn = spark.sparkContext.broadcast(outcome_frame)

    def task(bucket: pd.DataFrame) -> pd.DataFrame:
        from cxml.churn.predictor import ChurnDefinition, point_in_time_features
        from cxml.features import churn_labels

        snapshot = pd.Timestamp(bucket["snapshot"].iloc[0])
        history = _history(snapshot, bucket)
        features = point_in_time_features(history, spec, ChurnDefinition())
        known = churn.value.set_index("customer_id")["churn_date"]
        labels = churn_labels(pd.to_datetime(known), features.index, snapshot, horizon_days)
        out = features.reset_index()
        for column in columns:
            if column.startswith("attr_"):
                out[column] = [None if v is None else str(v) for v in out[column]]
        out.insert(0, "snapshot", str(snapshot))
        out.insert(2, "label", labels.astype(np.int64))
        return out[["snapshot", "customer_id", "label", *columns]]

    built = (
        _bucketed(union, _buckets(customers, bucket_customers))
        .groupBy("snapshot", "bucket")
        .applyInPandas(task, schema=schema)
        .toPandas()
    )
    return TrainingSet(
        built[columns].reset_index(drop=True),
        built["label"].to_numpy(dtype=int),
        pd.to_datetime(built["snapshot"]).to_numpy(dtype="datetime64[ns]"),
        built["customer_id"].to_numpy(dtype=object),
    ).in_order()
