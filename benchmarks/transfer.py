"""Benchmark: sentiment transfer, leaving one domain out at a time.

Usage: python -m benchmarks.transfer [--data ../shared/data]
For each domain, models are trained on the other domains of the same language and graded on
it (macro-F1): the shipped defaults' family (lemmas + lexicon, C = 0.5, no selection), the
family in-domain cross-validation would choose (``SentimentModel()``), a plain TF-IDF + LR, and
the lexicon alone. Domains: English clothing reviews (3 classes from the rating), UK telecom
NPS verbatims (3 classes from the score), the demo world's English comments (planted
sentiment); Japanese chABSA annual-report sentences and the demo world's Japanese comments
(positive vs negative). Evaluation only: no shipped model is trained on the GPL verbatims.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from benchmarks.text import TOKENIZER, lexicon_labels, nps_verbatims, tfidf_reference
from cxml.demo import generate
from cxml.text.sentiment import SentimentModel

ROOT = Path(__file__).resolve().parents[1]
#: Each training domain is capped so that no one domain decides the model alone.
PER_DOMAIN = 6000


def domains(data: Path) -> dict[str, dict[str, pd.DataFrame]]:
    sys.path.insert(0, str(ROOT / "models"))
    from train_defaults import chabsa, clothing  # type: ignore[import-not-found]

    nps = nps_verbatims(data)
    world = generate(1500, seed=21, end=date(2025, 6, 30))
    truth = world.feedback_truth
    said = world.feedback["text"] != ""

    def demo(language: str, two_way: bool) -> pd.DataFrame:
        keep = said & truth["language"].eq(language)
        if two_way:
            keep &= truth["sentiment"].isin(["positive", "negative"])
        return pd.DataFrame(
            {"text": world.feedback.loc[keep, "text"], "label": truth.loc[keep, "sentiment"]}
        ).reset_index(drop=True)

    return {
        "en": {"clothing reviews": clothing(data), "telecom NPS verbatims": nps,
               "demo world comments": demo("en", False)},
        "ja": {"chABSA annual reports": chabsa(data), "demo world comments": demo("ja", True)},
    }  # fmt: skip


def capped(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    if len(frame) <= PER_DOMAIN:
        return frame
    return frame.sample(PER_DOMAIN, random_state=seed)


def labels_of(model: SentimentModel, texts: list[str], language: str, two_way: bool) -> np.ndarray:
    proba = model.proba(texts, TOKENIZER.analyse(texts, language), language)
    if two_way:
        return np.where(proba[:, 2] >= proba[:, 0], "positive", "negative")
    return model.labels_from(proba, language)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    print(
        "| language | held-out domain | defaults' family | CV-chosen family | TF-IDF + LR | lexicon |"
    )
    print("|---|---|---|---|---|---|")
    for language, named in domains(args.data).items():
        two_way = language == "ja"
        for held_out, test in named.items():
            train = pd.concat(
                [capped(frame) for name, frame in named.items() if name != held_out],
                ignore_index=True,
            )
            texts = train["text"].tolist()
            analysed = TOKENIZER.analyse(texts, language)
            cells = []
            chosen = ""
            for model in (SentimentModel(C=0.5, select=False), SentimentModel()):
                model.fit(texts, analysed, [language] * len(texts), train["label"].tolist())
                predicted = labels_of(model, test["text"].tolist(), language, two_way)
                cells.append(f"{f1_score(test['label'], predicted, average='macro'):.3f}")
                if model.select:
                    chosen = next(g["family"] for g in model.selection_[language] if g["chosen"])
            plain = tfidf_reference(train, test, char=two_way)
            lexicon = lexicon_labels(test["text"].tolist(), language, 1e-9 if two_way else 0.05)
            if two_way:
                lexicon = np.where(lexicon == "neutral", "positive", lexicon)
            print(
                f"| {language} | {held_out} ({len(test):,}; trained on {len(train):,}) "
                f"| {cells[0]} | {cells[1]} ({chosen}) "
                f"| {f1_score(test['label'], plain, average='macro'):.3f} "
                f"| {f1_score(test['label'], lexicon, average='macro'):.3f} |"
            )


if __name__ == "__main__":
    main()
