"""Benchmark: the local engine against --engine spark (local[2]) on this machine.

Usage: python -m benchmarks.spark [--customers 1000000] [--comments-customers 125000]

1. `cxml score --as-of` over a synthetic SQLite store of ``--customers`` customers with ten
   feedback rows each (see benchmarks/scale.py), local and on Spark: wall time and the peak
   resident memory of the largest process (the driver's Python, or Spark's JVM).
2. How a Spark task applies the model to 200,000 customers' features: cxml's compiled scorer
   inside the task (``mapInPandas``) against ``mlflow.pyfunc.spark_udf`` on the registered
   champion (probability only, both; reasons need the compiled walk anyway).
3. `cxml analyze --store --all` over ≈ 1,000,000 comments (``--comments-customers`` × 8),
   local and on Spark.
Prints Markdown rows for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.scale import _MEASURE, AS_OF, CXML, _trained_model, build_store
from cxml.settings import Settings
from cxml.store import Store


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak MB of the largest descendant, stdout) of a cxml command."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, CXML, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    peak = next(line for line in done.stdout.splitlines() if line.startswith("peak_kb"))
    return seconds, int(peak.split()[1]) / 1024, done.stdout


def udf_comparison(database_url: str, env: dict[str, str], rows: int) -> tuple[float, float]:
    """Seconds to score ``rows`` customers' features: compiled scorer in tasks, spark_udf."""
    import mlflow
    import pandas as pd

    from cxml.spark.jobs import _bucketed, _history
    from cxml.spark.session import spark_session
    from cxml.spark.sources import Source, history_frames
    from cxml.tracking import load_churn_champion

    os.environ["CXML_MLFLOW_TRACKING_URI"] = env["CXML_MLFLOW_TRACKING_URI"]
    settings = Settings(mlflow_tracking_uri=env["CXML_MLFLOW_TRACKING_URI"])
    predictor, version = load_churn_champion(settings)
    spark = spark_session(master="local[2]", jars=settings.spark_jars)
    as_of = pd.Timestamp(AS_OF)
    history = history_frames(
        spark, Source(database_url=database_url), as_of, bucket_customers=20_000
    )
    columns = list(predictor.columns)
    schema = ", ".join(f"`{c}` {'string' if c.startswith('attr_') else 'double'}" for c in columns)

    def features(bucket: pd.DataFrame) -> pd.DataFrame:
        out = predictor.features(_history(as_of, bucket)).reset_index(drop=True)
        for column in columns:
            if column.startswith("attr_"):
                out[column] = [None if v is None else str(v) for v in out[column]]
        return out[columns]

    frame = (
        _bucketed(history, 12)
        .groupBy("bucket")
        .applyInPandas(features, schema=schema)
        .limit(rows)
        .cache()
    )
    frame.count()

    def compiled(parts):  # type: ignore[no-untyped-def]
        from cxml.churn.model import churn_probability

        for part in parts:
            yield pd.DataFrame({"probability": churn_probability(predictor.estimator, part)})

    started = time.perf_counter()
    frame.mapInPandas(compiled, schema="probability double").agg({"probability": "sum"}).collect()
    in_task = time.perf_counter() - started
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    udf = mlflow.pyfunc.spark_udf(
        spark, f"models:/cxml-churn/{version}", result_type="double", env_manager="local"
    )
    started = time.perf_counter()
    frame.select(udf(*[frame[f"`{c}`"] for c in columns]).alias("p")).agg({"p": "sum"}).collect()
    pyfunc = time.perf_counter() - started
    spark.stop()
    return in_task, pyfunc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--comments-customers", type=int, default=125_000)
    parser.add_argument("--udf-rows", type=int, default=200_000)
    parser.add_argument(
        "--only", choices=["score", "analyze"], help="Run one part (score includes the UDF test)."
    )
    parser.add_argument("--engines", nargs="+", default=["local", "spark"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cxml-bench-spark-"))
    try:
        theme_ids, env = _trained_model(workdir)
        print("| job | engine | seconds | peak RSS of the largest process (MB) |")
        print("|---|---|---|---|")
        if args.only != "analyze":
            score_part(args, workdir, theme_ids, env)
        if args.only != "score":
            analyze_part(args, workdir, theme_ids, env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def score_part(
    args: argparse.Namespace, workdir: Path, theme_ids: list[str], env: dict[str, str]
) -> None:
    big = workdir / "big.db"
    store = Store.open(Settings(database_url=f"sqlite:///{big}"))
    build_store(store, args.customers, 10, theme_ids)
    store.close()
    scoring_env = {**env, "CXML_DATABASE_URL": f"sqlite:///{big}"}
    for engine in args.engines:
        extra = ["--engine", "spark", "--master", "local[2]"] if engine == "spark" else []
        seconds, peak, out = timed(
            ["score", "--as-of", AS_OF, "--top", "1", *extra], workdir, scoring_env
        )
        scored = next(line for line in out.splitlines() if "customers scored" in line).split()[0]
        print(
            f"| score {scored} customers ({args.customers:,} in the store) | {engine} | {seconds:.1f} | {peak:,.0f} |",
            flush=True,
        )
    in_task, pyfunc = udf_comparison(f"sqlite:///{big}", scoring_env, args.udf_rows)
    print(
        f"| probability for {args.udf_rows:,} customers' features | compiled scorer in a task | {in_task:.1f} | — |"
    )
    print(
        f"| probability for {args.udf_rows:,} customers' features | mlflow.pyfunc.spark_udf | {pyfunc:.1f} | — |",
        flush=True,
    )


def analyze_part(
    args: argparse.Namespace, workdir: Path, theme_ids: list[str], env: dict[str, str]
) -> None:
    comments = workdir / "comments.db"
    store = Store.open(Settings(database_url=f"sqlite:///{comments}"))
    build_store(store, args.comments_customers, 10, theme_ids)
    store.close()
    analysing_env = {**env, "CXML_DATABASE_URL": f"sqlite:///{comments}"}
    for engine in args.engines:
        extra = ["--engine", "spark", "--master", "local[2]"] if engine == "spark" else []
        seconds, peak, out = timed(["analyze", "--store", "--all", *extra], workdir, analysing_env)
        analysed = out.split()[0]
        print(
            f"| analyze {analysed} comments | {engine} | {seconds:.1f} | {peak:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
