"""Benchmark language detection on real comments the tests never saw (issue #30).

Usage: python -m benchmarks.language [--data ../shared/data]
Prints a Markdown table for benchmarks/RESULTS.md: per set, the share of comments detected in
their language (goal ≥ 99 % for comments of at least two words), by py3langid alone (before),
by cxml's detector on the whole set as one batch, and on each comment alone (an API call with
one comment and nothing known), then the other languages it still gives and examples.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pandas as pd

from cxml.text.language import LanguageDetector, _load_identifier

ROOT = Path(__file__).resolve().parents[1]
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)


def words(text: str) -> int:
    """Words in a comment: runs of letters; a Japanese comment without spaces counts its
    characters (two characters or more are two "words")."""
    if re.search("[\u3040-\u30ff\u4e00-\u9fff]", text):
        return len(re.findall("[\u3040-\u30ff\u4e00-\u9fff]", text))
    return len(_WORDS.findall(text))


def sets(data: Path) -> dict[str, tuple[list[str], str]]:
    """{name: (comments of two words or more, their language)}."""
    telecom = pd.read_csv(
        data / "nps-verbatims" / "nps_verbatims.csv", encoding_errors="replace", dtype=str
    )
    chabsa = pd.read_csv(data / "chabsa-ja" / "chabsa_sentences.csv", dtype=str)
    intent = pd.read_csv(data / "churn-intent" / "dev.csv", dtype=str)
    out = {
        "nps-verbatims (UK telecom)": (telecom["text"], "en"),
        "chabsa-ja": (chabsa["sentence"], "ja"),
        "churn-intent dev, ja rows": (intent.loc[intent["language"] == "ja", "text"], "ja"),
        "churn-intent dev, en rows": (intent.loc[intent["language"] == "en", "text"], "en"),
    }
    return {
        name: ([t for t in texts.fillna("").astype(str) if words(t) >= 2], language)
        for name, (texts, language) in out.items()
    }


def run(data: Path) -> None:
    identifier = _load_identifier()
    detector = LanguageDetector().fit()
    print(f"Machine: 2 cores; {date.today().isoformat()}; command: python -m benchmarks.language\n")
    print(
        "| set | comments (≥ 2 words) | language | py3langid alone | cxml, set as one batch "
        "| cxml, each comment alone | languages given (batch) | seconds (batch) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    misses: dict[str, list[tuple[str, str]]] = {}
    for name, (texts, language) in sets(data).items():
        before = [str(identifier.classify(t)[0]) for t in texts]
        before = ["ja" if b == "zh" and language == "ja" else b for b in before]
        started = time.perf_counter()
        batch = [code for code, _ in detector.detect(texts)]
        seconds = time.perf_counter() - started
        alone = [detector.detect([t])[0][0] for t in texts]
        given = Counter(batch)
        n = len(texts)

        def share(codes: list[str | None], language: str = language, n: int = n) -> str:
            return f"{100 * sum(c == language for c in codes) / n:.2f} %"

        print(
            f"| {name} | {n:,} | {language} | {share(before)} "
            f"({len(set(before))} languages) | {share(batch)} | {share(alone)} | "
            f"{len(given)} | {seconds:.2f} |"
        )
        misses[name] = [(t, str(c)) for t, c in zip(texts, alone, strict=True) if c != language]
    print("\nWhere cxml still loses (each comment alone; up to 8 per set):\n")
    for name, found in misses.items():
        if found:
            shown = "; ".join(f"“{t[:50]}” → {c}" for t, c in found[:8])
            print(f"- {name}: {len(found)} — {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared" / "data")
    args = parser.parse_args()
    data = args.data if args.data.exists() else Path("/work/shared/data")
    run(data)


if __name__ == "__main__":
    main()
