"""Benchmark the pattern intents (effort, call-back request) and competitor mention on real
text, against labels made by reading the texts.

Usage: python -m benchmarks.signals [--data ../shared/data] [--errors]
Prints Markdown for benchmarks/RESULTS.md: precision, recall and F1 of each signal per data
set and language, and how many texts carry it.

The labels are in ``benchmarks/labels/signals.csv``: one row per labelled text, keyed by the
data set and the text's row (``nps-verbatims``: its index in ``nps_verbatims.csv``; ``churn-
intent``: its ``item_id``), with the first 12 hex digits of the SHA-256 of the text, so a
changed file is caught rather than graded. No text is copied into the project. Evaluation
only: no pattern or model is fitted on them.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pandas as pd

from benchmarks.intents import dev_half, markdown
from cxml.text.intents import IntentDetector

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
LABELS = ROOT / "benchmarks" / "labels" / "signals.csv"
SIGNALS = ("effort", "callback", "competitor")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def labelled_texts(data: Path, labels: Path = LABELS) -> pd.DataFrame:
    """The labels joined to their texts: dataset, key, language, text, the signals, unsure."""
    frame = pd.read_csv(labels, dtype={"key": str, "sha": str})
    nps = pd.read_csv(data / "nps-verbatims" / "nps_verbatims.csv")
    dev = pd.read_csv(data / "churn-intent" / "dev.csv").set_index("item_id")
    texts = {
        "nps-verbatims": {str(i): (str(t), "en") for i, t in nps["text"].items()},
        "churn-intent": {
            str(i): (str(t), str(lang))
            for i, t, lang in zip(dev.index, dev["text"], dev["language"], strict=True)
        },
    }
    rows = []
    for row in frame.itertuples(index=False):
        found = texts.get(row.dataset, {}).get(row.key)
        if found is None:
            raise SystemExit(f"{labels}: {row.dataset} has no text with key {row.key!r}")
        text, language = found
        if digest(text) != row.sha:
            raise SystemExit(
                f"{labels}: the text of {row.dataset} {row.key!r} changed since it was labelled "
                f"(sha {digest(text)}, labelled {row.sha})"
            )
        rows.append({"text": text, "language": language})
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def detected(frame: pd.DataFrame) -> pd.DataFrame:
    """cxml's signals per text, as ``cxml analyze`` finds them (the leave detector off)."""
    detector = IntentDetector(use_leave=False).fit()
    out = pd.DataFrame(False, index=frame.index, columns=[f"cxml_{s}" for s in SIGNALS])
    for language, group in frame.groupby("language"):
        found = detector.detect(group["text"].tolist(), str(language))
        for index, intents in zip(group.index, found, strict=True):
            for intent in intents:
                if intent["intent"] in SIGNALS:
                    out.loc[index, f"cxml_{intent['intent']}"] = True
    return pd.concat([frame, out], axis=1)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per data set, language, half (``dev_half``: "look", whose errors may be read, and
    "held", never read) and signal: counts, precision, recall, F1."""
    halves = frame["text"].map(dev_half)
    parts = [(half, frame[halves == half]) for half in ("look", "held")] + [("both", frame)]
    rows = []
    for half, part in parts:
        for (dataset, language), group in part.groupby(["dataset", "language"]):
            rows += _rows(group, str(dataset), str(language), half)
    out = pd.DataFrame(rows)
    out["order"] = out["half"].map({"look": 0, "held": 1, "both": 2})
    out = out.sort_values(["data set", "language", "signal", "order"], kind="stable")
    return out.drop(columns="order").reset_index(drop=True)


def _rows(group: pd.DataFrame, dataset: str, language: str, half: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for signal in SIGNALS:
        truth = group[signal].astype(bool).to_numpy()
        predicted = group[f"cxml_{signal}"].to_numpy(dtype=bool)
        tp, said, labelled = int((truth & predicted).sum()), int(predicted.sum()), int(truth.sum())
        precision = tp / said if said else float("nan")
        recall = tp / labelled if labelled else float("nan")
        f1 = 2 * tp / (said + labelled) if said + labelled else float("nan")
        rows.append(
            {
                "data set": dataset,
                "language": language,
                "signal": signal,
                "half": half,
                "texts": len(group),
                "labelled yes": labelled,
                "cxml yes": said,
                "both": tp,
                "precision": precision,
                "recall": recall,
                "F1": f1,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--errors", action="store_true", help="print the look half's texts cxml gets wrong"
    )
    args = parser.parse_args()
    frame = detected(labelled_texts(args.data))
    print(markdown(table(frame)))
    print(
        f"\nLabelled texts: {len(frame)}, of them marked unsure by the labeller: {int(frame['unsure'].sum())}"
    )
    if args.errors:
        for signal in SIGNALS:
            wrong = frame[frame[signal].astype(bool) != frame[f"cxml_{signal}"]]
            for row in wrong.itertuples():
                if dev_half(row.text) != "look":  # the held half's texts are not read
                    continue
                said = "missed" if getattr(row, signal) else "false "
                print(f"{signal:10} {said} {row.text[:160]!r}")


if __name__ == "__main__":
    main()
