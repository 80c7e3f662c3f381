"""Benchmark: does ranking the worklist by uplift × value save more than ranking by risk?
(issue #27 §3)

Usage: python -m benchmarks.uplift [--seeds 5] [--train 600 3000] [--capacity 0.1 0.25]

Each seed draws randomised past pulls from ``cxml.uplift.planted_world`` (half held out) and
fits the uplift learner cxml uses (``fit_uplift``) on them; then draws next week's list (a new
world, same planted effect) and ranks it two ways: by estimated uplift × value, and by revenue
at risk (pre-contact score × value, what the worklist does without an uplift model). Measured
on next week's list: the Qini coefficient of each order (from its own randomised outcomes;
random order is 0), and at the team's capacity (a share of the list) the customers and revenue
the calls truly save (the sum of the planted effect over those called) and how many called
customers a call pushes away. Two planted effects: ``heterogeneous`` (a call keeps customers
with a fixable problem and pushes away the ones who complained about sales pressure — among
the riskiest) and ``uniform`` (every call keeps 8 points more: uplift has nothing to find).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cxml.uplift import fit_uplift, planted_world, qini_coefficient

LIST = 4000  # next week's list


def one(seed: int, effect: str, train: int, capacities: list[float]) -> list[dict[str, object]]:
    features, past = planted_world(seed, n=train, effect=effect)
    model = fit_uplift(features, past["arm"].to_numpy(), past["retained"].to_numpy(), seed=seed)
    now_features, now = planted_world(seed + 10_000, n=LIST, effect=effect)
    value = now_features["monthly_value"].to_numpy() * 3
    orders = {
        "uplift": model.estimate(now_features)["uplift"].to_numpy() * value,
        "risk": now["pre_contact_score"].to_numpy() * value,
    }
    true = now["true_uplift"].to_numpy()
    rows = []
    for name, score in orders.items():
        qini = qini_coefficient(score, now["arm"].to_numpy(), now["retained"].to_numpy())
        ranked = np.argsort(-score, kind="stable")
        for capacity in capacities:
            top = ranked[: int(capacity * LIST)]
            rows.append(
                {
                    "effect": effect,
                    "train": train,
                    "capacity": capacity,
                    "order": name,
                    "seed": seed,
                    "qini": qini,
                    "saves": float(true[top].sum()),
                    "revenue_saved": float((true[top] * value[top]).sum()),
                    "pushed_away_called": int((true[top] < 0).sum()),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--train", type=int, nargs="+", default=[600, 3000])
    parser.add_argument("--capacity", type=float, nargs="+", default=[0.1, 0.25])
    args = parser.parse_args()
    started = time.perf_counter()
    rows: list[dict[str, object]] = []
    for train in args.train:
        for effect in ("heterogeneous", "uniform"):
            for seed in range(args.seeds):
                rows += one(seed, effect, train, args.capacity)
                print(f"  done: {effect}, trained on {train:,}, seed {seed}", flush=True)
        report(pd.DataFrame(rows), args.seeds, time.perf_counter() - started)


def report(frame: pd.DataFrame, seeds: int, seconds: float) -> None:
    """The table so far (printed after each training size, so a long run is read early)."""
    table = (
        frame.groupby(["effect", "train", "capacity", "order"], sort=False)
        .agg(
            qini=("qini", "mean"),
            qini_sd=("qini", "std"),
            saves=("saves", "mean"),
            saves_sd=("saves", "std"),
            revenue_saved=("revenue_saved", "mean"),
            pushed_away_called=("pushed_away_called", "mean"),
        )
        .reset_index()
    )
    print(f"{seeds} seeds, next week's list {LIST:,}, {seconds:.0f} s", flush=True)
    print(
        "| planted effect | trained on | capacity | ranked by | Qini (sd) | customers saved (sd) "
        "| revenue saved | pushed-away customers called |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in table.itertuples():
        print(
            f"| {r.effect} | {r.train:,} | {r.capacity:.0%} of {LIST:,} | {r.order} "
            f"| {r.qini:.4f} ({r.qini_sd:.4f}) | {r.saves:.1f} ({r.saves_sd:.1f}) "
            f"| {r.revenue_saved:,.0f} | {r.pushed_away_called:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
