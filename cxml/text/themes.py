"""Themes: discovered from the data (NMF over lemmas and neighbouring-word pairs, per language) plus
a taxonomy users edit.

Taxonomy YAML (versioned by its ``version`` field)::

    version: 3
    themes:
      - id: billing            # stable forever; pinned themes never change id
        label: Billing
        pinned: true
        keywords: {en: [bill, invoice, charge, refund], ja: [請求, 料金, 返金]}
        patterns: {en: ['double[- ]charg\\w*']}
      - id: outage
        merge: [network]       # this theme absorbs another's keywords and id
    intents:
      cancel: {en: ['\\bcancel\\w*'], ja: ['解約']}

Keywords match lemmas (English) or words and substrings (Japanese); patterns are
regular expressions on the text. Discovered themes whose top terms overlap a
taxonomy theme's keywords are folded into it, which is how English and Japanese
comments about one thing land in one theme. Retraining with ``reference_themes`` keeps
ids of themes that stay the same and records a lineage: kept, renamed, merged,
split, new, retired.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxml.errors import ConfigError
from cxml.estimator import Estimator
from cxml.text.nlp import Analysed, identity

OTHER = "other"


@dataclass
class TaxonomyTheme:
    """One user-defined theme."""

    id: str
    label: str
    keywords: dict[str, list[str]] = field(default_factory=dict)
    patterns: dict[str, list[str]] = field(default_factory=dict)
    pinned: bool = True


@dataclass
class Taxonomy:
    """The user's themes and intent patterns, as read from YAML."""

    themes: list[TaxonomyTheme] = field(default_factory=list)
    intents: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    version: int = 1
    merged: dict[str, str] = field(default_factory=dict)  # a merged theme's id -> the one it is in

    @classmethod
    def from_yaml(cls, path: Path | str) -> Taxonomy:
        """Read and check a taxonomy file; errors name the theme and field."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the taxonomy: {exc}", code="CX103") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "taxonomy") -> Taxonomy:
        """Build from a parsed YAML mapping, applying ``merge`` entries."""
        themes: dict[str, TaxonomyTheme] = {}
        merges: dict[str, list[str]] = {}
        for i, entry in enumerate(data.get("themes") or []):
            if not isinstance(entry, dict) or not entry.get("id"):
                raise ConfigError(f"{source}: theme #{i + 1} needs an id", code="CX103")
            theme_id = str(entry["id"])
            if theme_id in themes:
                raise ConfigError(f"{source}: theme id {theme_id!r} appears twice", code="CX103")
            for key in ("keywords", "patterns"):
                value = entry.get(key) or {}
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"{source}: theme {theme_id!r}: {key} must map a language to a list, "
                        "e.g. {en: [bill], ja: [請求]}",
                        code="CX103",
                    )
                for language, items in value.items():
                    if key == "patterns":
                        for item in items:
                            try:
                                re.compile(item)
                            except re.error as exc:
                                raise ConfigError(
                                    f"{source}: theme {theme_id!r}: pattern {item!r} ({language}) "
                                    f"is not a valid regular expression: {exc}",
                                    code="CX103",
                                ) from exc
            themes[theme_id] = TaxonomyTheme(
                id=theme_id,
                label=str(entry.get("label") or theme_id),
                keywords={
                    k: [str(x).lower() for x in v] for k, v in (entry.get("keywords") or {}).items()
                },
                patterns={k: [str(x) for x in v] for k, v in (entry.get("patterns") or {}).items()},
                pinned=bool(entry.get("pinned", True)),
            )
            if entry.get("merge"):
                merges[theme_id] = [str(m) for m in entry["merge"]]
        for target, sources in merges.items():
            for merged in sources:
                absorbed = themes.pop(merged, None)
                if absorbed is None:
                    raise ConfigError(
                        f"{source}: theme {target!r} merges unknown theme {merged!r}", code="CX103"
                    )
                for language, words in absorbed.keywords.items():
                    themes[target].keywords.setdefault(language, []).extend(words)
                for language, items in absorbed.patterns.items():
                    themes[target].patterns.setdefault(language, []).extend(items)
        return cls(
            themes=list(themes.values()),
            intents=dict(data.get("intents") or {}),
            version=int(data.get("version", 1)),
            merged={merged: target for target, sources in merges.items() for merged in sources},
        )


@dataclass
class Theme:
    """A theme as the model knows it."""

    id: str
    label: str
    language: str | None
    kind: str  # "taxonomy" or "discovered"
    terms: dict[str, float] = field(default_factory=dict)


@dataclass
class Match:
    """A theme found in one text, with its confidence and evidence span."""

    id: str
    confidence: float
    start: int
    end: int


# Greetings, fillers and sign-offs: frequent in customer messages, never a theme.
DISCOURSE_WORDS = {
    "en": {
        "hi",
        "hello",
        "hey",
        "dear",
        "thanks",
        "thank",
        "regards",
        "please",
        "honestly",
        "well",
        "sent",
        "ok",
        "okay",
        "yes",
        "lol",
        "sir",
        "madam",
    },
    "ja": {
        "いつも",
        "世話",
        "いつもお世話",
        "正直",
        "お願い",
        "よろしく",
        "こんにちは",
        "送信",
        "スマートフォン",
        "本日",
    },
}


def theme_terms(record: Analysed, language: str) -> list[str]:
    """The terms a text contributes to theme discovery: content words and multi-word phrases."""
    stop = DISCOURSE_WORDS.get(language, set())
    terms = [t.norm for t in record.terms if t.norm not in stop]
    phrases = [
        p.norm for p in record.phrases if (" " in p.norm or language == "ja") and p.norm not in stop
    ]
    return terms + [p for p in phrases if not any(w in stop for w in p.split(" "))]


PAIR = "+"  # joins neighbouring terms into a pair feature ("card+arrive"); never in a label


def discovery_terms(record: Analysed, language: str, *, pairs: bool = True) -> list[str]:
    """What a text offers the factorisation: its theme terms and, with ``pairs``, each two
    neighbouring content words ("card+arrive" tells "card not arrived" from "card declined")."""
    terms = theme_terms(record, language)
    if not pairs:
        return terms
    stop = DISCOURSE_WORDS.get(language, set())
    words = [t.norm for t in record.terms if t.norm not in stop]
    return terms + [f"{a}{PAIR}{b}" for a, b in itertools.pairwise(words)]


def _readable_label(terms: list[str], typical: Sequence[Analysed], language: str) -> str:
    """A label a person would write: the phrases the theme's most typical comments use most
    (those holding one of its top terms), two at most — "Download speed, night" rather than
    "night / speed / download". Falls back to the top terms when no phrase recurs."""
    top = terms[:6]
    stop = DISCOURSE_WORDS.get(language, set())

    def related(norm: str) -> bool:
        if language == "ja":
            return any(t in norm or norm in t for t in top)
        words = set(norm.split(" "))
        return bool(words & {w for t in top for w in t.split(" ")})

    counts: dict[str, int] = {}
    for record in typical:
        seen = {p.norm for p in record.phrases if p.norm not in stop and related(p.norm)}
        for norm in seen:
            counts[norm] = counts.get(norm, 0) + 1
    ranked = sorted(
        (n for n, c in counts.items() if c >= 3),
        key=lambda n: (-counts[n] * (1 + n.count(" ")), n),
    )
    chosen: list[str] = []
    for norm in ranked:
        parts = set(norm.split(" ")) if language != "ja" else {norm}
        if any(parts & (set(c.split(" ")) if language != "ja" else {c}) for c in chosen):
            continue
        if language == "ja" and any(norm in c or c in norm for c in chosen):
            continue
        chosen.append(norm)
        if len(chosen) == 2:
            break
    if not chosen:
        return " / ".join(top[:3])
    if language == "ja":
        return "・".join(chosen)
    label = ", ".join(chosen)
    return label[:1].upper() + label[1:]


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    common = set(a) & set(b)
    if not common:
        return 0.0
    dot = sum(a[t] * b[t] for t in common)
    return dot / (np.sqrt(sum(v * v for v in a.values())) * np.sqrt(sum(v * v for v in b.values())))


class ThemeModel(Estimator):
    """Finds themes in texts: taxonomy rules first, then themes discovered per language.

    ``n_themes`` per language (None: about one per 200 texts, 5 to 30);
    ``reference_themes`` are the themes of an earlier model (the champion's
    ``themes_.values()``), whose ids are kept where a theme is the same (cosine of top-term
    weights ≥ ``keep_similarity``).
    """

    _fit_call = "fit(analysed, languages)"

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        n_themes: int | None = None,
        reference_themes: Sequence[Theme] | None = None,
        top_terms: int = 12,
        min_texts: int = 40,
        keep_similarity: float = 0.5,
        min_confidence: float = 0.25,
        random_state: int = 0,
        representation: str = "nmf",
        pairs: bool = True,
    ) -> None:
        self.taxonomy = taxonomy
        self.n_themes = n_themes
        self.reference_themes = reference_themes
        self.top_terms = top_terms
        self.min_texts = min_texts
        self.keep_similarity = keep_similarity
        self.min_confidence = min_confidence
        self.random_state = random_state
        self.representation = representation
        self.pairs = pairs

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models pickled before 0.2 kept the earlier model itself as ``previous``.
        state.pop("previous", None)
        state.setdefault("reference_themes", None)
        state.setdefault("representation", "nmf")
        state.setdefault("pairs", False)  # fitted without pair features
        super().__setstate__(state)

    # --- fitting -------------------------------------------------------------------

    def fit(self, analysed: Sequence[Analysed], languages: Sequence[str | None]) -> ThemeModel:
        """Discover themes per language and reconcile them with the taxonomy and ``previous``."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._forget()
        taxonomy = self.taxonomy or Taxonomy()
        self.themes_: dict[str, Theme] = {
            t.id: Theme(
                t.id, t.label, None, "taxonomy", {w: 1.0 for ws in t.keywords.values() for w in ws}
            )
            for t in taxonomy.themes
        }
        self._compile(taxonomy)
        self.vectorizers_: dict[str, Any] = {}
        self.components_: dict[str, np.ndarray] = {}
        self.component_ids_: dict[str, list[str]] = {}
        self.component_terms_: dict[str, list[set[str]]] = {}
        discovered: list[Theme] = []
        by_language: dict[str, list[int]] = {}
        for i, language in enumerate(languages):
            if language:
                by_language.setdefault(language, []).append(i)
        for language, index in sorted(by_language.items()):
            docs = [discovery_terms(analysed[i], language, pairs=self.pairs) for i in index]
            records = [analysed[i] for i, d in zip(index, docs, strict=True) if d]
            docs = [d for d in docs if d]
            if len(docs) < self.min_texts:
                continue
            # min_df scales with the corpus so one-off spellings and typos stay out of themes.
            min_df = max(3, int(0.001 * len(docs)))
            vectorizer = TfidfVectorizer(
                analyzer=identity, min_df=min_df, max_df=0.5, sublinear_tf=True
            )
            try:
                matrix = vectorizer.fit_transform(docs)
            except ValueError:
                continue
            k = self.n_themes or int(np.clip(round(np.sqrt(len(docs)) / 5), 5, 30))
            k = min(k, matrix.shape[1] - 1, len(docs) - 1)
            if k < 2:
                continue
            strength, components = self._factorise(matrix, k)
            vocabulary = vectorizer.get_feature_names_out()
            self.vectorizers_[language] = vectorizer
            self.components_[language] = components
            ids = []
            for c, row in enumerate(components):
                # a theme's terms (labels, evidence, id matching) are words and phrases only
                order = [j for j in np.argsort(row)[::-1] if PAIR not in vocabulary[j]]
                top = order[: self.top_terms]
                weights = {str(vocabulary[j]): float(row[j]) for j in top if row[j] > 0}
                typical = [
                    records[d] for d in np.argsort(strength[:, c])[::-1][:40] if strength[d, c] > 0
                ]
                label = _readable_label(list(weights), typical, language)
                theme = Theme("", label, language, "discovered", weights)
                discovered.append(theme)
                ids.append(theme)
            self.component_ids_[language] = ids  # type: ignore[assignment]  # ids resolved below
            self.component_terms_[language] = [set(t.terms) for t in ids]
        self.lineage_ = self._assign_ids(discovered, taxonomy)
        self.component_ids_ = {
            lang: [t.id for t in themes]  # type: ignore[attr-defined]
            for lang, themes in self.component_ids_.items()
        }
        return self

    def _factorise(self, matrix: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(strength of each theme in each text, each theme's term weights) by the chosen
        representation: NMF from an SVD start, k-means centroids, or NMF started from them."""
        from sklearn.cluster import KMeans
        from sklearn.decomposition import NMF

        if self.representation == "nmf":
            nmf = NMF(n_components=k, init="nndsvda", random_state=self.random_state, max_iter=400)
            return nmf.fit_transform(matrix), nmf.components_
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(matrix)
        centres = np.maximum(kmeans.cluster_centers_, 0.0)
        if self.representation == "kmeans":
            return np.asarray(matrix @ centres.T), centres
        start = np.full((matrix.shape[0], k), 1e-3)
        start[np.arange(matrix.shape[0]), kmeans.labels_] = 1.0
        nmf = NMF(n_components=k, init="custom", random_state=self.random_state, max_iter=400)
        strength = nmf.fit_transform(matrix, W=start, H=centres + 1e-6)
        return strength, nmf.components_

    def _compile(self, taxonomy: Taxonomy) -> None:
        self.rules_: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        self.keywords_: dict[str, dict[str, str]] = {}
        for theme in taxonomy.themes:
            for language, items in theme.patterns.items():
                for item in items:
                    self.rules_.setdefault(language, []).append(
                        (theme.id, re.compile(item, re.IGNORECASE))
                    )
            for language, words in theme.keywords.items():
                for word in words:
                    self.keywords_.setdefault(language, {})[word] = theme.id

    def _assign_ids(self, discovered: list[Theme], taxonomy: Taxonomy) -> list[dict[str, Any]]:
        lineage: list[dict[str, Any]] = []
        # Fold discovered themes into taxonomy themes they overlap (this aligns languages).
        remaining: list[Theme] = []
        for theme in discovered:
            keywords = self.keywords_.get(theme.language or "", {})
            hits: dict[str, float] = {}
            total = sum(theme.terms.values()) or 1.0
            for term, weight in theme.terms.items():
                target = keywords.get(term) or next(
                    (
                        tid
                        for word, tid in keywords.items()
                        if theme.language == "ja" and word in term
                    ),
                    None,
                )
                if target:
                    hits[target] = hits.get(target, 0.0) + weight / total
            best = max(hits.items(), key=lambda kv: kv[1], default=(None, 0.0))
            if best[0] is not None and best[1] >= 0.4:
                theme.id = best[0]
                lineage.append(
                    {
                        "id": theme.id,
                        "event": "folded",
                        "label": theme.label,
                        "language": theme.language,
                    }
                )
            else:
                remaining.append(theme)
        previous = [t for t in (self.reference_themes or []) if t.kind == "discovered"]
        used: set[str] = set()
        counter = 1 + max(
            [int(t.id.rsplit("-", 1)[-1]) for t in previous if t.id.rsplit("-", 1)[-1].isdigit()],
            default=0,
        )
        matches: dict[str, list[Theme]] = {}
        for theme in remaining:
            candidates = [
                (p, _cosine(theme.terms, p.terms)) for p in previous if p.language == theme.language
            ]
            best_previous, similarity = max(candidates, key=lambda c: c[1], default=(None, 0.0))
            if best_previous is not None and similarity >= self.keep_similarity:
                matches.setdefault(best_previous.id, []).append(theme)
            else:
                theme.id = f"t-{theme.language}-{counter:04d}"
                counter += 1
                lineage.append(
                    {
                        "id": theme.id,
                        "event": "new",
                        "label": theme.label,
                        "language": theme.language,
                    }
                )
        for previous_id, themes in matches.items():
            old = next(p for p in previous if p.id == previous_id)
            if len(themes) == 1:
                themes[0].id = previous_id
                event = "kept" if themes[0].label == old.label else "renamed"
                lineage.append(
                    {"id": previous_id, "event": event, "label": themes[0].label, "was": old.label}
                )
            else:
                # One theme became several: the closest keeps the id, the others are new ids.
                themes.sort(key=lambda t: -_cosine(t.terms, old.terms))
                themes[0].id = previous_id
                for extra in themes[1:]:
                    extra.id = f"t-{extra.language}-{counter:04d}"
                    counter += 1
                lineage.append(
                    {
                        "id": previous_id,
                        "event": "split",
                        "into": [t.id for t in themes],
                        "was": old.label,
                    }
                )
            used.add(previous_id)
        # Two previous themes matched by one new theme: the other ids were merged into it.
        for p in previous:
            if p.id in used:
                continue
            closest: Theme | None = None
            closest_similarity = 0.0
            for t in remaining:
                similarity = _cosine(t.terms, p.terms) if t.language == p.language else 0.0
                if similarity > closest_similarity:
                    closest, closest_similarity = t, similarity
            if closest is not None and closest_similarity >= self.keep_similarity / 2:
                lineage.append({"id": p.id, "event": "merged", "into": closest.id, "was": p.label})
            else:
                lineage.append({"id": p.id, "event": "retired", "was": p.label})
        for theme in discovered:
            if theme.kind == "discovered" and theme.id not in self.themes_:
                self.themes_[theme.id] = theme
        # The taxonomy's own themes: those it gained and lost since the reference model.
        if self.reference_themes is not None:
            before = {t.id: t for t in self.reference_themes if t.kind == "taxonomy"}
            now = {t.id: t for t in taxonomy.themes}
            for theme_id in sorted(now.keys() - before.keys()):
                lineage.append(
                    {"id": theme_id, "event": "new", "label": now[theme_id].label, "language": None}
                )
            for theme_id in sorted(before.keys() - now.keys()):
                into = taxonomy.merged.get(theme_id)
                lineage.append(
                    {"id": theme_id, "event": "merged", "into": into, "was": before[theme_id].label}
                    if into
                    else {"id": theme_id, "event": "retired", "was": before[theme_id].label}
                )
            for theme_id in sorted(now.keys() & before.keys()):
                if now[theme_id].label != before[theme_id].label:
                    lineage.append(
                        {
                            "id": theme_id,
                            "event": "renamed",
                            "label": now[theme_id].label,
                            "was": before[theme_id].label,
                        }
                    )
        return lineage

    # --- applying ------------------------------------------------------------------

    def _check(self) -> None:
        self._check_fitted("themes_")

    def match(
        self, texts: Sequence[str], analysed: Sequence[Analysed], language: str | None
    ) -> list[list[Match]]:
        """Themes per text of one language; a text with none gets ``other``."""
        self._check()
        out: list[list[Match]] = [[] for _ in texts]
        keywords = self.keywords_.get(language or "", {})
        rules = self.rules_.get(language or "", [])
        for i, (text, record) in enumerate(zip(texts, analysed, strict=True)):
            found: dict[str, Match] = {}
            for term in (*record.terms, *record.phrases):
                theme_id = keywords.get(term.norm)
                if theme_id and theme_id not in found:
                    found[theme_id] = Match(theme_id, 1.0, term.start, term.end)
            if language == "ja":
                for word, theme_id in keywords.items():
                    if theme_id not in found:
                        position = text.find(word)
                        if position >= 0:
                            found[theme_id] = Match(theme_id, 1.0, position, position + len(word))
            for theme_id, pattern in rules:
                if theme_id not in found:
                    hit = pattern.search(text)
                    if hit:
                        found[theme_id] = Match(theme_id, 1.0, hit.start(), hit.end())
            out[i] = list(found.values())
        if language in self.vectorizers_:
            self._discovered(analysed, language, out)
        for matches in out:
            if not matches:
                matches.append(Match(OTHER, 1.0, 0, 0))
        return out

    def _discovered(
        self, analysed: Sequence[Analysed], language: str, out: list[list[Match]]
    ) -> None:
        vectorizer = self.vectorizers_[language]
        components = self.components_[language]
        ids = self.component_ids_[language]
        docs = [discovery_terms(r, language, pairs=self.pairs) for r in analysed]
        matrix = vectorizer.transform(docs)
        weights = np.asarray(matrix @ components.T)
        totals = weights.sum(axis=1, keepdims=True)
        shares = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
        top_terms = self.component_terms_[language]
        for row in range(len(docs)):
            present = {m.id for m in out[row]}
            for column in np.flatnonzero(shares[row] >= self.min_confidence):
                theme_id = ids[column]
                if theme_id in present:
                    continue
                evidence = [t for t in analysed[row].terms if t.norm in top_terms[column]]
                evidence += [p for p in analysed[row].phrases if p.norm in top_terms[column]]
                if not evidence:
                    continue
                start = min(t.start for t in evidence)
                end = max(t.end for t in evidence)
                out[row].append(Match(theme_id, round(float(shares[row, column]), 3), start, end))
                present.add(theme_id)

    def table(self) -> list[dict[str, Any]]:
        """The themes as rows: id, label, language, kind, top terms."""
        self._check()
        return [
            {
                "id": t.id,
                "label": t.label,
                "language": t.language,
                "kind": t.kind,
                "terms": list(t.terms)[:10],
            }
            for t in self.themes_.values()
        ]

    def label(self, theme_id: str) -> str:
        """A readable label for a theme id."""
        if theme_id == OTHER:
            return "other"
        theme = self.themes_.get(theme_id)
        return theme.label if theme else theme_id
