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

from cxml.churn.training import backtest, snapshot_dates
from cxml.demo import generate, write_world
from cxml.ingest import ingest_file
from cxml.settings import Settings
from cxml.store import Store
from cxml.text.pipeline import TextPipeline

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
        validation = snapshot_dates(as_of, args.horizon, 1)[0]
        comments = store.feedback_frame(with_text=True)
        before = comments[pd.to_datetime(comments["created_at"]) < validation]
        pipeline = TextPipeline().fit(before)
        results = pipeline.analyze(comments["text"].tolist(), comments["language"].tolist())
        analysis = pd.DataFrame(
            {
                "feedback_id": comments["feedback_id"],
                "sentiment_score": [
                    r["sentiment"]["score"] if r["sentiment"] else None for r in results
                ],
                "intents": [[i["intent"] for i in r["intents"]] for r in results],
            }
        )
        themes = pd.DataFrame(
            [
                {"feedback_id": f, "theme_id": t["id"], "sentiment_score": t["sentiment"]["score"]}
                for f, r in zip(comments["feedback_id"], results, strict=True)
                for t in r["themes"]
            ]
        )
        inputs = store.churn_inputs()
        inputs["analysis"], inputs["themes"] = analysis, themes
        print(
            f"# demo world: {args.customers:,} customers, seed 17, as of {END}, horizon {args.horizon} days"
        )
        print("| features | model | ROC-AUC | PR-AUC | Brier | lift top 10 % | recall top 20 % |")
        print("|---|---|---|---|---|---|---|")
        for label, with_text in (("with text", True), ("without text", False)):
            graded = backtest(inputs, as_of, args.horizon, with_text=with_text)
            for name in ("model", "logistic", "rule"):
                g = graded[name]
                print(
                    f"| {label} ({graded['features']} features) | {name} | {g['roc_auc']:.4f} | {g['pr_auc']:.3f} "
                    f"| {g['brier']:.4f} | {g['lift_top10']:.2f} | {g['recall_top20']:.3f} |"
                )
        print(
            f"\nvalidation snapshot {graded['validation_snapshot']} ({graded['rows_validation']:,} customers), "
            f"trained on {', '.join(graded['train_snapshots'])} ({graded['rows_train']:,} rows)"
        )
        store.close()


if __name__ == "__main__":
    main()
