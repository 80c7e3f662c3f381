"""People teach the churn-intent detector: their corrections, and the taxonomy's example
phrases, on top of the shipped detector.

Why an overlay and not a refit: the shipped detector (``models/leave.joblib``) is trained on
our written clauses and BANKING77, and BANKING77 does not ship with the package. Refitting on
the shipped clauses alone lowers English precision on the churn-intent dev set (0.77 → 0.72
at the same recall; Japanese unchanged; measured 2026-12-06), so `cxml train text` keeps the
shipped detector and lays what people taught on top: a clause close enough to a corrected
clause (cosine similarity of character 2–4-grams ≥ ``similarity``) takes that correction's
verdict (``not``: the detection is dropped; a kind: leave, of that kind). With nothing
taught the detector is the shipped one, unchanged.

Taxonomy (``churn_intent`` section of the taxonomy YAML)::

    churn_intent:
      kinds: [downgrade]              # kinds besides the built-in six
      examples:
        en:
          switch: ["moving our lines to another carrier"]
          downgrade: ["dropping to the free plan"]
          not: ["my flight was cancelled again"]    # not a churn intent
        ja:
          switch: ["他社の回線に乗り換えます"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxml.errors import ConfigError
from cxml.text.leave import KINDS, LeaveDetector, leave_hit, split_clauses
from cxml.text.nlp import Analysed

NOT = "not"
#: Fewer corrections than this: all of them are taught and none held out, so their effect is
#: not measured (a grade on two or three comments would say nothing).
MIN_CORRECTIONS = 10
#: The newest share of corrections held out to grade the taught detector.
HELDOUT_SHARE = 0.3


@dataclass(frozen=True)
class ChurnIntentConfig:
    """The taxonomy's ``churn_intent`` section: extra kinds, and example phrases per language
    and kind (``not`` for phrases that are not a churn intent)."""

    kinds: tuple[str, ...] = ()
    examples: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def all_kinds(self) -> tuple[str, ...]:
        """The built-in kinds, then the configured ones."""
        return tuple(KINDS) + tuple(k for k in self.kinds if k not in KINDS)

    def example_frame(self) -> pd.DataFrame:
        """The examples as taught clauses: text, language, verdict."""
        rows = [
            {"text": text, "language": language, "verdict": verdict}
            for language, by_verdict in self.examples.items()
            for verdict, texts in by_verdict.items()
            for text in texts
        ]
        return pd.DataFrame(rows, columns=["text", "language", "verdict"])


def churn_intent_config(data: Any, source: str = "taxonomy") -> ChurnIntentConfig:
    """Read and check a taxonomy's ``churn_intent`` section; every problem is listed at once
    (ConfigError, code CX103)."""
    if data is None:
        return ChurnIntentConfig()
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: churn_intent must be a mapping with kinds and examples", code="CX103"
        )
    kinds = data.get("kinds") or []
    if not isinstance(kinds, list) or not all(isinstance(k, str) and k.strip() for k in kinds):
        problems.append("churn_intent.kinds must be a list of names, e.g. [downgrade]")
        kinds = []
    allowed = set(KINDS) | set(kinds) | {NOT}
    examples: dict[str, dict[str, list[str]]] = {}
    raw = data.get("examples") or {}
    if not isinstance(raw, dict):
        problems.append("churn_intent.examples must map a language to {kind: [phrases]}")
        raw = {}
    for language, by_kind in raw.items():
        if not isinstance(by_kind, dict):
            problems.append(f"churn_intent.examples.{language} must map a kind to phrases")
            continue
        for kind, phrases in by_kind.items():
            if kind not in allowed:
                problems.append(
                    f"churn_intent.examples.{language}: kind {kind!r} is not one of "
                    f"{', '.join(sorted(allowed))} (add it to churn_intent.kinds)"
                )
                continue
            if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
                problems.append(f"churn_intent.examples.{language}.{kind} must be a list of text")
                continue
            examples.setdefault(str(language), {})[str(kind)] = [p for p in phrases if p.strip()]
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems), code="CX103")
    return ChurnIntentConfig(kinds=tuple(str(k) for k in kinds), examples=examples)


class TaughtLeaveDetector(LeaveDetector):
    """The shipped (or given) churn-intent detector with what people taught laid on top.

    ``fit(clauses, languages, verdicts)``: taught clauses with their verdict (``not`` or a
    kind). A text's clause (or the whole text) whose nearest taught clause in the same
    language has cosine similarity ≥ ``similarity`` takes its verdict. ``base``: the detector
    underneath (default: the shipped one). Hand it to a text pipeline inside ``FrozenLeave``
    (the pipeline clones its parts, which would forget what was taught).
    """

    _fit_call = "fit(clauses, languages, verdicts)"

    def __init__(self, *, base: LeaveDetector | None = None, similarity: float = 0.7) -> None:
        self.base = base
        self.similarity = similarity

    def fit(  # type: ignore[override]  # taught clauses carry verdicts, not labels and kinds
        self,
        clauses: Sequence[str],
        languages: Sequence[str],
        verdicts: Sequence[str],
        analysed: Sequence[Analysed] | None = None,
    ) -> TaughtLeaveDetector:
        """Index the taught clauses per language (character 2–4-grams, hashed, L2-normed)."""
        from sklearn.feature_extraction.text import HashingVectorizer

        from cxml.text.intents import load_default_leave

        self._forget()
        if not 0 < self.similarity <= 1:
            raise ConfigError(f"similarity={self.similarity} must be in (0, 1]")
        if not (len(clauses) == len(languages) == len(verdicts)):
            raise ConfigError("TaughtLeaveDetector.fit: clauses, languages and verdicts differ")
        self.base_: LeaveDetector = self.base or load_default_leave()
        self.taught_: dict[str, tuple[Any, Any, list[str]]] = {}
        frame = pd.DataFrame(  # object columns: nothing taught is an empty frame, not floats
            {"text": [str(c) for c in clauses], "language": languages, "verdict": verdicts},
            dtype=object,
        )
        frame = frame[frame["text"].str.strip() != ""].drop_duplicates(
            ["text", "language"], keep="last"
        )
        for language, group in frame.groupby("language"):
            # Hashed, not a vocabulary of the taught clauses: every n-gram of a new clause
            # counts in its norm, so sharing "cancel my" alone is not closeness.
            vectorizer = HashingVectorizer(
                analyzer="char_wb", ngram_range=(2, 4), n_features=2**20, alternate_sign=False
            )
            matrix = vectorizer.transform(group["text"].tolist())
            self.taught_[str(language)] = (vectorizer, matrix, group["verdict"].tolist())
        self.n_taught_ = len(frame)
        return self

    def _nearest(self, units: list[str], language: str) -> tuple[np.ndarray, list[str | None]]:
        """Per unit: the similarity of its nearest taught clause and that clause's verdict."""
        if language not in self.taught_ or not units:
            return np.zeros(len(units)), [None] * len(units)
        vectorizer, matrix, verdicts = self.taught_[language]
        similarity = (vectorizer.transform(units) @ matrix.T).toarray()
        best = similarity.argmax(axis=1)
        return similarity[np.arange(len(units)), best], [verdicts[i] for i in best]

    def detect(
        self,
        texts: Sequence[str],
        language: str | None,
        analysed: Sequence[Analysed] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The base detector's findings, corrected by what was taught; same shape."""
        self._check_fitted("taught_")
        found = self.base_.detect(texts, language, analysed)
        key = language or "en"
        if key not in self.taught_:
            return found
        owners: list[int] = []
        spans: list[tuple[int, int]] = []
        for i, text in enumerate(texts):
            clauses = split_clauses(text)
            units = clauses if len(clauses) == 1 else [*clauses, (0, len(text))]
            owners.extend([i] * len(units))
            spans.extend(units)
        similarity, verdicts = self._nearest(
            [texts[i][s:e] for i, (s, e) in zip(owners, spans, strict=True)], key
        )
        out = [list(hits) for hits in found]
        for i, (start, end), score, verdict in zip(
            owners, spans, similarity, verdicts, strict=True
        ):
            if verdict is None or score < self.similarity:
                continue
            if verdict == NOT:
                out[i] = [h for h in out[i] if h["end"] <= start or h["start"] >= end]
                continue
            inside = [h for h in out[i] if h["start"] < end and h["end"] > start]
            for hit in inside:
                hit["kind"] = verdict
            if not inside:
                out[i].append(leave_hit(verdict, score, start, end))
        for hits in out:
            hits.sort(key=lambda hit: -hit["confidence"])
        return out


class FrozenLeave(LeaveDetector):
    """A fitted churn-intent detector handed to a text pipeline as it is: cloning returns it,
    ``fit`` learns nothing (scikit-learn's ``FrozenEstimator``, typed as a ``LeaveDetector``
    so ``IntentDetector(leave=...)`` takes it)."""

    def __init__(self, detector: LeaveDetector) -> None:
        self.detector = detector

    def __sklearn_clone__(self) -> FrozenLeave:
        """Itself: what was learned is the point."""
        return self

    def fit(self, *args: Any, **kwargs: Any) -> FrozenLeave:
        """Nothing to learn: the detector came fitted."""
        return self

    def detect(
        self,
        texts: Sequence[str],
        language: str | None,
        analysed: Sequence[Analysed] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The frozen detector's findings."""
        return self.detector.detect(texts, language, analysed)


@dataclass(frozen=True)
class HeldoutGrade:
    """Precision and recall of ``leave`` on held-out corrections (None when undefined)."""

    corrections: int
    leave: int
    precision: float | None
    recall: float | None


def heldout_split(corrections: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(taught before grading, held out, how): the newest ``HELDOUT_SHARE`` of the
    corrections, by the time they were made, are held out; with fewer than
    ``MIN_CORRECTIONS`` none are (all are taught, and their effect is not measured)."""
    ordered = corrections.sort_values(["created_at", "correction_id"], kind="stable")
    if len(ordered) < MIN_CORRECTIONS:
        which = "the one" if len(ordered) == 1 else f"all {len(ordered)}"
        return (
            ordered,
            ordered.iloc[:0],
            f"{which} used for training, none held out: too few to measure their effect "
            f"(need {MIN_CORRECTIONS})",
        )
    n_heldout = max(1, round(HELDOUT_SHARE * len(ordered)))
    return (
        ordered.iloc[:-n_heldout],
        ordered.iloc[-n_heldout:],
        f"the newest {n_heldout} of {len(ordered)} corrections held out",
    )


def leave_grade(detector: LeaveDetector, heldout: pd.DataFrame) -> HeldoutGrade:
    """How ``detector`` reads the held-out corrected comments: leave or not, against the
    people's verdicts (any kind = leave)."""
    truth = (heldout["verdict"] != NOT).to_numpy(dtype=bool)
    predicted = np.zeros(len(heldout), dtype=bool)
    for language, index in heldout.groupby(heldout["language"].fillna("en")).indices.items():
        texts = heldout["text"].iloc[index].astype(str).tolist()
        predicted[index] = [bool(hits) for hits in detector.detect(texts, str(language))]
    tp = int((truth & predicted).sum())
    return HeldoutGrade(
        corrections=len(heldout),
        leave=int(truth.sum()),
        precision=tp / int(predicted.sum()) if predicted.any() else None,
        recall=tp / int(truth.sum()) if truth.any() else None,
    )


def taught_clauses(corrections: pd.DataFrame) -> pd.DataFrame:
    """The clause each correction teaches: its span of the redacted comment, or the whole
    comment. Columns: text, language, verdict."""
    if corrections.empty:
        return pd.DataFrame(columns=["text", "language", "verdict"])
    texts = [
        str(text)[int(s) : int(e)] if pd.notna(s) and pd.notna(e) else str(text)
        for text, s, e in zip(
            corrections["text"], corrections["span_start"], corrections["span_end"], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "text": texts,
            "language": corrections["language"].fillna("en").tolist(),
            "verdict": corrections["verdict"].tolist(),
        }
    )


@dataclass(frozen=True)
class TaughtLeave:
    """What `cxml train text` learned from people: the detector to use (None: nothing was
    taught, the shipped one stays), and its grade on the held-out corrections (None: too few
    to hold some out)."""

    detector: TaughtLeaveDetector | None
    corrections: int
    taught: int
    examples: int
    how: str
    before: HeldoutGrade | None
    after: HeldoutGrade | None

    def metrics(self) -> dict[str, float]:
        """The grades as MLflow metrics (undefined ones left out)."""
        out: dict[str, float] = {
            "corrections": float(self.corrections),
            "corrections_taught": float(self.taught),
            "taxonomy_examples": float(self.examples),
        }
        for name, grade in (("shipped", self.before), ("taught", self.after)):
            if grade is None:
                continue
            out["corrections_heldout"] = float(grade.corrections)
            if grade.precision is not None:
                out[f"corrections_leave_precision_{name}"] = grade.precision
            if grade.recall is not None:
                out[f"corrections_leave_recall_{name}"] = grade.recall
        return out

    def report(self) -> dict[str, Any]:
        """The run's account of it, as JSON-ready values."""

        def grade(g: HeldoutGrade | None) -> dict[str, Any] | None:
            return None if g is None else asdict(g)

        return {
            "summary": self.summary(),
            "corrections": self.corrections,
            "taught_before_grading": self.taught,
            "taxonomy_examples": self.examples,
            "heldout": self.how,
            "shipped": grade(self.before),
            "taught": grade(self.after),
        }

    def summary(self) -> str:
        """One line for the run's output."""
        shipped = "the shipped churn-intent detector is used"
        if self.detector is None:
            if not self.corrections:
                return f"no intent corrections yet: {shipped}"
            return f"intent corrections: {self.corrections}, none with text to teach: {shipped}"
        if not self.corrections:
            return f"no intent corrections yet; {self.examples} taxonomy example phrases taught"
        examples = f"; {self.examples} taxonomy example phrases taught" if self.examples else ""
        if self.before is None:
            return f"intent corrections: {self.how}{examples}"

        def pr(grade: HeldoutGrade | None) -> str:
            if grade is None:
                return "–"
            p = "–" if grade.precision is None else f"{grade.precision:.2f}"
            r = "–" if grade.recall is None else f"{grade.recall:.2f}"
            return f"P {p} / R {r}"

        return (
            f"intent corrections: {self.corrections} ({self.how}); leave on the held-out ones: "
            f"shipped {pr(self.before)}, taught {pr(self.after)}{examples}"
        )


def teach_leave(
    corrections: pd.DataFrame,
    config: ChurnIntentConfig | None = None,
    base: LeaveDetector | None = None,
) -> TaughtLeave:
    """Hold out the newest corrections, teach the rest and the taxonomy's examples on top of
    ``base`` (default: the shipped detector), and grade before and after on the held-out ones.

    ``corrections``: the current leave corrections (``cxml.store.corrections``), columns
    correction_id, text, language, verdict, span_start, span_end, created_at. The returned
    detector was taught every correction (the held-out ones too: the grade is from the
    detector taught only the older ones). Fewer than ``MIN_CORRECTIONS``: none are held out
    and there is no grade. Nothing to teach (no correction or example with text): no
    detector, the shipped one stays."""
    from cxml.text.intents import load_default_leave

    config = config or ChurnIntentConfig()
    examples = config.example_frame()
    if corrections.empty:
        corrections = pd.DataFrame(columns=["text", "language", "verdict"])
        older, heldout, how = corrections, corrections, "no intent corrections yet"
    else:
        older, heldout, how = heldout_split(corrections)
    teachable = pd.concat([examples, taught_clauses(corrections)], ignore_index=True)
    if not teachable["text"].astype(str).str.strip().ne("").any():
        return TaughtLeave(None, len(corrections), 0, len(examples), how, None, None)
    shipped = base or load_default_leave()

    def taught(rows: pd.DataFrame) -> TaughtLeaveDetector:
        clauses = pd.concat([examples, taught_clauses(rows)], ignore_index=True)
        return TaughtLeaveDetector(base=shipped).fit(
            clauses["text"].tolist(), clauses["language"].tolist(), clauses["verdict"].tolist()
        )

    before = after = None
    if not heldout.empty:
        before = leave_grade(shipped, heldout)
        after = leave_grade(taught(older), heldout)
    return TaughtLeave(
        detector=taught(corrections),
        corrections=len(corrections),
        taught=len(older),
        examples=len(examples),
        how=how,
        before=before,
        after=after,
    )


def taxonomy_config(taxonomy: Any) -> ChurnIntentConfig:
    """A taxonomy's churn-intent section (empty for none, or one pickled before it existed)."""
    config = getattr(taxonomy, "churn_intent", None) if taxonomy is not None else None
    return config if isinstance(config, ChurnIntentConfig) else ChurnIntentConfig()


def pipeline_kinds(pipeline: Any) -> tuple[str, ...]:
    """The churn-intent kinds a fitted text pipeline knows: the built-in ones plus its
    taxonomy's (the defaults: the built-in ones)."""
    themes = getattr(pipeline, "themes_", None)
    return taxonomy_config(getattr(themes, "taxonomy", None)).all_kinds
