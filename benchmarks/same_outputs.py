"""Check that a change to the text pipeline leaves its outputs as they were, in full.

Usage (from the repository root, ``PYTHONPATH=$PWD``):
    python -m benchmarks.same_outputs dump before.json [--pipeline fitted.joblib]
    (change the code)
    python -m benchmarks.same_outputs dump after.json [--pipeline fitted.joblib]
    python -m benchmarks.same_outputs compare before.json after.json

``dump`` fits ``TextPipeline()`` (shipped defaults, churn-intent detector and competitor
intent on) on the demo world's comments — or reads the fitted pipeline from ``--pipeline``,
writing it there first when the file does not exist, so both runs can share one fit — and
writes every result of ``analyze`` (language, sentiment, themes with spans and sentiment, key
phrases, intents with spans, redacted text) for the demo comments in English and Japanese
(languages given), all demo comments with languages detected, the churn-intent dev texts
(detected and given; evaluation only) and a few odd inputs. ``compare`` prints which
sets differ and the first differing fields; it exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "churn-intent" / "dev.csv"
ODD = [
    "",
    None,
    "   ",
    "12345",
    "mail me at a@b.com, Mr Smith",
    "料金",
    "Too expensive",
    "解約します。",
    "Bonjour, le service est nul",
]


def dump(out: Path, pipeline_path: Path | None) -> None:
    import joblib

    from cxml.demo import generate
    from cxml.text.pipeline import TextPipeline

    world = generate(3000, seed=11)
    frame = world.feedback[world.feedback["text"].fillna("").str.strip().ne("")]
    truth = world.feedback_truth.set_index("feedback_id")["language"]
    frame = frame.assign(planted=frame["feedback_id"].map(truth))
    if pipeline_path is not None and pipeline_path.exists():
        pipeline = joblib.load(pipeline_path)
    else:
        pipeline = TextPipeline().fit(frame.head(3000))
        if pipeline_path is not None:
            joblib.dump(pipeline, pipeline_path)
    results: dict[str, list[dict[str, Any]]] = {}
    for language in ("en", "ja"):
        texts = frame.loc[frame["planted"] == language, "text"].astype(str).tolist()
        results[f"demo_{language}_given"] = pipeline.analyze(texts, [language] * len(texts))
    results["demo_all_detected"] = pipeline.analyze(frame["text"].tolist())
    if DEV.exists():
        dev = pd.read_csv(DEV)
        results["dev_detected"] = pipeline.analyze(dev["text"].tolist())
        results["dev_given"] = pipeline.analyze(dev["text"].tolist(), dev["language"].tolist())
    results["odd"] = pipeline.analyze(ODD)
    results["odd_fallback"] = pipeline.analyze(
        ["ok", "料金", "Few templates"], fallback=["ja", "en", None]
    )
    out.write_text(json.dumps(results, ensure_ascii=False, sort_keys=True, default=str))
    print({name: len(rows) for name, rows in results.items()})


def compare(before: Path, after: Path) -> bool:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    same = True
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            print(f"{name}: identical ({len(a[name])} texts)")
            continue
        same = False
        rows = [
            i
            for i, (x, y) in enumerate(zip(a.get(name, []), b.get(name, []), strict=False))
            if x != y
        ]
        print(
            f"{name}: DIFFERENT ({len(a.get(name, []))} vs {len(b.get(name, []))} texts, "
            f"{len(rows)} rows differ)"
        )
        for i in rows[:3]:
            for field in sorted(set(a[name][i]) | set(b[name][i])):
                if a[name][i].get(field) != b[name][i].get(field):
                    print(
                        f"  row {i} {field}: {a[name][i].get(field)!r} -> {b[name][i].get(field)!r}"
                    )
    print("all identical" if same else "outputs differ")
    return same


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    dumping = sub.add_parser("dump")
    dumping.add_argument("out", type=Path)
    dumping.add_argument("--pipeline", type=Path)
    comparing = sub.add_parser("compare")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.out, args.pipeline)
    elif not compare(args.before, args.after):
        sys.exit(1)


if __name__ == "__main__":
    main()
