"""Benchmark: the at-risk list over a store with a long score history.

Usage: python -m benchmarks.at_risk [--customers 200000] [--runs 6] [--only sqlite|postgresql]

Writes customers and ``runs`` monthly score runs for every customer (through ``write_scores``,
as `cxml score` does), then times what the retention team's screens ask for: the first page of
50 (by probability and by revenue at risk), the tenth page by cursor, a page filtered to one
band and a segment, and the per-band summary. Each is the median of five calls on a warm
connection. Prints Markdown rows for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.databases import bench_store
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.scores import at_risk, at_risk_summary, write_scores

TODAY = datetime(2026, 1, 2)


def _customers(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "signup_date": "2022-01-01",
            "monthly_value": rng.gamma(2.0, 30.0, n).round(2),
            "plan": rng.choice(["basic", "standard", "premium"], n),
        }
    )


def _run(ids: list[str], run: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 12.0, len(ids))
    as_of = pd.Timestamp("2025-07-01") + pd.DateOffset(months=run)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": as_of,
            "model_version": "1",
            # calibrated probabilities come in plateaus (isotonic steps); the full score not
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


def _median_ms(call) -> float:  # type: ignore[no-untyped-def]
    call()  # warm
    times = []
    for _ in range(5):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    print(
        "| database | customers × runs | write all runs (s) | first page | by revenue | page 10 | band + segment | summary |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for target in ("sqlite", "postgresql"):
            if args.only and args.only != target:
                continue
            with bench_store(
                target,
                sqlite_path=Path(folder) / "at_risk.db",
                postgres_url=args.postgres_url,
                fresh=True,
            ) as (settings, store):
                print(
                    _measure(target, settings, store, Path(folder), args.customers, args.runs),
                    flush=True,
                )


def _measure(
    target: str, settings: Settings, store: Store, folder: Path, customers: int, runs: int
) -> str:
    from cxml.ingest import ingest_file

    path = folder / "customers.csv"
    frame = _customers(customers)
    frame.to_csv(path, index=False)
    ingest_file(store, "customers", path, settings=settings, now=TODAY)
    ids = frame["customer_id"].tolist()
    start = time.perf_counter()
    for run in range(runs):
        for chunk in range(0, len(ids), 50_000):
            write_scores(store, _run(ids[chunk : chunk + 50_000], run, run * 1000 + chunk))
    written = time.perf_counter() - start
    first = _median_ms(lambda: at_risk(store, today=TODAY, limit=51))
    by_revenue = _median_ms(lambda: at_risk(store, today=TODAY, limit=51, sort="revenue_at_risk"))
    page = at_risk(store, today=TODAY, limit=500)[449]
    after = (page["sort_key"], page["customer_id"])
    tenth = _median_ms(lambda: at_risk(store, today=TODAY, limit=51, after=after))
    filtered = _median_ms(
        lambda: at_risk(
            store, today=TODAY, limit=51, bands=["medium"], attributes={"plan": "premium"}
        )
    )
    summary = _median_ms(lambda: at_risk_summary(store, today=TODAY))
    return (
        f"| {target} | {customers:,} × {runs} | {written:.1f} | {first:.0f} ms "
        f"| {by_revenue:.0f} ms | {tenth:.0f} ms | {filtered:.0f} ms | {summary:.0f} ms |"
    )


if __name__ == "__main__":
    main()
