"""Grading a text pipeline on comments it did not learn from: the yardstick of the text gate.

The held-out comments are the newest ones (a time-based split, like the churn backtest), kept
as redacted text with their sentiment label (the user's label column, or the weak label from
the comment's own score), so any version can be graded on exactly the same comments later.

Grades, each higher-is-better and in [0, 1] or [−1, 1]:

- ``sentiment_macro_f1`` (and ``sentiment_accuracy``): the comment's sentiment against its
  label, over the held-out comments that have one. With weak labels this is agreement with
  the score, not accuracy on the words: a request scored 9 is read as neutral and counts as
  a miss here (benchmarks/themes.py grades the words separately).
- ``theme_coverage``: share of held-out comments given a theme other than ``other``.
- ``theme_largest_share`` (reported, not gated; lower is better): share of held-out comments
  whose strongest theme is the largest theme: a catch-all theme shows here.
- ``theme_coherence``: mean NPMI of each discovered theme's top terms, counted in the held-out
  comments (Bouma's normalised PMI; a pair never seen together scores −1, so a theme whose
  words no longer occur in new comments is graded low). Taxonomy themes are the user's words
  and are not graded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxml.text.nlp import Analysed, Tokenizer
from cxml.text.redact import redacted
from cxml.text.sentiment import LABELS, weak_labels
from cxml.text.themes import OTHER, mean_npmi, theme_terms

GATE_METRICS = ("sentiment_macro_f1", "theme_coverage", "theme_coherence")
HELDOUT_COLUMNS = ["feedback_id", "created_at", "language", "text", "label"]
_COHERENCE_TERMS = 5


@dataclass(frozen=True)
class Split:
    """The comments a pipeline learns from and the newest ones it is graded on."""

    train: pd.DataFrame
    heldout: pd.DataFrame  # HELDOUT_COLUMNS: redacted text and the label to grade against
    how: str  # "newest 20 % (from 2025-05-01)", or why there is none


def labels_for(frame: pd.DataFrame, label_column: str | None) -> pd.Series:
    """The sentiment label each comment is graded against: the label column's value
    (positive/neutral/negative, else None), or the weak label from its score."""
    if label_column:
        values = frame[label_column].astype(object)
        labels = values.map(lambda v: str(v).strip().lower() if isinstance(v, str) else None)
        return labels.where(labels.isin(LABELS), None)
    return weak_labels(frame)


def holdout_split(
    frame: pd.DataFrame,
    *,
    label_column: str | None = None,
    time_column: str = "created_at",
    share: float = 0.2,
    max_rows: int = 20_000,
    min_rows: int = 50,
    random_state: int = 0,
) -> Split:
    """Hold out the newest ``share`` of the comments with text (at most ``max_rows``), or a
    seeded random share when the frame has no time column. Fewer than ``min_rows`` held-out
    comments: no split (everything trains, nothing is graded)."""
    has_text = frame["text"].astype(object).fillna("").astype(str).str.strip() != ""
    texts = frame.loc[has_text]
    n_heldout = min(int(len(texts) * share), max_rows)
    if n_heldout < min_rows:
        return Split(
            frame,
            pd.DataFrame(columns=HELDOUT_COLUMNS),
            f"none: {len(texts):,} comments are too few to hold out {min_rows} for grading",
        )
    if time_column in texts.columns:
        when = pd.to_datetime(texts[time_column], errors="coerce")
        order = np.lexsort((np.arange(len(texts)), when.to_numpy(dtype="datetime64[ns]")))
        held = texts.iloc[order[-n_heldout:]]
        start = pd.to_datetime(held[time_column]).min()
        how = f"the newest {n_heldout:,} comments (from {start:%Y-%m-%d %H:%M})"
    else:
        held = texts.sample(n_heldout, random_state=random_state)
        how = f"a random {n_heldout:,} comments (no {time_column} column to split by time)"
    train = frame.drop(index=held.index)
    heldout = pd.DataFrame(
        {
            "feedback_id": held["feedback_id"].astype(str)
            if "feedback_id" in held.columns
            else held.index.astype(str),
            "created_at": held[time_column].astype(str) if time_column in held.columns else None,
            "language": held["language"].astype(object).where(held["language"].notna(), None)
            if "language" in held.columns
            else None,
            "text": redacted(held["text"].astype(str).tolist()),
            "label": labels_for(held, label_column).to_numpy(dtype=object),
        }
    ).reset_index(drop=True)
    return Split(train, heldout, how)


def heldout_documents(heldout: pd.DataFrame, languages: Sequence[str | None]) -> list[Analysed]:
    """The held-out comments tokenised once, by one plain tokenizer, so every pipeline's
    themes are counted in the same words."""
    tokenizer = Tokenizer()
    out: list[Analysed | None] = [None] * len(heldout)
    groups: dict[str, list[int]] = {}
    for i, language in enumerate(languages):
        groups.setdefault(language or "xx", []).append(i)
    texts = heldout["text"].tolist()
    for language, index in groups.items():
        for i, record in zip(
            index, tokenizer.analyse([texts[i] for i in index], language), strict=True
        ):
            out[i] = record
    return [r if r is not None else Analysed((), ((0, 0),), ()) for r in out]


def theme_coherence(
    themes: Sequence[Any], documents: Sequence[Analysed], languages: Sequence[str | None]
) -> float:
    """Mean NPMI of each discovered theme's top terms over the documents of its language
    (NaN when there is no discovered theme)."""
    by_language: dict[str, list[set[str]]] = {}
    for record, language in zip(documents, languages, strict=True):
        if language:
            by_language.setdefault(language, []).append(set(theme_terms(record, language)))
    scores = []
    for theme in themes:
        if theme.kind != "discovered":
            continue
        docs = by_language.get(theme.language or "", [])
        terms = list(theme.terms)[:_COHERENCE_TERMS]
        if len(terms) < 2:
            continue
        scores.append(_npmi(terms, docs))
    return float(np.mean(scores)) if scores else float("nan")


def _npmi(terms: list[str], docs: list[set[str]]) -> float:
    """Mean normalised PMI over the pairs of ``terms``, by document co-occurrence."""
    n = len(docs)
    if n == 0:
        return -1.0
    present = np.array([[t in d for t in terms] for d in docs], dtype=np.float64)
    return mean_npmi(present.T @ present / n)


def grade_text(
    pipeline: Any,
    heldout: pd.DataFrame,
    documents: Sequence[Analysed] | None = None,
) -> dict[str, float]:
    """A fitted pipeline's grades on held-out comments (see the module's docstring); grades
    that cannot be computed (no labels, no discovered theme) are NaN."""
    from sklearn.metrics import accuracy_score, f1_score

    if heldout.empty:
        return {
            name: float("nan")
            for name in (*GATE_METRICS, "sentiment_accuracy", "theme_largest_share")
        } | {
            "heldout": 0.0,
            "heldout_labelled": 0.0,
        }
    languages = heldout["language"].tolist()
    results = pipeline.analyze(heldout["text"].tolist(), languages)
    chosen = [r["language"] for r in results]
    gold = heldout["label"].tolist()
    pairs = [
        (label, r["sentiment"]["label"])
        for label, r in zip(gold, results, strict=True)
        if isinstance(label, str) and r["sentiment"]
    ]
    if pairs:
        truth, predicted = zip(*pairs, strict=True)
        macro_f1 = float(f1_score(truth, predicted, labels=list(LABELS), average="macro"))
        accuracy = float(accuracy_score(truth, predicted))
    else:
        macro_f1 = accuracy = float("nan")
    analysed = [r for r in results if r["themes"]]
    coverage = (
        sum(any(t["id"] != OTHER for t in r["themes"]) for r in analysed) / len(analysed)
        if analysed
        else float("nan")
    )
    strongest = [
        max(r["themes"], key=lambda t: t["confidence"])["id"]
        for r in analysed
        if any(t["id"] != OTHER for t in r["themes"])
    ]
    sizes = pd.Series(strongest, dtype=object).value_counts()
    largest = float(sizes.iloc[0]) / len(analysed) if len(sizes) and analysed else float("nan")
    documents = documents if documents is not None else heldout_documents(heldout, chosen)
    coherence = theme_coherence(list(pipeline.themes_.themes_.values()), documents, chosen)
    return {
        "sentiment_macro_f1": macro_f1,
        "sentiment_accuracy": accuracy,
        "theme_coverage": float(coverage),
        "theme_coherence": coherence,
        "theme_largest_share": largest,
        "heldout": float(len(heldout)),
        "heldout_labelled": float(len(pairs)),
    }


def compare_text(
    challenger: dict[str, float], champion: dict[str, float], tolerance: float
) -> tuple[bool, list[str]]:
    """Whether the challenger is at least as good as the champion (within ``tolerance``) on
    every gate metric both have, and one line per metric saying how they compare."""
    ok = True
    lines = []
    for name in GATE_METRICS:
        new, old = challenger.get(name, float("nan")), champion.get(name, float("nan"))
        if new != new or old != old:
            lines.append(f"{name}: not compared (challenger {new:.4f}, champion {old:.4f})")
            continue
        if new < old - tolerance:
            ok = False
            lines.append(f"{name}: {new:.4f} is below the champion's {old:.4f} by {old - new:.4f}")
        else:
            lines.append(f"{name}: {new:.4f} against the champion's {old:.4f}")
    compared = [
        n
        for n in GATE_METRICS
        if challenger.get(n, np.nan) == challenger.get(n, np.nan)
        and champion.get(n, np.nan) == champion.get(n, np.nan)
    ]
    if not compared:
        return False, [*lines, "no grade in common: nothing says the challenger is as good"]
    return ok, lines


LINEAGE_EVENTS = ("kept", "renamed", "merged", "split", "new", "retired", "folded")


def lineage_lines(lineage: Sequence[dict[str, Any]]) -> list[str]:
    """What a retrain did to the themes, for a person deciding on promotion: one summary line
    of counts, then one line per theme that did not simply stay."""
    counts = dict.fromkeys(LINEAGE_EVENTS, 0)
    for entry in lineage:
        counts[entry["event"]] = counts.get(entry["event"], 0) + 1
    lines = [", ".join(f"{n} {event}" for event, n in counts.items() if n) or "no themes"]
    for entry in lineage:
        event = entry["event"]
        if event == "renamed":
            lines.append(f"  renamed {entry['id']}: “{entry['was']}” → “{entry['label']}”")
        elif event == "merged":
            lines.append(f"  merged {entry['id']} (“{entry['was']}”) into {entry['into']}")
        elif event == "split":
            lines.append(
                f"  split {entry['id']} (“{entry['was']}”) into {', '.join(entry['into'])}"
            )
        elif event == "new":
            lines.append(f"  new {entry['id']}: “{entry['label']}”")
        elif event == "retired":
            lines.append(f"  retired {entry['id']} (“{entry['was']}”)")
    return lines
