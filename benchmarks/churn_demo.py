"""Benchmark: the demo world forward in time — churn model with and without text features.

Usage: python -m benchmarks.churn_demo [--customers 3000]
The text pipeline is fitted only on feedback written before the validation snapshot, so
no text model has seen the future it is graded on. Train on earlier snapshots, grade on
the latest complete one (labels from T to T + 90 days).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from cxml.churn.predictor import ChurnDefinition
from cxml.churn.training import (
    backtest,
    choose,
    days_to_churn,
    feature_spec,
    snapshot_dates,
    survival_backtest,
    training_set,
)
from cxml.demo import generate, write_world
from cxml.ingest import ingest_file
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.records import feedback_frame
from cxml.text.pipeline import TextPipeline
from cxml.text.training import analyze_feedback

END = date(2026, 1, 1)
NOW = datetime(2026, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--horizon", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        world = generate(args.customers, seed=17, end=END)
        paths = write_world(world, Path(folder))
        settings = Settings(database_url=f"sqlite:///{folder}/churn.db")
        store = Store.open(settings)
        ingest_file(store, "customers", paths["customers"], settings=settings, now=NOW)
        ingest_file(store, "feedback", paths["feedback"], settings=settings, now=NOW)
        as_of = pd.Timestamp(END)
        dates = snapshot_dates(as_of, args.horizon, 4)
        comments = feedback_frame(store, with_text=True)
        before = comments[pd.to_datetime(comments["created_at"]) < dates[0]]
        pipeline = TextPipeline().fit(before)
        analyze_feedback(store, pipeline, "bench", comments["feedback_id"].tolist(), now=NOW)
        print(
            f"# demo world: {args.customers:,} customers, seed 17, as of {END}, horizon {args.horizon} days"
        )
        print("| features | model | ROC-AUC | PR-AUC | Brier | lift top 10 % | recall top 20 % |")
        print("|---|---|---|---|---|---|---|")
        timing: dict[str, dict[str, dict[str, float]]] = {}
        for label, with_text in (("with text", True), ("without text", False)):
            spec = feature_spec(store, first_snapshot=dates[-1], as_of=as_of, with_text=with_text)
            rows = training_set(
                store,
                dates,
                args.horizon,
                spec,
                ChurnDefinition(),
                data_end=as_of,
                bucket_customers=settings.bucket_customers,
            )
            graded, predictions = backtest(rows, dates[0])
            days = days_to_churn(store, rows, ChurnDefinition(), data_end=as_of)
            timing[label], _ = survival_backtest(
                rows, days, dates[0], as_of, args.horizon, predictions["model"]
            )
            for name in ("model", "lightgbm", "linear", "logistic", "rule"):
                g = graded[name]
                shown = f"model (served: {choose(graded)})" if name == "model" else name
                print(
                    f"| {label} ({rows.X.shape[1]} features) | {shown} | {g['roc_auc']:.4f} | {g['pr_auc']:.3f} "
                    f"| {g['brier']:.4f} | {g['lift_top10']:.2f} | {g['recall_top20']:.3f} |"
                )
        latest = rows.snapshot == dates[0].to_datetime64()
        print(
            f"\nvalidation snapshot {dates[0].date()} ({int(latest.sum()):,} customers), "
            f"trained on {', '.join(str(d.date()) for d in dates[1:])} ({int((~latest).sum()):,} rows)"
        )
        print("\n| features | time to churn | concordance | integrated Brier (days 1-89) |")
        print("|---|---|---|---|")
        for label, grades in timing.items():
            for name, g in grades.items():
                print(
                    f"| {label} | {name} | {g['concordance']:.4f} | {g['integrated_brier']:.5f} |"
                )
        store.close()


if __name__ == "__main__":
    main()
