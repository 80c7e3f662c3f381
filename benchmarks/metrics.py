"""Benchmark: metric queries over 1,000,000 scored responses on SQLite and PostgreSQL.

Usage: python -m benchmarks.metrics [--rows 1000000]
Each response has an NPS, CSAT and CES; customers come from a 5,000-customer demo world.
Prints a Markdown table for benchmarks/RESULTS.md (median of 3 runs per query).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import text

from benchmarks.databases import bench_store
from cxml.demo import generate, scaled_feedback, write_world
from cxml.ingest import ingest_file
from cxml.reporting import metric_table
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.records import stats

NOW = datetime(2026, 1, 2)
QUERIES = {
    "nps by month": {"metric": "nps", "period": "month"},
    "nps by month × channel": {"metric": "nps", "period": "month", "by": ["channel"]},
    "nps by quarter × plan (segment)": {"metric": "nps", "period": "quarter", "by": ["plan"]},
    "csat by week": {"metric": "csat", "period": "week"},
    "nps by month, customer level": {"metric": "nps", "period": "month", "level": "customer"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CXML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    world = generate(5000, seed=1, end=date(2026, 1, 1))
    paths = write_world(world, args.data / "world")
    path = args.data / f"scored_{args.rows}.csv"
    if not path.exists():
        frame = scaled_feedback(world, args.rows, seed=3)
        rng = np.random.default_rng(4)
        frame["nps"] = rng.integers(0, 11, len(frame))
        frame["csat"] = rng.integers(1, 6, len(frame))
        frame["ces"] = rng.integers(1, 8, len(frame))
        frame.to_csv(path, index=False)
    print(f"# {args.rows:,} responses, each with NPS, CSAT and CES; median of 3 runs")
    print("| query | sqlite (s) | postgresql (s) |")
    print("|---|---|---|")
    timings: dict[str, dict[str, float]] = {q: {} for q in QUERIES}
    for target in ("sqlite", "postgresql"):
        database = bench_store(
            target, sqlite_path=args.data / "metrics.db", postgres_url=args.postgres, fresh=False
        )
        with database as (settings, store):
            time_queries(store, settings, paths["customers"], path, args.rows, target, timings)
    for name, by_target in timings.items():
        print(f"| {name} | {by_target['sqlite']:.2f} | {by_target['postgresql']:.2f} |")


def time_queries(
    store: Store,
    settings: Settings,
    customers: str,
    path: Path,
    rows: int,
    target: str,
    timings: dict[str, dict[str, float]],
) -> None:
    """Load the data if the database lacks it, then time every query (median of 3)."""
    if stats(store)["feedback"] < rows:
        ingest_file(store, "customers", customers, settings=settings, now=NOW)
        ingest_file(store, "feedback", path, settings=settings, now=NOW)
    if target == "postgresql":
        with store.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    for name, query in QUERIES.items():
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            table = metric_table(store, **query)  # type: ignore[arg-type]
            runs.append(time.perf_counter() - started)
        assert table["n"].sum() >= rows * (0.99 if query.get("level") != "customer" else 0)
        timings[name][target] = statistics.median(runs)


if __name__ == "__main__":
    main()
