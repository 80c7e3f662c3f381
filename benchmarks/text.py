"""Benchmark the text pipeline: sentiment quality (in and out of domain), theme quality, throughput.

Usage: python -m benchmarks.text [--data ../shared/data]
Prints Markdown tables for benchmarks/RESULTS.md. Every model is scored on data it did not train on.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the targets are stated

import joblib
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, normalized_mutual_info_score

from cxml.demo import DEMO_TAXONOMY, generate
from cxml.text.lexicon import LexiconScorer
from cxml.text.nlp import Tokenizer
from cxml.text.pipeline import TextPipeline
from cxml.text.sentiment import SentimentModel
from cxml.text.themes import OTHER, Taxonomy, ThemeModel

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = Tokenizer()


def lexicon_labels(texts: list[str], language: str, band: float) -> np.ndarray:
    scores = LexiconScorer().scores(texts, TOKENIZER.analyse(texts, language), language)
    return np.where(scores >= band, "positive", np.where(scores <= -band, "negative", "neutral"))


def tfidf_reference(train: pd.DataFrame, test: pd.DataFrame, *, char: bool = False) -> np.ndarray:
    vectorizer = (
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
        if char
        else TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    )
    model = LogisticRegression(max_iter=2000, class_weight="balanced")
    model.fit(vectorizer.fit_transform(train["text"]), train["label"])
    return model.predict(vectorizer.transform(test["text"]))


def cxml_model(
    train: pd.DataFrame, test: pd.DataFrame, language: str, *, two_way: bool = False
) -> np.ndarray:
    """Labels for ``test`` from the model ``cxml train text`` fits on ``train``; for a two-way
    task the more likely of the two (the sign of the score), not the served neutral band."""
    model = SentimentModel().fit(  # as `cxml train text` fits it: candidates chosen by CV
        train["text"].tolist(),
        TOKENIZER.analyse(train["text"].tolist(), language),
        [language] * len(train),
        train["label"].tolist(),
    )
    proba = model.proba(
        test["text"].tolist(), TOKENIZER.analyse(test["text"].tolist(), language), language
    )
    for grade in model.selection_[language]:
        print(
            f"<!-- {language} candidate {grade['family']} C={grade['C']}: CV macro-F1 "
            f"{grade['macro_f1']:.3f} ± {grade['sd']:.3f}{' (chosen)' if grade['chosen'] else ''} -->"
        )
    if two_way:
        return np.where(proba[:, 2] >= proba[:, 0], "positive", "negative")
    return model.labels_from(proba, language)[0]


def nps_verbatims(data: Path) -> pd.DataFrame:
    """The telecom NPS verbatims as text, a three-way label from the score and when each was
    written (``at``; NaT where the date does not parse)."""
    nps = pd.read_csv(
        data / "nps-verbatims" / "nps_verbatims.csv", encoding_errors="replace"
    ).dropna(subset=["text", "NPS_SCORE"])
    return pd.DataFrame(
        {
            "text": nps["text"].astype(str),
            "label": np.select(
                [nps["NPS_SCORE"] <= 6, nps["NPS_SCORE"] <= 8], ["negative", "neutral"], "positive"
            ),
            "at": pd.to_datetime(nps["CUSTOMER_RESPONSE_DATE"], dayfirst=True, errors="coerce"),
        }
    )


def split(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(len(frame) * 0.8)
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(
        drop=True
    )


def f1(truth: pd.Series | np.ndarray, predicted: np.ndarray) -> str:
    return f"{f1_score(truth, predicted, average='macro'):.3f}"


def sentiment(data: Path) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "models"))
    from train_defaults import chabsa, clothing  # type: ignore[import-not-found]

    print("\n### Sentiment, macro-F1 (held-out 20 % split, seed 0)\n")
    print("| data | task | cxml | lexicon | TF-IDF + LR reference |")
    print("|---|---|---|---|---|")
    train, test = split(clothing(data))
    print(
        f"| womens-clothing-reviews (EN) | 3-class from rating | {f1(test['label'], cxml_model(train, test, 'en'))} "
        f"| {f1(test['label'], lexicon_labels(test['text'].tolist(), 'en', 0.05))} "
        f"| {f1(test['label'], tfidf_reference(train, test))} |"
    )
    train, test = split(chabsa(data))
    cx = cxml_model(train, test, "ja", two_way=True)
    lex = lexicon_labels(test["text"].tolist(), "ja", 1e-9)
    lex = np.where(lex == "neutral", "positive", lex)  # two classes: ties go to the majority class
    ref = tfidf_reference(train, test, char=True)
    print(
        f"| chabsa-ja (JA) | positive vs negative | {f1(test['label'], cx)} (acc {accuracy_score(test['label'], cx):.3f}) "
        f"| {f1(test['label'], lex)} | {f1(test['label'], ref)} (acc {accuracy_score(test['label'], ref):.3f}, char 1-3) |"
    )

    print("\n### Sentiment out of domain (the shipped defaults on data they never saw), macro-F1\n")
    print("| data | task | cxml default | lexicon | TF-IDF + LR trained on clothing reviews |")
    print("|---|---|---|---|---|")
    nps = nps_verbatims(data)
    default_en = joblib.load(ROOT / "models" / "sentiment_en.joblib")
    texts = nps["text"].tolist()
    labels, _ = default_en.labels_from(
        default_en.proba(texts, TOKENIZER.analyse(texts, "en"), "en"), "en"
    )
    print(
        f"| nps-verbatims (EN telecom) | detractor/passive/promoter | {f1(nps['label'], labels)} "
        f"| {f1(nps['label'], lexicon_labels(texts, 'en', 0.05))} | {f1(nps['label'], tfidf_reference(clothing(data), nps))} |"
    )
    world = generate(1500, seed=21, end=date(2025, 6, 30))
    truth = world.feedback_truth
    ja = truth["language"].eq("ja") & truth["sentiment"].isin(["positive", "negative"])
    ja_texts = world.feedback.loc[ja, "text"].tolist()
    default_ja = joblib.load(ROOT / "models" / "sentiment_ja.joblib")
    labels, _ = default_ja.labels_from(
        default_ja.proba(ja_texts, TOKENIZER.analyse(ja_texts, "ja"), "ja"), "ja"
    )
    labels = np.where(labels == "neutral", "positive", labels)
    lex = lexicon_labels(ja_texts, "ja", 1e-9)
    lex = np.where(lex == "neutral", "positive", lex)
    ref = tfidf_reference(chabsa(data), pd.DataFrame({"text": ja_texts}), char=True)
    print(
        f"| demo world, Japanese customer comments | positive vs negative | {f1(truth.loc[ja, 'sentiment'], labels)} "
        f"| {f1(truth.loc[ja, 'sentiment'], lex)} | {f1(truth.loc[ja, 'sentiment'], ref)} (trained on chABSA, char 1-3) |"
    )


def nps_forward(data: Path) -> None:
    """The telecom NPS verbatims forward in time: the candidates chosen on folds cut forward in
    time (as `cxml train text` does when comments have dates) and on shuffled folds, both
    trained on the oldest 80 % and graded on the newest 20 % (evaluation only: GPL data)."""
    nps = nps_verbatims(data).dropna(subset=["at"])
    nps = nps.sort_values("at", kind="stable").reset_index(drop=True)
    cut = int(len(nps) * 0.8)
    train, test = nps.iloc[:cut], nps.iloc[cut:]
    analysed = TOKENIZER.analyse(train["text"].tolist(), "en")
    test_analysed = TOKENIZER.analyse(test["text"].tolist(), "en")
    print("\n### Sentiment chosen forward in time: telecom NPS verbatims, newest 20 % held out\n")
    print(
        "| folds the family is chosen on | CV grades (lemmas+lexicon C=2 / C=0.5 / words / words+chars) | serves | held-out macro-F1 |"
    )
    print("|---|---|---|---|")
    for times in (train["at"].tolist(), None):
        model = SentimentModel().fit(
            train["text"].tolist(), analysed, ["en"] * len(train), train["label"].tolist(), times
        )
        grades = model.selection_["en"]
        chosen = next(g for g in grades if g["chosen"])
        labels = model.labels_from(model.proba(test["text"].tolist(), test_analysed, "en"), "en")[0]
        cv = " / ".join(format(g["macro_f1"], ".3f") for g in grades)
        print(f"| {grades[0]['folds']} | {cv} | {chosen['family']} | {f1(test['label'], labels)} |")


def top_theme(matches: list) -> str:
    best = max(matches, key=lambda m: m.confidence)
    return best.id


def themes(data: Path) -> None:
    print("\n### Themes, NMI against known labels\n")
    print("| data | cxml | reference |")
    print("|---|---|---|")
    test = pd.read_csv(data / "banking77" / "test.csv")
    texts = test["text"].astype(str).tolist()
    analysed = TOKENIZER.analyse(texts, "en")
    vectors = TfidfVectorizer(min_df=2, sublinear_tf=True).fit_transform(texts)
    kmeans = KMeans(n_clusters=77, n_init=3, random_state=0).fit_predict(vectors)
    reference = f"{normalized_mutual_info_score(test['category'], kmeans):.3f} (k-means on TF-IDF)"
    for name, settings in (
        ("served: NMF, words + pairs", {}),
        ("NMF, words only (before)", {"pairs": False}),
        ("k-means-initialised NMF, words + pairs", {"representation": "kmeans+nmf"}),
    ):
        model = ThemeModel(n_themes=77, min_texts=10, **settings).fit(analysed, ["en"] * len(texts))
        assigned = [top_theme(m) for m in model.match(texts, analysed, "en")]
        print(
            f"| banking77 test (3,080 queries, 77 intents), k = 77, {name} "
            f"| {normalized_mutual_info_score(test['category'], assigned):.3f} | {reference} |"
        )
    world = generate(2000, seed=5, end=date(2025, 6, 30))
    frame = world.feedback.join(
        world.feedback_truth[["themes"]].rename(columns={"themes": "planted"})
    )
    frame = frame[frame["planted"] != ""].reset_index(drop=True)
    frame["first"] = frame["planted"].str.split("|").str[0]
    frame["language"] = world.feedback_truth.loc[
        world.feedback_truth["themes"] != "", "language"
    ].to_numpy()
    taxonomy = Taxonomy.from_dict(__import__("yaml").safe_load(DEMO_TAXONOMY))
    for label, chosen in (("discovered only", None), ("discovered + demo taxonomy", taxonomy)):
        pipeline = TextPipeline(use_defaults=False).fit(frame, taxonomy=chosen)
        results = pipeline.analyze(frame["text"].tolist(), frame["language"].tolist())
        frame["assigned"] = [max(r["themes"], key=lambda t: t["confidence"])["id"] for r in results]
        cells = []
        for language in ("en", "ja"):
            part = frame[frame["language"] == language]
            cells.append(
                f"{language} {normalized_mutual_info_score(part['first'], part['assigned']):.3f}"
            )
        agree = 0
        planted = sorted(frame["first"].unique())
        for theme in planted:
            en = frame[(frame["first"] == theme) & (frame["language"] == "en")]["assigned"].mode()
            ja = frame[(frame["first"] == theme) & (frame["language"] == "ja")]["assigned"].mode()
            agree += int(
                len(en) > 0 and len(ja) > 0 and en.iloc[0] == ja.iloc[0] and en.iloc[0] != OTHER
            )
        print(
            f"| demo world planted themes, {label} | {', '.join(cells)}; same theme id for EN and JA: {agree}/{len(planted)} planted themes "
            f"| — |"
        )


def _rate(repeat: int, n: int, run: Callable[..., object], *args: object) -> str:
    """``run(*args)`` timed ``repeat`` times in CPU time (``time.process_time``: the machine's
    two cores are shared, and wall time moves with the other work on them): the median rate of
    ``n`` items per CPU second, and the range."""
    rates = []
    for _ in range(repeat):
        started = time.process_time()
        run(*args)
        rates.append(n / (time.process_time() - started))
    return f"{np.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"


def throughput(data: Path, repeat: int = 3) -> None:
    """The issue's number (#28): comments per second through the whole fitted pipeline as
    ``cxml`` serves it (``TextPipeline().fit``: shipped churn-intent detector and competitor
    intent on), languages detected, one core; also with the languages given (no detection,
    as ``benchmarks.intents`` measures it) and the tokeniser alone. Each figure is the median
    of ``repeat`` timed runs, with their range."""
    print("\n### Throughput of the full analyse path, one core (OMP_NUM_THREADS=1), warm\n")
    print(
        f"Comments per CPU second (`time.process_time`), median of {repeat} runs (min–max). Full "
        "analyse: `TextPipeline.analyze(texts)` of a pipeline fitted on the demo world, "
        "churn-intent detector and competitor intent on.\n"
    )
    print(
        "| language | comments (distinct) | tokeniser alone (comments/s) | full analyse, languages "
        "detected (comments/s) | full analyse, languages given (comments/s) | target |"
    )
    print("|---|---|---|---|---|---|")
    world = generate(2500, seed=8, end=date(2025, 6, 30))
    frame = world.feedback[world.feedback["text"] != ""].reset_index(drop=True)
    languages = world.feedback_truth.loc[world.feedback["text"] != "", "language"].to_numpy()
    pipeline = TextPipeline().fit(frame.assign(language=languages))
    assert pipeline.intents_.leave_ is not None  # the detector is on
    for language, target in (("en", 3000), ("ja", 1000)):
        texts = frame.loc[languages == language, "text"].tolist()[:5000]
        _throughput_row(language, texts, language, target, pipeline, repeat)
    # Real text, which repeats far less than the demo's and runs longer (evaluation only).
    for name, language, target, path, column in REAL_TEXTS:
        if not (data / path).exists():
            print(f"| {language}: {name} | {data / path} is not there | | | | |")
            continue
        column_texts = pd.read_csv(data / path)[column].dropna().astype(str)
        texts = column_texts[column_texts.str.strip() != ""].tolist()[:5000]
        label = f"{language}: {name}, {sum(map(len, texts)) / len(texts):.0f} characters a text"
        _throughput_row(label, texts, language, target, pipeline, repeat)


def _throughput_row(
    label: str, texts: list[str], language: str, target: int, pipeline: TextPipeline, repeat: int
) -> None:
    """One table row: the tokeniser alone, and the whole pipeline with languages detected and
    given, each warmed up first."""
    tokenizer = Tokenizer()
    tokenizer.analyse(texts[:20], language)
    pipeline.analyze(texts[:20], [language] * min(20, len(texts)))
    ceiling = _rate(repeat, len(texts), tokenizer.analyse, texts, language)
    detected = _rate(repeat, len(texts), pipeline.analyze, texts)
    given = _rate(repeat, len(texts), pipeline.analyze, texts, [language] * len(texts))
    print(
        f"| {label} | {len(texts):,} ({len(set(texts)):,}) | {ceiling} | {detected} "
        f"| {given} | ≥ {target:,} |"
    )


#: (name, language, target, file under the data folder, text column): real comments.
REAL_TEXTS = (
    ("NPS verbatims", "en", 3000, "nps-verbatims/nps_verbatims.csv", "text"),
    (
        "clothing reviews",
        "en",
        3000,
        "womens-clothing-reviews/womens_clothing_reviews.csv",
        "Review Text",
    ),
    ("chABSA sentences", "ja", 1000, "chabsa-ja/chabsa_sentences.csv", "sentence"),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", choices=["sentiment", "themes", "throughput"])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per throughput figure")
    args = parser.parse_args()
    if args.only in (None, "sentiment"):
        sentiment(args.data)
        nps_forward(args.data)
    if args.only in (None, "themes"):
        themes(args.data)
    if args.only in (None, "throughput"):
        throughput(args.data, args.repeat)


if __name__ == "__main__":
    main()
