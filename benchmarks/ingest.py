"""Benchmark: ingest N feedback rows into SQLite and PostgreSQL, then re-ingest them.

Usage: python -m benchmarks.ingest --rows 1000000 [--postgres URL] [--only sqlite|postgresql]
Prints one Markdown table row per database and pass; paste them into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date, datetime
from pathlib import Path

from benchmarks.databases import bench_store
from cxml.demo import generate, scaled_feedback, write_world
from cxml.ingest import ingest_file
from cxml.settings import Settings
from cxml.store import Store

NOW = datetime(2026, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CXML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()

    world = generate(args.customers, seed=1, end=date(2026, 1, 1))
    paths = write_world(world, args.data / "world")
    feedback_path = args.data / f"feedback_{args.rows}.csv"
    if not feedback_path.exists():
        scaled_feedback(world, args.rows).to_csv(feedback_path, index=False)
    size_mb = feedback_path.stat().st_size / 1e6
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.rows:,} rows, {size_mb:.0f} MB CSV"
    )
    print("| database | pass | rows | seconds | rows/s | accepted | unchanged | rejected |")
    print("|---|---|---|---|---|---|---|---|")
    targets = [t for t in ("sqlite", "postgresql") if args.only in (None, t)]
    for target in targets:
        database = bench_store(
            target, sqlite_path=args.data / "bench.db", postgres_url=args.postgres, fresh=True
        )
        with database as (settings, store):
            run_ingest(store, settings, paths["customers"], feedback_path, target)


def run_ingest(
    store: Store, settings: Settings, customers: str, feedback_path: Path, target: str
) -> None:
    """Load the customers, then the feedback twice; print a table row per pass."""
    ingest_file(store, "customers", customers, settings=settings, now=NOW)
    for label in ("first", "again"):
        started = time.perf_counter()
        report = ingest_file(store, "feedback", feedback_path, settings=settings, now=NOW)
        seconds = time.perf_counter() - started
        print(
            f"| {target} | {label} | {report.read:,} | {seconds:.1f} | {report.read / seconds:,.0f} "
            f"| {report.accepted:,} | {report.unchanged:,} | {report.rejected:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
