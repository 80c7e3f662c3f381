"""Benchmark: what announcing ``customer.high_risk`` adds to a score run's writes.

Usage: python -m benchmarks.webhook_events [--customers 100000] [--only sqlite|postgresql]

Writes three monthly score runs for every customer, a bucket of 20,000 at a time, as
``cxml.batch.score_store`` does: in one transaction per bucket, ``queue_high_risk`` (the
customers entering the high band, compared with their latest stored score) then
``write_scores``. The first run has no endpoint subscribed; before the second one endpoint
subscribes. Each customer's risk drifts from month to month, so some enter the band, some stay
and some leave. Prints, per run, the customers in the high band, those entering it, the
deliveries queued, the SQL statements ``queue_high_risk`` issued, and the seconds spent
queuing against the seconds spent writing the scores. Markdown rows for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import event

from benchmarks.databases import bench_store
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.scores import write_scores
from cxml.webhooks import queue_high_risk, register

TODAY = datetime(2026, 1, 2)
BUCKET = 20_000


def _customers(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "signup_date": "2022-01-01",
            "monthly_value": np.random.default_rng(0).gamma(2.0, 30.0, n).round(2),
        }
    )


def _run(ids: list[str], base: np.ndarray, run: int) -> pd.DataFrame:
    """Month ``run``'s scores: each customer's base risk, drifted (so bands move)."""
    rng = np.random.default_rng(run)
    p = np.clip(base * rng.lognormal(0.0, 0.35, len(ids)), 0.0, 1.0)
    as_of = pd.Timestamp("2025-10-01") + pd.DateOffset(months=run)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": as_of,
            "model_version": "1",
            "probability": np.round(p * 40) / 40,
            "ranking_score": p,
            "band": np.where(p >= 0.3, "high", np.where(p >= 0.1, "medium", "low")),
            "revenue_at_risk": (p * 40 * 12).round(2),
            "reasons": ['[{"feature": "tenure", "text": "short tenure"}]'] * len(ids),
            "attribution": "exact",
            "scored_at": as_of + pd.Timedelta(hours=2),
            "features_as_of": as_of,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    print(
        "| database | run | customers | high | entering high | deliveries queued "
        "| queue statements | queue (s) | write scores (s) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for target in ("sqlite", "postgresql"):
            if args.only and args.only != target:
                continue
            with bench_store(
                target,
                sqlite_path=Path(folder) / "events.db",
                postgres_url=args.postgres_url,
                fresh=True,
            ) as (settings, store):
                for row in _measure(target, settings, store, Path(folder), args.customers):
                    print(row, flush=True)


def _measure(
    target: str, settings: Settings, store: Store, folder: Path, customers: int
) -> list[str]:
    from cxml.ingest import ingest_file

    path = folder / "customers.csv"
    frame = _customers(customers)
    frame.to_csv(path, index=False)
    ingest_file(store, "customers", path, settings=settings, now=TODAY)
    ids = frame["customer_id"].tolist()
    base = np.random.default_rng(1).beta(1.2, 9.0, len(ids))
    statements = {"n": 0, "counting": False}

    def count(*_: Any) -> None:
        if statements["counting"]:
            statements["n"] += 1

    event.listen(store.engine, "before_cursor_execute", count)
    rows = []
    previous: set[str] = set()
    for run in range(3):
        if run == 1:
            register(
                store, "https://93.184.216.34/hook", ["customer.high_risk"], actor="bench",
                now=TODAY,
            )  # fmt: skip
        scores = _run(ids, base, run)
        high = set(scores.loc[scores["band"] == "high", "customer_id"])
        queued, queue_s, write_s = 0, 0.0, 0.0
        statements["n"] = 0
        for start in range(0, len(ids), BUCKET):
            part = scores.iloc[start : start + BUCKET]
            with store.begin() as connection:
                started = time.perf_counter()
                statements["counting"] = True
                queued += queue_high_risk(connection, part, now=TODAY)
                statements["counting"] = False
                queue_s += time.perf_counter() - started
                started = time.perf_counter()
                write_scores(store, part, connection)
                write_s += time.perf_counter() - started
        rows.append(
            f"| {target} | {run + 1}{' (no endpoint)' if run == 0 else ''} | {len(ids):,} "
            f"| {len(high):,} | {len(high - previous):,} | {queued:,} | {statements['n']} "
            f"| {queue_s:.2f} | {write_s:.2f} |"
        )
        previous = high
    return rows


if __name__ == "__main__":
    main()
