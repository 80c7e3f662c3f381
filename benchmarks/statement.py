"""Benchmark: does a customer's own statement that they are leaving count in the churn score?

Usage: python -m benchmarks.statement [--customers 2000] [--worlds 7:2026-12-06 29:2026-01-01]

Per world (SEED:END, as ``benchmarks.ranking``): the text pipeline is fitted on feedback
before the validation snapshot, and each churn family on the older snapshots, twice: without
the statement's weight (as before: the family alone) and with it (``_learn_statement``). Graded
forward in time on the latest complete snapshot's customers: ROC-AUC, average precision,
Brier, expected calibration error, and where the customers who said they are leaving (a
leave intent in the 90 days before the snapshot) stand in the list.
"""

from __future__ import annotations

import argparse
from datetime import date

import numpy as np
import pandas as pd


def rows_of(customers: int, seed: int, end: date, horizon: int) -> tuple[object, pd.Timestamp]:
    """The training rows of a generated world (``benchmarks.ranking.analysed_world``) and its
    validation snapshot."""
    from benchmarks.ranking import analysed_world

    with analysed_world(customers, seed, end, horizon) as (_, rows, dates, _):
        return rows, dates[0]


def graded(family: type, rows: object, validation: pd.Timestamp, weigh: bool) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    import cxml.churn.model as model_module
    from cxml.churn.evaluate import expected_calibration_error

    latest = rows.snapshot == validation.to_datetime64()  # type: ignore[attr-defined]
    X, y = rows.X, rows.y  # type: ignore[attr-defined]
    kept = model_module.MIN_STATEMENTS
    model_module.MIN_STATEMENTS = kept if weigh else 10**12  # without: never enough to weigh
    try:
        model = family().fit(X[~latest], y[~latest])
    finally:
        model_module.MIN_STATEMENTS = kept
    walked = model.walk(X[latest], k=0)
    held = y[latest]
    said = pd.to_numeric(X[latest][model_module.STATEMENT]).fillna(0).to_numpy() > 0
    order = np.argsort(-walked["ranking"], kind="stable")
    position = np.empty(len(order))
    position[order] = np.arange(1, len(order) + 1)
    top = order[: max(1, len(order) // 10)]
    return {
        "weight": float(getattr(model, "statement_weight_", 0.0)),
        "auc": roc_auc_score(held, walked["ranking"]),
        "ap": average_precision_score(held, walked["ranking"]),
        "brier": brier_score_loss(held, walked["probability"]),
        "ece": expected_calibration_error(held, walked["probability"]),
        "lift10": float(held[top].mean() / held.mean()),
        "said": int(said.sum()),
        "said_churned": float(held[said].mean()) if said.any() else float("nan"),
        "others_churned": float(held[~said].mean()),
        "said_median_rank": float(np.median(position[said])) if said.any() else float("nan"),
        "said_top100": int((position[said] <= 100).sum()),
        "rows": len(held),
    }


def main() -> None:
    from cxml.churn.model import ChurnModel, LinearChurnModel

    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--worlds", nargs="+", default=["7:2026-12-06", "29:2026-01-01"])
    parser.add_argument("--horizon", type=int, default=90)
    args = parser.parse_args()
    print(
        "| world | family | statement weight | ROC-AUC | average precision | Brier | ECE "
        "| lift, top 10 % | said they are leaving (churned; others) | their median rank "
        "| of them in the top 100 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for world in args.worlds:
        seed, end = world.split(":")
        rows, validation = rows_of(args.customers, int(seed), date.fromisoformat(end), args.horizon)
        for family in (ChurnModel, LinearChurnModel):
            for weigh in (False, True):
                g = graded(family, rows, validation, weigh)
                print(
                    f"| seed {seed} | {family.__name__} {'with' if weigh else 'without'} "
                    f"| {g['weight']:.2f} | {g['auc']:.4f} | {g['ap']:.4f} | {g['brier']:.5f} "
                    f"| {g['ece']:.4f} | {g['lift10']:.2f} | {g['said']} of {g['rows']:,} "
                    f"({g['said_churned']:.0%}; {g['others_churned']:.1%}) "
                    f"| {g['said_median_rank']:.0f} | {g['said_top100']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
