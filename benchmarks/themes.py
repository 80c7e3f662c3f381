"""Benchmark themes on small real surveys: how the comments spread over the discovered
themes, whether every label is written in its theme's comments, and NMI on banking77.

Usage: python -m benchmarks.themes [--data ../shared/data] [--only shape|nmi|spot]
Prints Markdown tables for benchmarks/RESULTS.md. ``--only spot`` prints 12 comments of
each of the five largest themes of the telecom NPS verbatims, for a reader to judge.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections import Counter
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from cxml.demo import generate
from cxml.text.evaluate import theme_coherence
from cxml.text.nlp import Tokenizer
from cxml.text.themes import OTHER, ThemeModel, written_in

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = Tokenizer()


def surveys(data: Path) -> dict[str, tuple[list[str], str]]:
    """Each survey's comments and language."""
    nps = pd.read_csv(
        data / "nps-verbatims" / "nps_verbatims.csv", encoding_errors="replace"
    ).dropna(subset=["text"])
    clothing = pd.read_csv(data / "womens-clothing-reviews" / "womens_clothing_reviews.csv").dropna(
        subset=["Review Text"]
    )
    world = generate(2000, seed=5, end=date(2025, 6, 30))
    has_text = world.feedback["text"].astype(str).str.strip() != ""
    languages = world.feedback_truth.loc[has_text, "language"].to_numpy()
    texts = world.feedback.loc[has_text, "text"].astype(str).to_numpy()
    small = nps.sample(441, random_state=0)  # the size of the SaaS survey in issue #30
    # Japanese real text (annual reports' business results, not feedback): the sentences that
    # carry an opinion, as a stand-in for a Japanese survey's comments
    chabsa = pd.read_csv(data / "chabsa-ja" / "chabsa_sentences.csv")
    chabsa = chabsa[chabsa["n_opinions"] > 0]
    return {
        "nps-verbatims (EN telecom)": (nps["text"].astype(str).tolist(), "en"),
        "nps-verbatims, a random 441 (seed 0)": (small["text"].astype(str).tolist(), "en"),
        "womens-clothing-reviews (EN)": (clothing["Review Text"].astype(str).tolist(), "en"),
        "demo world, English": (texts[languages == "en"].tolist(), "en"),
        "demo world, Japanese": (texts[languages == "ja"].tolist(), "ja"),
        "chabsa (JA annual reports, sentences with an opinion)": (
            chabsa["sentence"].astype(str).tolist(),
            "ja",
        ),
    }


def fitted(texts: list[str], language: str) -> tuple[ThemeModel, list, list[str], float]:
    """The theme model fitted on ``texts``, their analyses, each text's strongest theme, and
    the fitting time in seconds."""
    analysed = TOKENIZER.analyse(texts, language)
    started = time.perf_counter()
    model = ThemeModel().fit(analysed, [language] * len(texts), texts)
    seconds = time.perf_counter() - started
    matches = model.match(texts, analysed, language)
    strongest = [max(m, key=lambda x: x.confidence).id for m in matches]
    return model, analysed, strongest, seconds


def label_failures(model: ThemeModel, texts: list[str], strongest: list[str], language: str):
    """Themes whose label is not written in at least three of the comments it holds."""
    failures = []
    for theme_id in set(strongest) - {OTHER}:
        label = model.label(theme_id).lower()
        members = [t for t, s in zip(texts, strongest, strict=True) if s == theme_id]
        found = sum(written_in(label, t, language) for t in members)
        if found < 3:
            failures.append(f"{label!r} ({found} of {len(members)})")
    return failures


def shape(data: Path, only: str | None = None) -> None:
    print("\n### Themes on small real surveys (automatic number of themes)\n")
    print(
        "| data | comments | themes | largest theme | other | labels in ≥ 3 of their "
        "comments | coherence (NPMI, top 5) | fit (s) | five largest themes |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (texts, language) in surveys(data).items():
        if only and only not in name:
            continue
        model, analysed, strongest, seconds = fitted(texts, language)
        counts = Counter(strongest)
        discovered = [t for t in counts if t != OTHER]
        largest = max((counts[t] for t in discovered), default=0) / len(texts)
        failures = label_failures(model, texts, strongest, language)
        coherence = theme_coherence(list(model.themes_.values()), analysed, [language] * len(texts))
        top = ", ".join(
            f"{model.label(t)} {n / len(texts):.0%}" for t, n in counts.most_common(6) if t != OTHER
        )
        print(
            f"| {name} | {len(texts):,} | {len(discovered)} | {largest:.1%} "
            f"| {counts.get(OTHER, 0) / len(texts):.1%} "
            f"| {len(discovered) - len(failures)}/{len(discovered)}"
            f"{' (fails: ' + '; '.join(failures) + ')' if failures else ''} "
            f"| {coherence:.3f} | {seconds:.1f} | {top} |"
        )


def nmi(data: Path) -> None:
    print("\n### Themes, NMI on banking77 test (3,080 queries, 77 intents)\n")
    print("| setting | themes | NMI |")
    print("|---|---|---|")
    test = pd.read_csv(data / "banking77" / "test.csv")
    texts = test["text"].astype(str).tolist()
    analysed = TOKENIZER.analyse(texts, "en")
    for name, settings in (("k = 77 (as benchmarks/text.py)", {"n_themes": 77}), ("automatic", {})):
        model = ThemeModel(min_texts=10, **settings).fit(analysed, ["en"] * len(texts), texts)
        matches = model.match(texts, analysed, "en")
        assigned = [max(m, key=lambda x: x.confidence).id for m in matches]
        n = len({t for t in assigned if t != OTHER})
        score = normalized_mutual_info_score(test["category"], assigned)
        print(f"| {name} | {n} | {score:.3f} |")


def spot(data: Path, per_theme: int = 12) -> None:
    texts, language = surveys(data)["nps-verbatims (EN telecom)"]
    model, _, strongest, _ = fitted(texts, language)
    counts = Counter(s for s in strongest if s != OTHER)
    rng = np.random.default_rng(0)
    for theme_id, n in counts.most_common(5):
        members = [t for t, s in zip(texts, strongest, strict=True) if s == theme_id]
        print(f"\n## {model.label(theme_id)} ({n} comments)")
        for i in rng.choice(len(members), size=min(per_theme, len(members)), replace=False):
            print(f"- {members[i][:200]}")


# Read, not scored: each sentence labelled by what its words say (requests neutral unless they
# praise or complain), whatever score its writer might give.
WORDS = [
    ("please add some free templates", "en", "neutral"),
    ("Please add more templates for retrospectives.", "en", "neutral"),
    ("It would be nice to have an offline mode.", "en", "neutral"),
    ("It would help if the export kept the layout.", "en", "neutral"),
    ("I wish there was a dark mode.", "en", "neutral"),
    ("Would be great to have better mobile support.", "en", "neutral"),
    ("Could you add keyboard shortcuts for alignment?", "en", "neutral"),
    ("Suggestion: let us export to PDF with links.", "en", "neutral"),
    ("I would like to see more integrations.", "en", "neutral"),
    ("Nothing. The product is a great tool and suitable for us. thank you.", "en", "positive"),
    ("Nothing to improve, it works really well for our team.", "en", "positive"),
    ("Great tool, easy to use and my whole team loves it.", "en", "positive"),
    ("The engineer was friendly and sorted everything quickly.", "en", "positive"),
    ("Love the mind maps, please add more shapes.", "en", "positive"),
    ("The app crashes constantly on my tablet and I lose work.", "en", "negative"),
    ("Far too expensive for what it does.", "en", "negative"),
    ("Customer service was terrible and nobody called back.", "en", "negative"),
    ("Still waiting for my installation after six weeks.", "en", "negative"),
    ("Please fix the sync, it is awful and loses my changes.", "en", "negative"),
    ("The free plan is too limited, I had to cancel.", "en", "negative"),
    ("テンプレートをもっと増やしてほしいです。", "ja", "neutral"),
    ("オフラインでも使えると嬉しいです。", "ja", "neutral"),
    ("ダークモードを希望します。", "ja", "neutral"),
    ("エクスポート機能が欲しい。", "ja", "neutral"),
    ("スマホアプリの改善を要望します。", "ja", "neutral"),
    ("とても使いやすくて満足しています。", "ja", "positive"),
    ("サポートの対応が丁寧で助かりました。", "ja", "positive"),
    ("使いやすいので、テンプレートを増やしてほしい。", "ja", "positive"),
    ("動作が遅くて困っています。", "ja", "negative"),
    ("料金が高すぎて不満です。", "ja", "negative"),
    ("何度も落ちるので改善してほしい。", "ja", "negative"),
    ("請求が二重になっていて最悪です。", "ja", "negative"),
]


def sentiment(data: Path) -> None:
    """Sentiment trained on the telecom verbatims' scores (oldest 80 %), before and after the
    words overrule the scores: agreement with the score on the newest 20 %, and accuracy on
    sentences labelled by reading them (WORDS)."""
    from sklearn.metrics import accuracy_score, f1_score

    from cxml.text.lexicon import LexiconScorer
    from cxml.text.pipeline import TextPipeline
    from cxml.text.sentiment import SentimentModel, _all_sentences_plain_requests, weak_labels

    nps = pd.read_csv(
        data / "nps-verbatims" / "nps_verbatims.csv", encoding_errors="replace"
    ).dropna(subset=["text", "NPS_SCORE"])
    frame = pd.DataFrame(
        {
            "text": nps["text"].astype(str),
            "nps": nps["NPS_SCORE"],
            "created_at": pd.to_datetime(
                nps["CUSTOMER_RESPONSE_DATE"], dayfirst=True, errors="coerce"
            ),
            "language": "en",
        }
    ).dropna(subset=["created_at"])
    frame = frame.sort_values("created_at", kind="stable").reset_index(drop=True)
    cut = int(len(frame) * 0.8)
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    score_label = np.select(
        [test["nps"] <= 6, test["nps"] <= 8], ["negative", "neutral"], "positive"
    )
    requests = _all_sentences_plain_requests(
        test["text"].tolist(), TOKENIZER.analyse(test["text"].tolist(), "en"), "en", LexiconScorer()
    )
    words = pd.DataFrame(WORDS, columns=["text", "language", "label"])
    print(
        "\n### Sentiment: agreement with the score and accuracy on the words "
        f"(telecom NPS verbatims, trained on the oldest {len(train):,}, graded on the newest "
        f"{len(test):,})\n"
    )
    print(
        "| sentiment | agreement with the score: macro-F1 (accuracy) | requests in the newest "
        "comments read as neutral | words, EN: accuracy (macro-F1) | words, JA: accuracy "
        "(macro-F1) | weak labels changed |"
    )
    print("|---|---|---|---|---|---|")
    # The served pipeline (shipped defaults where it learns nothing: Japanese here), and the
    # same pipeline with its English model trained as before: score labels taken as they are,
    # no request read as neutral.
    after = TextPipeline().fit(train)
    texts = train["text"].tolist()
    before_model = SentimentModel(requests_neutral=False, check_weak_labels=False).fit(
        texts,
        TOKENIZER.analyse(texts, "en"),
        ["en"] * len(texts),
        weak_labels(train).tolist(),
        train["created_at"].tolist(),
        weak=True,
    )
    before_model.defaults = after.sentiment_.defaults
    before = copy.copy(after)
    before.sentiment_ = before_model
    for name, pipeline in (
        ("before: scores decide", before),
        ("after: words overrule scores", after),
    ):
        predicted = np.array(
            [
                r["sentiment"]["label"]
                for r in pipeline.analyze(test["text"].tolist(), ["en"] * len(test))
            ]
        )
        cells = []
        for language in ("en", "ja"):
            part = words[words["language"] == language]
            labels = [
                r["sentiment"]["label"]
                for r in pipeline.analyze(part["text"].tolist(), part["language"].tolist())
            ]
            cells.append(
                f"{accuracy_score(part['label'], labels):.2f} "
                f"({f1_score(part['label'], labels, average='macro'):.2f})"
            )
        neutral = (predicted[requests] == "neutral").sum()
        changes = getattr(pipeline.sentiment_, "weak_label_changes_", {}).get("en", {})
        print(
            f"| {name} | {f1_score(score_label, predicted, average='macro'):.3f} "
            f"({accuracy_score(score_label, predicted):.3f}) | {neutral}/{requests.sum()} "
            f"| {cells[0]} | {cells[1]} | {changes or '—'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", choices=["shape", "nmi", "spot", "sentiment"])
    parser.add_argument("--survey", help="shape: only the surveys whose name holds this")
    args = parser.parse_args()
    if args.only in (None, "shape"):
        shape(args.data, args.survey)
    if args.only in (None, "nmi"):
        nmi(args.data)
    if args.only in (None, "sentiment"):
        sentiment(args.data)
    if args.only == "spot":
        spot(args.data)


if __name__ == "__main__":
    main()
