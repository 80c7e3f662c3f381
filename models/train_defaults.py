"""Rebuild the shipped default sentiment models from permissively licensed public data.

- English (models/sentiment_en.joblib): Women's E-Commerce Clothing Reviews (CC0),
  ratings 1–2 negative, 3 neutral, 4–5 positive.
- Japanese (models/sentiment_ja.joblib): chABSA-dataset (CC BY 4.0, chakki-works),
  sentences labelled positive or negative.

Usage: python models/train_defaults.py [--data ../shared/data] [--holdout 0.2]
With --holdout the models are trained on the first 80 % (the benchmark's split) and
only evaluated; without it they are trained on everything and saved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from cxml.text.nlp import Tokenizer
from cxml.text.sentiment import SentimentModel

HERE = Path(__file__).resolve().parent


def clothing(data: Path) -> pd.DataFrame:
    frame = pd.read_csv(data / "womens-clothing-reviews" / "womens_clothing_reviews.csv")
    frame = frame.dropna(subset=["Review Text"])
    label = np.select(
        [frame["Rating"] <= 2, frame["Rating"] == 3], ["negative", "neutral"], "positive"
    )
    return pd.DataFrame({"text": frame["Review Text"].astype(str), "label": label})


def chabsa(data: Path) -> pd.DataFrame:
    frame = pd.read_csv(data / "chabsa-ja" / "chabsa_sentences.csv")
    frame = frame[frame["sentence_label"].isin(["positive", "negative"])]
    return pd.DataFrame({"text": frame["sentence"].astype(str), "label": frame["sentence_label"]})


def split(frame: pd.DataFrame, holdout: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fixed shuffled split: (train, test)."""
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(len(frame) * (1 - holdout))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(
        drop=True
    )


def fit(frame: pd.DataFrame, language: str) -> SentimentModel:
    tokenizer = Tokenizer()
    texts = frame["text"].tolist()
    analysed = tokenizer.analyse(texts, language)
    # the family that transfers (lemmas + lexicon), not the in-domain winner: see the card
    return SentimentModel(C=0.5, select=False).fit(
        texts, analysed, [language] * len(texts), frame["label"].tolist()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = parser.parse_args()
    for language, frame in (("en", clothing(args.data)), ("ja", chabsa(args.data))):
        model = fit(frame, language)
        path = HERE / f"sentiment_{language}.joblib"
        joblib.dump(model, path, compress=3)
        print(f"{path.name}: {len(frame):,} texts, {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
