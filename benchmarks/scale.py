"""Benchmark: `cxml score` over large stores — peak memory and time against the store's size.

Usage: python -m benchmarks.scale [--customers 1000000 100000] [--feedback-per-customer 10]
       [--only sqlite|postgresql] [--bucket 20000]

A store-mode churn model is trained on a 2,000-customer demo world (`cxml demo`). Then, for each
size, a synthetic store is written straight into the tables (customers with the demo's
attributes, ten feedback rows each with their text analysis and themes, 5 % of them dated after
the scoring date so the time cut has work to do), and `cxml score --as-of 2026-01-01` runs as a
child process: its wall time and peak resident memory (``ru_maxrss`` of the child) are printed
as Markdown rows for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.databases import bench_store

CXML = str(Path(sys.executable).parent / "cxml")
AS_OF = "2026-01-01"
TEXTS = (
    "I was charged twice this month and nobody can explain why.",
    "The connection drops every evening, I want to cancel.",
    "Support never called me back even though they promised.",
    "Great service for a fair price.",
    "The app keeps crashing when I open my bill.",
    "Everyone I dealt with was polite and professional.",
)
CHANNELS = ("email", "chat", "phone", "survey", "app_review", "social", "sms")
PLANS = ("basic", "standard", "premium")
CONTRACTS = ("monthly", "annual", "two-year")


def _trained_model(workdir: Path) -> tuple[list[str], dict[str, str]]:
    """Train on a demo world; returns the champion's theme ids and the environment to score."""
    env = {
        **os.environ,
        "CXML_DATABASE_URL": f"sqlite:///{workdir / 'small.db'}",
        "CXML_MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
    }
    subprocess.run(
        [CXML, "demo", "--customers", "2000", "--no-serve", "--seed", "3"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    from cxml.settings import Settings
    from cxml.tracking import load_churn_champion

    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        predictor, _ = load_churn_champion(
            Settings(mlflow_tracking_uri=env["CXML_MLFLOW_TRACKING_URI"])
        )
    finally:
        os.chdir(cwd)
    return list(predictor.spec.theme_ids), env


def _copy(connection: object, table: str, frame: pd.DataFrame) -> None:
    """Bulk-write rows: COPY on PostgreSQL, executemany on SQLite."""
    conn = connection  # a SQLAlchemy Connection
    if conn.dialect.name == "postgresql":  # type: ignore[attr-defined]
        buffer = io.StringIO()
        frame.to_csv(buffer, header=False, index=False, na_rep="")
        raw = conn.connection.driver_connection  # type: ignore[attr-defined]
        with (
            raw.cursor() as cursor,
            cursor.copy(
                f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
            ) as copy,
        ):
            copy.write(buffer.getvalue())
    else:
        values = frame.astype(object).where(frame.notna(), None)
        conn.exec_driver_sql(  # type: ignore[attr-defined]
            f"INSERT INTO {table} ({', '.join(frame.columns)}) "
            f"VALUES ({', '.join('?' for _ in frame.columns)})",
            list(values.itertuples(index=False, name=None)),
        )


def build_store(store: object, customers: int, per_customer: int, theme_ids: list[str]) -> float:
    """Write the synthetic store in chunks of 100,000 customers; returns seconds."""
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    stamp = "2026-01-01 00:00:00"
    chunk = 100_000
    for first in range(0, customers, chunk):
        n = min(chunk, customers - first)
        number = np.arange(first, first + n)
        ids = np.char.add("B", np.char.zfill(number.astype(str), 8))
        signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1640, n), "D")
        churned = rng.random(n) < 0.15
        churn = (signup + pd.to_timedelta(rng.integers(30, 1500, n), "D")).where(churned)
        attributes = [
            json.dumps({"plan": PLANS[a], "contract": CONTRACTS[b], "age": str(c)})
            for a, b, c in zip(
                rng.integers(0, 3, n), rng.integers(0, 3, n), rng.integers(18, 80, n), strict=True
            )
        ]
        people = pd.DataFrame(
            {
                "customer_id": ids,
                "signup_date": signup.strftime("%Y-%m-%d"),
                "churn_date": pd.Series(churn).dt.strftime("%Y-%m-%d"),
                "monthly_value": np.round(rng.uniform(10, 120, n), 2),
                "attributes": attributes,
                "content_hash": number,
                "source": "bench",
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        rows = n * per_customer
        owner = np.repeat(np.arange(n), per_customer)
        span = (pd.Timestamp(AS_OF) - signup).days.to_numpy()[owner]
        offset = (rng.random(rows) * (span * 1.05)).astype(np.int64)  # ≈ 5 % after the as-of date
        created = (
            signup.to_numpy()[owner]
            + offset.astype("timedelta64[D]")
            + rng.integers(0, 86_400, rows).astype("timedelta64[s]")
        )
        feedback_ids = np.char.add(
            np.repeat(ids, per_customer),
            np.char.add("-", np.tile(np.arange(per_customer).astype(str), n)),
        )
        has_text = rng.random(rows) < 0.8
        text = np.where(
            has_text, np.array(TEXTS, dtype=object)[rng.integers(0, len(TEXTS), rows)], None
        )
        nps = np.where(rng.random(rows) < 0.3, rng.integers(0, 11, rows).astype(float), np.nan)
        feedback = pd.DataFrame(
            {
                "feedback_id": feedback_ids,
                "customer_id": np.repeat(ids, per_customer),
                "created_at": pd.Series(created).dt.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "channel": np.array(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), rows)],
                "text": text,
                "nps": pd.array(nps, dtype="Int16"),
                "language": np.where(has_text, "en", None),
                "content_hash": np.arange(rows) + first * per_customer,
                "source": "bench",
                "ingested_at": stamp,
                "updated_at": stamp,
            }
        )
        analysed = feedback.loc[has_text, "feedback_id"].to_numpy()
        analysis = pd.DataFrame(
            {
                "feedback_id": analysed,
                "language": "en",
                "sentiment_label": "neutral",
                "sentiment_score": np.round(rng.uniform(-1, 1, len(analysed)), 4),
                "intents": np.where(
                    rng.random(len(analysed)) < 0.05,
                    '[{"intent": "leave", "kind": "switch", "start": 0, "end": 10}]',
                    "[]",
                ),
                "model_version": "bench",
                "analysed_at": stamp,
            }
        )
        themed = analysed[rng.random(len(analysed)) < 0.5]
        themes = pd.DataFrame(
            {
                "feedback_id": themed,
                "theme_id": np.array(theme_ids, dtype=object)[
                    rng.integers(0, len(theme_ids), len(themed))
                ],
                "theme_label": "bench theme",
                "confidence": 0.9,
                "sentiment_score": np.round(rng.uniform(-1, 1, len(themed)), 4),
            }
        )
        themes["theme_label"] = themes["theme_id"]
        with store.begin() as connection:  # type: ignore[attr-defined]
            _copy(connection, "customers", people)
            _copy(connection, "feedback", feedback)
            _copy(connection, "feedback_analysis", analysis)
            _copy(connection, "feedback_themes", themes)
    if store.dialect == "postgresql":  # type: ignore[attr-defined]
        autocommit = store.engine.execution_options(isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
        with autocommit.connect() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
sys.stdout.write(done.stdout)
print("peak_kb", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
"""


def score(database_url: str, env: dict[str, str], workdir: Path, bucket: int) -> dict[str, float]:
    """Run `cxml score` as the only child of a fresh process: wall seconds and that child's peak
    resident memory (MB)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, CXML, "score", "--as-of", AS_OF, "--top", "3"],
        cwd=workdir,
        env={**env, "CXML_DATABASE_URL": database_url, "CXML_BUCKET_CUSTOMERS": str(bucket)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    lines = done.stdout.splitlines()
    peak_kb = int(next(line for line in lines if line.startswith("peak_kb")).split()[1])
    line = next(line for line in lines if "customers scored" in line)
    scored = int(line.split()[0].replace(",", ""))
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, "scored": scored}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--feedback-per-customer", type=int, default=10)
    parser.add_argument("--bucket", type=int, default=20_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CXML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cxml-bench-scale-"))
    try:
        theme_ids, env = _trained_model(workdir)
        print(
            "| database | customers | feedback rows | scored (active) | bucket | seconds | customers/s | peak RSS MB | build s |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for target in ("sqlite", "postgresql"):
            if args.only and target != args.only:
                continue
            for customers in args.customers:
                with bench_store(
                    target,
                    sqlite_path=workdir / f"big-{customers}.db",
                    postgres_url=args.postgres,
                    fresh=True,
                ) as (settings, store):
                    built = build_store(store, customers, args.feedback_per_customer, theme_ids)
                    result = score(settings.database_url, env, workdir, args.bucket)
                rows = customers * args.feedback_per_customer
                print(
                    f"| {target} | {customers:,} | {rows:,} | {result['scored']:,} | {args.bucket:,} "
                    f"| {result['seconds']:.1f} | {result['scored'] / result['seconds']:,.0f} "
                    f"| {result['peak_mb']:,.0f} | {built:.0f} |",
                    flush=True,
                )
                (workdir / f"big-{customers}.db").unlink(missing_ok=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
