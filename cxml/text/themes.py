"""Themes: discovered from the data (NMF over lemmas and neighbouring-word pairs, per language) plus
a taxonomy users edit.

Taxonomy YAML (versioned by its ``version`` field)::

    version: 3
    themes:
      - id: billing            # stable forever; pinned themes never change id
        label: Billing
        labels: {ja: 請求}      # the label in other languages (reasons in Japanese use it)
        pinned: true
        keywords: {en: [bill, invoice, charge, refund], ja: [請求, 料金, 返金]}
        patterns: {en: ['double[- ]charg\\w*']}
      - id: outage
        merge: [network]       # this theme absorbs another's keywords and id
    intents:
      cancel: {en: ['\\bcancel\\w*'], ja: ['解約']}
    churn_intent:              # kinds and example phrases (see cxml.text.corrections)
      kinds: [downgrade]
      examples: {en: {switch: ['moving our lines to another carrier'], not: ['flight cancelled']}}

Keywords match lemmas (English) or words and substrings (Japanese); patterns are
regular expressions on the text. Discovered themes whose top terms overlap a
taxonomy theme's keywords are folded into it, which is how English and Japanese
comments about one thing land in one theme. Retraining with ``reference_themes`` keeps
ids of themes that stay the same and records a lineage: kept, renamed, merged,
split, new, retired.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxml.errors import ConfigError
from cxml.estimator import Estimator
from cxml.text.corrections import ChurnIntentConfig, churn_intent_config
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
    labels: dict[str, str] = field(default_factory=dict)  # language -> label, besides ``label``


@dataclass
class Taxonomy:
    """The user's themes and intent patterns, as read from YAML."""

    themes: list[TaxonomyTheme] = field(default_factory=list)
    intents: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    version: int = 1
    merged: dict[str, str] = field(default_factory=dict)  # a merged theme's id -> the one it is in
    churn_intent: ChurnIntentConfig = field(default_factory=ChurnIntentConfig)

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
            labels = _labels(entry, theme_id, source)
            themes[theme_id] = TaxonomyTheme(
                id=theme_id,
                label=str(entry.get("label") or labels.get("en") or theme_id),
                labels=labels,
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
            churn_intent=churn_intent_config(data.get("churn_intent"), source),
        )


def _labels(entry: dict[str, Any], theme_id: str, source: str) -> dict[str, str]:
    """A taxonomy theme's ``labels``: language to label (``{ja: 請求}``); ``labels.en``, when
    given with ``label``, must say the same."""
    value = entry.get("labels") or {}
    if not isinstance(value, dict) or not all(
        isinstance(label, str | int | float) and str(label).strip() for label in value.values()
    ):
        raise ConfigError(
            f"{source}: theme {theme_id!r}: labels must map a language to a label, "
            "e.g. {ja: 請求}",
            code="CX103",
        )
    labels = {str(language): str(label).strip() for language, label in value.items()}
    if entry.get("label") and "en" in labels and labels["en"] != str(entry["label"]):
        raise ConfigError(
            f"{source}: theme {theme_id!r}: label {entry['label']!r} and labels.en "
            f"{labels['en']!r} differ; keep one of them",
            code="CX103",
        )
    return labels


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


_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# Clauses end at punctuation and at numbers (the words around "3" in "waiting 3 months" are
# not a phrase anyone wrote).
_CLAUSE = re.compile(r"[,.;:!?()\[\]\"/\n\d]+")
# Words that may open an English label before a content word: "too expensive", "no signal",
# "more templates". Other stop words may sit inside a label ("ease of use"), never at its ends.
_LEADS = {"too", "not", "no", "more", "less", "never", "very", "so", "lack"}
_MAX_LABEL_WORDS = 4


@functools.cache
def _english_stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@functools.cache
def _evaluative_words(language: str) -> frozenset[str]:
    """Words that say how the customer feels rather than what about ("like", "good", "great",
    満足): the lexicon's words with a clear polarity. Never enough on their own for a label."""
    if language == "en":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        lexicon = SentimentIntensityAnalyzer().lexicon
        return frozenset(w for w, v in lexicon.items() if abs(v) >= 1.0 and " " not in w)
    if language == "ja":
        from cxml.text.lexicon import JA_LEXICON

        return frozenset(w for w, v in JA_LEXICON.items() if abs(v) >= 0.3)
    return frozenset()


# How strongly an English word must be felt to be an opinion whatever else it names ("love",
# "hate": VADER's valence runs from −4 to 4).
_STRONGLY_FELT = 2.5


@functools.cache
def _opinion_words(language: str) -> frozenset[str]:
    """The evaluative words that carry an opinion rather than name a thing: the lexicon's
    adjectives and adverbs ("friendly", "great", "perfectly"; 丁寧, 良い, 快適), its verbs of
    liking ("recommend"; 勧める, 助かる) and, in English, the strongly felt ("love", "hate").
    A lexicon word that names a thing ("problem", "support", "delay", "cancel"; 障害, 解約,
    エラー) names a topic too, and may name a theme. Parts of speech from the dictionaries the
    tokenisers already carry: WordNet's index in spaCy's English lookups, SudachiPy's tags."""
    evaluative = _evaluative_words(language)
    if language == "en":
        from spacy.lookups import load_lookups
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        valence = SentimentIntensityAnalyzer().lexicon
        tables = load_lookups("en", ["lemma_index", "lemma_lookup"])
        index, lemma = tables.get_table("lemma_index"), tables.get_table("lemma_lookup")
        nouns = set(index["noun"])
        describing = set(index["adj"]) | set(index["adv"])
        function_words = _english_stop_words() | _LEADS  # "no", "not": "no signal" is a topic
        return frozenset(
            w
            for w in evaluative - function_words
            if abs(valence[w]) >= _STRONGLY_FELT
            or (base := lemma.get(w, w)) in describing
            or w in describing
            or base not in nouns
        )
    if language == "ja":
        from cxml.text.nlp import _blank_pipeline

        nlp = _blank_pipeline("ja")
        return frozenset(
            w
            for w in evaluative
            if any(
                t.tag_.startswith(("形容詞", "形状詞", "動詞", "感動詞", "接尾辞-形容詞"))
                or "形状詞可能" in t.tag_
                for t in nlp(w)
            )
        )
    return frozenset()


# Words that place a comment in time ("today", 本日, 先月): they never open or end a label
# (本日対応, "today's support", names the support; "helped me today" is about the helping).
_DEICTIC = {
    "en": frozenset(
        {"today", "yesterday", "tomorrow", "tonight", "recently", "lately", "currently", "nowadays"}
    ),
    "ja": frozenset(
        {
            "本日", "今日", "昨日", "明日", "先日", "後日", "当日", "前日", "翌日", "今朝", "今晩",
            "今夜", "昨夜", "昨晩", "今週", "先週", "来週", "今月", "先月", "来月", "今年", "昨年",
            "去年", "来年", "本年", "今回", "前回", "次回", "先程", "先ほど", "最近", "現在", "今後",
            "以前", "毎日", "毎朝", "毎晩", "毎週", "毎月",
        }
    ),
}  # fmt: skip


@functools.cache
def _longest_first(words: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(words, key=lambda w: (-len(w), w)))


def _trim_japanese(phrase: str, drop: frozenset[str]) -> str:
    """``phrase`` without the words of ``drop`` it opens or ends on (本日対応 → 対応)."""
    trimmed = True
    while trimmed:
        trimmed = False
        for word in _longest_first(drop):
            if phrase.startswith(word):
                phrase, trimmed = phrase[len(word) :], True
            elif phrase.endswith(word) and len(phrase) > len(word):
                phrase, trimmed = phrase[: -len(word)], True
    return phrase


def label_candidates(text: str, record: Analysed, language: str) -> set[str]:
    """The phrases of one comment that could name a theme, lower-cased as written: English word
    runs of one to four words that end on a content word and start on one (or on "too", "no",
    "more" …), with stop words only inside ("ease of use", "too expensive", "mind maps");
    Japanese compound nouns and content words as SudachiPy cuts them ("請求書", "解約手続き").
    Words placing the comment in time never open or end one ("today", 本日: 本日対応 → 対応);
    a Japanese word whose dictionary form is evaluative (勧め, 勧める) is no candidate."""
    deictic = _DEICTIC.get(language, frozenset())
    if language == "ja" or not text:
        evaluative = _evaluative_words(language)
        # a word as written (引っ越し), not its dictionary form (引っ越す), when the text is there
        written = {
            text[t.start : t.end] if text else t.norm
            for t in record.terms
            if t.norm not in evaluative
        }
        found = {p.norm for p in record.phrases} | written
        if deictic:
            found = {_trim_japanese(p, deictic) for p in found}
        return {p for p in found if len(p) > 1}
    content = {t.start for t in record.terms}
    stop = _english_stop_words()
    out: set[str] = set()
    for clause in _CLAUSE.split(text):
        offset = text.find(clause) if clause else -1
        words = [(m.group().lower(), offset + m.start()) for m in _WORD.finditer(clause)]
        for i, (first, first_at) in enumerate(words):
            if (first_at not in content and first not in _LEADS) or first in deictic:
                continue
            phrase = ""
            for j in range(i, min(i + _MAX_LABEL_WORDS, len(words))):
                last, last_at = words[j]
                phrase = f"{phrase} {last}" if phrase else last
                if last_at in content and (j > i or last not in stop) and last not in deictic:
                    out.add(phrase)
    return out


def written_in(phrase: str, text: str, language: str) -> bool:
    """Whether ``phrase`` is written in ``text`` (case-insensitive; whole words in English)."""
    if language == "ja":
        return phrase in text
    return re.search(rf"(?<![\w'’-]){re.escape(phrase)}(?![\w'’-])", text.lower()) is not None


@functools.lru_cache(maxsize=200_000)  # a survey's phrases repeat across its comments
def _variant_key(phrase: str, language: str) -> str:
    """What the written variants of one phrase share ("placed the order", "place an order",
    "placed an order" → "plac order"): its words but stop words, each cut to a crude stem.
    Japanese phrases are their own key."""
    if language == "ja":
        return phrase
    stop = _english_stop_words()
    words = [w for w in phrase.split(" ") if w in _LEADS or w not in stop] or phrase.split(" ")
    return " ".join(_STEM.sub("", w) if len(w) > 4 else w for w in words)


_STEM = re.compile(r"(?:ing|ed|es|s|e)$")


def _choose_label(
    members: Sequence[int],
    candidates: Sequence[set[str]],
    corpus_counts: dict[str, int],
    top: Sequence[str],
    avoid: set[str],
    generic: set[str],
    language: str,
    min_comments: int,
) -> str | None:
    """The phrase that best names a theme: written in at least ``min_comments`` of its
    comments, mostly within the theme rather than across the corpus, holding a word that is
    neither generic nor only evaluative, longer phrases preferred when as frequent; None when
    no phrase qualifies. A phrase's written variants count together ("placed the order",
    "place an order"), and the variant written most often names the theme.

    A label names the topic, not what was said of it: a theme's complaints are quoted under
    it as much as its praise, and "friendly staff" over "the staff were rude" contradicts the
    quote. So a phrase without an opinion word (``_opinion_words``) written about as often
    (``_NEUTRAL_SHARE``) names the theme instead ("staff"); when none is, the opinion words
    its label opens or ends on are dropped ("love this dress" → "dress")."""
    counts: dict[str, int] = {}
    variants: dict[str, int] = {}  # variant key → comments of the theme holding any variant
    for d in members:
        keys = set()
        for phrase in candidates[d]:
            counts[phrase] = counts.get(phrase, 0) + 1
            keys.add(_variant_key(phrase, language))
        for key in keys:
            variants[key] = variants.get(key, 0) + 1
    top_words = {w for t in top for w in t.split(" ")}
    scored: dict[str, float] = {}  # variant key → score
    frequency: dict[str, float] = {}  # variant key → its comments in the theme × precision
    written: dict[str, str] = {}  # variant key → its most written variant
    for phrase, n in counts.items():
        if n < min_comments or not _qualifies(phrase, language, avoid, generic):
            continue
        words = phrase.split(" ") if language != "ja" else [phrase]
        if language == "ja":
            related = any(t in phrase or phrase in t for t in top)
        else:
            related = any(w in top_words or w.rstrip("s") in top_words for w in words)
        if not related:
            continue
        key = _variant_key(phrase, language)
        shown = written.get(key)
        if shown is None or (n, phrase) > (counts[shown], shown):
            written[key] = phrase
        held = variants[key]
        precision = min(n / corpus_counts.get(phrase, n), 1.0)
        # a phrase says more than a word: "runs small" over "small", "請求書の金額" over "請求"
        length = min(len(words), 3) if language != "ja" else min(len(phrase), 6) / 2
        scored[key] = max(scored.get(key, 0.0), held * precision * length**1.5)
        frequency[key] = max(frequency.get(key, 0.0), held * precision)
    if not scored:
        return None
    opinion = {k: _holds_opinion(written[k], language) for k in scored}
    best = max(sorted(scored), key=lambda k: scored[k])
    if opinion[best]:
        neutral = [
            k for k in scored if not opinion[k] and frequency[k] >= _NEUTRAL_SHARE * frequency[best]
        ]
        if neutral:
            best = max(sorted(neutral), key=lambda k: scored[k])
    if language != "ja" and " " not in written[best]:
        # One word names a topic, not what was said of it: a phrase holding the word, written
        # (in any of its variants) in a good share of the word's comments, says it as people
        # wrote it ("order" → "placed the order"), when it holds no opinion ("staff", not
        # "friendly staff").
        enough = max(min_comments, _PHRASE_SHARE * variants[best])
        longer = [
            k
            for k in scored
            if best in k.split(" ") and k != best and variants[k] >= enough and not opinion[k]
        ]
        if longer:
            best = max(sorted(longer), key=lambda k: scored[k])
    label = written[best]
    if opinion[best]:
        topic = _strip_opinion(label, language)
        if topic != label and _qualifies(topic, language, avoid, generic):
            return topic
    return label


# An opinion-free phrase names a theme in place of the best phrase holding an opinion when
# written in at least this share as many of its comments ("about as often": half).
_NEUTRAL_SHARE = 0.5


def _qualifies(phrase: str, language: str, avoid: set[str], generic: set[str]) -> bool:
    """Whether a phrase may name a theme: nameable, not taken, not generic, and holding a word
    that is neither a stop word nor evaluative nor generic."""
    if not phrase or phrase in avoid or phrase in generic or not _nameable(phrase, language):
        return False
    if language == "ja":
        return len(phrase) > 1 and phrase not in _evaluative_words(language)
    leaning = _leaning_words()
    evaluative = _evaluative_words(language)
    return any(
        w not in leaning and w not in evaluative and w not in generic for w in phrase.split(" ")
    )


@functools.cache
def _leaning_words() -> frozenset[str]:
    """English words that lean on others, never a topic: stop words, the leads ("too", "no")
    and VADER's intensifiers ("very", "highly", "really")."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT

    return _english_stop_words() | _LEADS | frozenset(BOOSTER_DICT)


def _holds_opinion(phrase: str, language: str) -> bool:
    """Whether a phrase holds an opinion word ("friendly staff", 快適性)."""
    opinion = _opinion_words(language)
    if language == "ja":
        return any(w in phrase for w in opinion)
    return any(w in opinion for w in phrase.split(" "))


def _strip_opinion(phrase: str, language: str) -> str:
    """``phrase`` without the opinion it opens or ends on, and the stop words around it ("very
    helpful staff" → "staff", "love this dress" → "dress", 快適通信 → 通信); unchanged when
    its opinion words are inside it."""
    opinion = _opinion_words(language)
    if language == "ja":
        return _trim_japanese(phrase, opinion)
    stop, around = _english_stop_words(), _leaning_words()
    words = phrase.split(" ")
    for reverse in (False, True):
        ordered = words[::-1] if reverse else words
        run = 0  # the words at this end that are opinion words or lean on one
        while run < len(ordered) and (ordered[run] in opinion or ordered[run] in around):
            run += 1
        if any(w in opinion for w in ordered[:run]):
            ordered = ordered[run:]
        words = ordered[::-1] if reverse else ordered
    while words and words[0] in stop and words[0] not in _LEADS:
        words.pop(0)
    while words and words[-1] in stop:
        words.pop()
    return " ".join(words)


# A phrase holding a theme's best word replaces it when written in this share of the word's
# comments (a tenth: a phrase written in 30 of a word's 300 comments).
_PHRASE_SHARE = 0.1
_HIRAGANA = re.compile(r"[\u3041-\u309f]")
_CONTENT_JA = re.compile(r"[\u30a0-\u30ff\u4e00-\u9fffA-Za-z]")


def _nameable(phrase: str, language: str) -> bool:
    """Whether a phrase can name a theme at all: not an address or a domain's remnant
    ("example.com"); in Japanese, not a bare kana ending or a cut-off counter ("すぎ", "あと",
    "つ追加": it must hold a kanji, katakana or Latin letter and not open on hiragana)."""
    if "@" in phrase or re.search(r"\w\.\w", phrase):
        return False
    if language == "ja":
        return bool(_CONTENT_JA.search(phrase)) and not _HIRAGANA.match(phrase)
    return True


# A discovered theme's evidence in a comment is one of its top terms weighing at least this
# share of its strongest term (a twentieth). Its weakest top terms are other topics' words its
# comments happen to hold (a staff theme's "router" or 説明書's 書 at a fiftieth of "staff"):
# read as evidence they put "the router arrived late" under the staff theme, where a risk
# reason quoted it. Applied when comments are matched; discovery grades counts of themes on the
# top terms as before.
_EVIDENCE_SHARE = 0.05


def _evidence_terms(weights: dict[str, float]) -> set[str]:
    """The terms of a theme's top terms (term → weight) that show a comment is about it."""
    strongest = max(weights.values(), default=0.0)
    return {t for t, w in weights.items() if w > 0 and w >= _EVIDENCE_SHARE * strongest}


_CANDIDATE_K = (4, 6, 8, 10, 12, 15, 18, 22, 26, 30, 35, 40)
_COHERENCE_TOLERANCE = 0.02
_SEARCH_MAX_TEXTS = 10_000  # comments the count is searched on; the chosen count fits on all
# NMF's stopping tolerance while grading candidate counts on a sample of a large corpus (the
# chosen count is fitted again on all of it to scikit-learn's 1e-4).
_SEARCH_TOL = 1e-3
_SEARCH_MAX_ITER = 150  # likewise: enough to rank counts, not to fit the one kept


def _svd(matrix: Any, k: int, random_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(matrix, k, random_state=random_state)


def _nndsvda(
    matrix: Any, k: int, singular: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """NNDSVD starting factors (Boutsidis & Gallopoulos 2008) from the first k singular
    triplets, zeros filled with the data's mean ("a" variant), as scikit-learn builds them."""
    u, s, v = singular
    w = np.zeros((matrix.shape[0], k))
    h = np.zeros((k, matrix.shape[1]))
    w[:, 0] = np.sqrt(s[0]) * np.abs(u[:, 0])
    h[0] = np.sqrt(s[0]) * np.abs(v[0])
    for j in range(1, k):
        x, y = u[:, j], v[j]
        xp, yp = np.maximum(x, 0), np.maximum(y, 0)
        xn, yn = np.abs(np.minimum(x, 0)), np.abs(np.minimum(y, 0))
        positive = np.linalg.norm(xp) * np.linalg.norm(yp)
        negative = np.linalg.norm(xn) * np.linalg.norm(yn)
        if positive > negative:
            a, b, sigma = xp / np.linalg.norm(xp), yp / np.linalg.norm(yp), positive
        else:
            a, b, sigma = xn / np.linalg.norm(xn), yn / np.linalg.norm(yn), negative
        scale = np.sqrt(s[j] * sigma)
        w[:, j], h[j] = scale * a, scale * b
    w[w < 1e-6] = 0
    h[h < 1e-6] = 0
    mean = float(matrix.mean())
    w[w == 0] = mean
    h[h == 0] = mean
    return w, h


def _coherence(presence: Any, top: list[np.ndarray], n_terms: int = 5) -> float:
    """Mean NPMI of each theme's top ``n_terms`` over the comments (as the gate grades it)."""
    n = presence.shape[0]
    scores = []
    for cols in top:
        cols = cols[:n_terms]
        if len(cols) < 2:
            continue
        block = presence[:, cols].toarray()
        scores.append(mean_npmi(block.T @ block / n))
    return float(np.mean(scores)) if scores else -1.0


def _distinct(top: list[np.ndarray], vocabulary: np.ndarray, language: str) -> list[np.ndarray]:
    """Each theme's top columns without the terms that are part of (or hold) a term before
    them: a compound and its own parts (通信速度, 通信, 速度; "customer service", "service")
    are always written together, so their NPMI says nothing of a theme's coherence and would
    reward splitting the comments into one theme per compound."""
    out = []
    for cols in top:
        kept: list[int] = []
        seen: list[str] = []
        for j in cols:
            term = str(vocabulary[j])
            if language == "ja":
                nested = any(term in t or t in term for t in seen)
            else:
                words = set(term.split(" "))
                nested = any(words <= set(t.split(" ")) or set(t.split(" ")) <= words for t in seen)
            if not nested:
                kept.append(int(j))
                seen.append(term)
        out.append(np.array(kept, dtype=int))
    return out


def mean_npmi(together: np.ndarray) -> float:
    """Mean normalised PMI over the pairs of terms, from their co-occurrence shares
    (``together[i, j]``: the share of comments holding both; the diagonal, each alone)."""
    single = np.diag(together)
    values = []
    for i in range(len(single)):
        for j in range(i + 1, len(single)):
            joint = together[i, j]
            if joint <= 0:
                values.append(-1.0)
            elif joint >= 1:
                values.append(1.0)
            else:
                values.append(np.log(joint / (single[i] * single[j])) / -np.log(joint))
    return float(np.mean(values))


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    common = set(a) & set(b)
    if not common:
        return 0.0
    dot = sum(a[t] * b[t] for t in common)
    return dot / (np.sqrt(sum(v * v for v in a.values())) * np.sqrt(sum(v * v for v in b.values())))


class ThemeModel(Estimator):
    """Finds themes in texts: taxonomy rules first, then themes discovered per language.

    ``n_themes`` per language (None: chosen by the data, see ``_discover``: the most coherent
    count that keeps the largest theme under ``max_share`` and "other" under ``max_other`` of
    the comments; ``selection_`` keeps each candidate's grades); ``reference_themes`` are the
    themes of an earlier model (the champion's ``themes_.values()``), whose ids are kept where
    a theme is the same (cosine of top-term weights ≥ ``keep_similarity``). Labels are phrases
    written in at least ``min_label_comments`` of a theme's comments; words common to every
    theme (``generic_``: the product's name, "like") leave the factorisation.
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
        max_share: float = 0.25,
        max_other: float = 0.12,
        min_label_comments: int = 3,
        generic_share: float = 0.1,
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
        self.max_share = max_share
        self.max_other = max_other
        self.min_label_comments = min_label_comments
        self.generic_share = generic_share

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models pickled before 0.2 kept the earlier model itself as ``previous``.
        state.pop("previous", None)
        state.setdefault("reference_themes", None)
        state.setdefault("representation", "nmf")
        state.setdefault("pairs", False)  # fitted without pair features
        for name, value in (
            ("max_share", 0.25), ("max_other", 0.12), ("min_label_comments", 3),
            ("generic_share", 0.1),
        ):  # fmt: skip
            state.setdefault(name, value)
        super().__setstate__(state)

    # --- fitting -------------------------------------------------------------------

    def fit(
        self,
        analysed: Sequence[Analysed],
        languages: Sequence[str | None],
        texts: Sequence[str] | None = None,
    ) -> ThemeModel:
        """Discover themes per language and reconcile them with the taxonomy and the reference
        themes. ``texts`` (the comments as analysed) let labels be phrases as people wrote them
        ("too expensive"); without them labels are lemma phrases."""
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
        self.generic_: dict[str, list[str]] = {}
        self.selection_: dict[str, list[dict[str, float]]] = {}
        discovered: list[Theme] = []
        by_language: dict[str, list[int]] = {}
        for i, language in enumerate(languages):
            if language:
                by_language.setdefault(language, []).append(i)
        for language, index in sorted(by_language.items()):
            docs = [discovery_terms(analysed[i], language, pairs=self.pairs) for i in index]
            kept = [i for i, d in zip(index, docs, strict=True) if d]
            docs = [d for d in docs if d]
            if len(docs) < self.min_texts:
                continue
            records = [analysed[i] for i in kept]
            written = [texts[i] if texts is not None else "" for i in kept]
            themes = self._discover(docs, records, written, language)
            discovered.extend(themes)
            self.component_ids_[language] = themes  # type: ignore[assignment]  # ids resolved below
            self.component_terms_[language] = [_evidence_terms(t.terms) for t in themes]
        self.lineage_ = self._assign_ids(discovered, taxonomy)
        self.component_ids_ = {
            lang: [t.id for t in themes]  # type: ignore[attr-defined]
            for lang, themes in self.component_ids_.items()
        }
        return self

    def _vectorise(self, docs: list[list[str]]) -> tuple[Any, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        # min_df scales with the corpus so one-off spellings and typos stay out of themes.
        min_df = max(3, int(0.001 * len(docs)))
        vectorizer = TfidfVectorizer(
            analyzer=identity, min_df=min_df, max_df=0.5, sublinear_tf=True
        )
        return vectorizer, vectorizer.fit_transform(docs)

    def _discover(
        self,
        docs: list[list[str]],
        records: list[Analysed],
        texts: list[str],
        language: str,
    ) -> list[Theme]:
        """The themes of one language's comments (empty when there are too few words).

        1. Generic words (spread evenly over a first set of themes: the product's own name,
           "like") leave the factorisation.
        2. The number of themes: ``n_themes`` when given, else the candidate that keeps the
           largest theme under ``max_share`` and "other" under ``max_other`` with the best
           coherence (NPMI of top terms in these comments).
        3. A theme still holding more than ``max_share`` of the comments is split in two or
           three by factorising its own comments.
        4. Each theme is named by a phrase written in at least ``min_label_comments`` of its
           comments; a theme with no such phrase is dissolved."""
        try:
            vectorizer, matrix = self._vectorise(docs)
        except ValueError:
            return []
        # the count (and the generic words) are searched on a sample of a large corpus, then
        # the chosen count is fitted on all of it
        search = np.arange(len(docs))
        if len(docs) > _SEARCH_MAX_TEXTS:
            rng = np.random.default_rng(self.random_state)
            search = np.sort(rng.choice(len(docs), _SEARCH_MAX_TEXTS, replace=False))
        pilot = self.n_themes or int(np.clip(round(np.sqrt(len(docs)) / 5), 5, 30))
        generic = self._generic_terms(vectorizer, matrix[search], pilot)
        if generic:
            docs = [
                [t for t in d if t not in generic and not any(w in generic for w in t.split(PAIR))]
                for d in docs
            ]
            try:
                vectorizer, matrix = self._vectorise(docs)
            except ValueError:
                return []
        self.generic_[language] = sorted(generic)
        vocabulary = vectorizer.get_feature_names_out()
        words = np.array([PAIR not in v for v in vocabulary])
        presence = (matrix > 0).astype(np.float64).tocsr()
        limit = min(matrix.shape[1] - 1, len(docs) - 1)
        if self.n_themes:
            candidates = [min(self.n_themes, limit)]
        else:
            ceiling = int(np.clip(len(docs) / 20, 8, 40))
            candidates = sorted({k for k in _CANDIDATE_K if k <= min(ceiling, limit)})
        if not candidates or candidates[0] < 2:
            return []
        grades: list[dict[str, float]] = []
        fitted: list[np.ndarray] = []
        sample, sample_presence = matrix[search], presence[search]
        singular = _svd(sample, max(candidates), self.random_state) if len(candidates) > 1 else None
        # a sample's grades only rank the counts (the chosen one is fitted again on all)
        sampled = len(search) < len(docs)
        tolerance = _SEARCH_TOL if sampled else 1e-4
        for k in candidates:
            if singular is not None and self.representation == "nmf":
                components = self._factorise_from(
                    sample,
                    k,
                    singular,
                    tol=tolerance,
                    max_iter=_SEARCH_MAX_ITER if sampled else 400,
                )
            else:
                _, components = self._factorise(sample, k)
            top = self._top_columns(components, words)
            assigned = self._assign(sample, components, sample_presence, top)
            shares = np.bincount(assigned[assigned >= 0], minlength=k) / len(search)
            grades.append(
                {
                    "k": float(k),
                    "largest": float(shares.max()),
                    "other": float(np.mean(assigned < 0)),
                    "coherence": _coherence(sample_presence, _distinct(top, vocabulary, language)),
                    "chosen": 0.0,
                }
            )
            fitted.append(components)
            within = [g["coherence"] for g in grades if g["largest"] <= self.max_share]
            # three counts in a row within the limits, each clearly less coherent than the
            # best before them: more themes only split coherent ones, stop searching
            if len(within) >= 4 and all(
                c < max(within[: len(within) - 3 + i]) - _COHERENCE_TOLERANCE
                for i, c in enumerate(within[-3:])
            ):
                break
        ok = [
            i
            for i, g in enumerate(grades)
            if g["largest"] <= self.max_share and g["other"] <= self.max_other
        ]
        if ok:
            # the most themes that keep the limits and are as coherent as the most coherent
            # count (within a tolerance: NPMI moves by a few hundredths between counts)
            best = max(grades[i]["coherence"] for i in ok)
            chosen = max(i for i in ok if grades[i]["coherence"] >= best - _COHERENCE_TOLERANCE)
        else:
            chosen = min(
                range(len(grades)),
                key=lambda i: (
                    max(grades[i]["largest"] - self.max_share, 0)
                    + max(grades[i]["other"] - self.max_other, 0)
                ),
            )
        grades[chosen]["chosen"] = 1.0
        self.selection_[language] = grades
        components = fitted[chosen]
        if len(search) < len(docs):
            k = int(grades[chosen]["k"])
            components = (
                self._factorise_from(matrix, k, _svd(matrix, k, self.random_state))
                if self.representation == "nmf"
                else self._factorise(matrix, k)[1]
            )
        components = self._split_large(matrix, components, presence, words)
        # name the themes; a theme no phrase names (too few comments) is dissolved
        candidates_by_doc = [
            label_candidates(text, record, language)
            for text, record in zip(texts, records, strict=True)
        ]
        corpus_counts: dict[str, int] = {}
        for found in candidates_by_doc:
            for phrase in found:
                corpus_counts[phrase] = corpus_counts.get(phrase, 0) + 1
        for attempt in range(5):
            top = self._top_columns(components, words)
            assigned = self._assign(matrix, components, presence, top)
            used: set[str] = set()
            order = np.argsort(-np.bincount(assigned[assigned >= 0], minlength=len(components)))
            chosen_names: dict[int, str | None] = {}
            for c in order:
                members = np.flatnonzero(assigned == c)
                terms = [str(vocabulary[j]) for j in top[c]]
                name = _choose_label(
                    members.tolist(), candidates_by_doc, corpus_counts, terms, used, generic, language,
                    self.min_label_comments,
                )  # fmt: skip
                chosen_names[int(c)] = name
                if name:
                    used.add(name)
            names: list[str | None] = [chosen_names[c] for c in range(len(components))]
            if all(names) or len(components) <= 2 or attempt == 4:
                break
            components = components[[c for c, n in enumerate(names) if n]]
        self.vectorizers_[language] = vectorizer
        self.components_[language] = components
        themes = []
        for c, row in enumerate(components):
            top_c = self._top_columns(components, words)[c]
            weights = {str(vocabulary[j]): float(row[j]) for j in top_c if row[j] > 0}
            label = names[c] or " / ".join(list(weights)[:3])
            if language != "ja":
                label = label[:1].upper() + label[1:]
            themes.append(Theme("", label, language, "discovered", weights))
        return themes

    def _top_columns(self, components: np.ndarray, words: np.ndarray) -> list[np.ndarray]:
        """Each theme's top word and phrase columns (pairs never name or evidence a theme)."""
        out = []
        for row in components:
            order = np.argsort(-row, kind="stable")
            order = order[words[order] & (row[order] > 0)]
            out.append(order[: self.top_terms])
        return out

    def _assign(
        self, matrix: Any, components: np.ndarray, presence: Any, top: list[np.ndarray]
    ) -> np.ndarray:
        """Each comment's strongest theme much as ``match`` finds it (the largest share of the
        projection among themes with one of their top terms written; ``match`` also asks the
        term to weigh ``_EVIDENCE_SHARE`` of the theme's strongest), −1 for none."""
        weights = np.asarray(matrix @ components.T)
        totals = weights.sum(axis=1, keepdims=True)
        shares = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
        mask = np.zeros((presence.shape[1], len(components)))
        for c, cols in enumerate(top):
            mask[cols, c] = 1.0
        evidence = np.asarray((presence @ mask) > 0)
        shares = np.where(evidence, shares, 0.0)
        assigned = shares.argmax(axis=1)
        return np.where(shares.max(axis=1) > 0, assigned, -1)

    def _generic_terms(self, vectorizer: Any, matrix: Any, k: int) -> set[str]:
        """Single words written in at least ``generic_share`` of the comments that a first
        factorisation finds everywhere: among the top terms of a third of its themes (three
        at least), or no theme holding them twice as often as it holds comments (lift < 2).
        In a product's survey these are the product's own name and "like", whatever the
        product. Phrases holding them ("customer service") stay."""
        if k < 3 or matrix.shape[1] <= k:
            return set()
        vocabulary = vectorizer.get_feature_names_out()
        words = np.array([PAIR not in v and " " not in v for v in vocabulary])
        frequency = np.asarray((matrix > 0).sum(axis=0)).ravel() / matrix.shape[0]
        strength, components = self._factorise(matrix, k)
        tops = np.zeros(len(vocabulary))
        for row in components:
            order = np.argsort(-row, kind="stable")
            order = order[(words[order]) & (row[order] > 0)][:8]
            tops[order] += 1
        assigned = strength.argmax(axis=1)
        overall = np.bincount(assigned, minlength=k) / len(assigned)
        presence = (matrix > 0).tocsc()
        lift = np.full(len(vocabulary), np.inf)
        for j in np.flatnonzero(words & (frequency >= self.generic_share)):
            holders = assigned[presence[:, j].nonzero()[0]]
            within = np.bincount(holders, minlength=k) / len(holders)
            lift[j] = float(np.max(within / np.maximum(overall, 1e-9)))
        spread = (tops >= max(3, k / 3)) | (lift < 2.0)
        return {
            str(vocabulary[j]) for j in np.flatnonzero(spread & (frequency >= self.generic_share))
        }

    def _split_large(
        self, matrix: Any, components: np.ndarray, presence: Any, words: np.ndarray
    ) -> np.ndarray:
        """Split each theme holding more than ``max_share`` of the comments by factorising
        its own comments into two or three (the count whose largest part is smallest)."""
        for _ in range(4):
            top = self._top_columns(components, words)
            assigned = self._assign(matrix, components, presence, top)
            sizes = np.bincount(assigned[assigned >= 0], minlength=len(components))
            c = int(sizes.argmax())
            if sizes[c] <= self.max_share * matrix.shape[0] or sizes[c] < 20:
                break
            rows = matrix[np.flatnonzero(assigned == c)]
            best: np.ndarray | None = None
            best_largest = np.inf
            for parts in (2, 3):
                _, sub = self._factorise(rows, parts)
                trial = np.vstack([np.delete(components, c, axis=0), sub])
                trial_top = self._top_columns(trial, words)
                trial_assigned = self._assign(matrix, trial, presence, trial_top)
                largest = np.bincount(trial_assigned[trial_assigned >= 0]).max()
                if largest < best_largest:
                    best, best_largest = trial, largest
            if best is None or best_largest >= sizes[c]:
                break
            components = best
        return components

    def _factorise_from(
        self,
        matrix: Any,
        k: int,
        singular: tuple[np.ndarray, np.ndarray, np.ndarray],
        tol: float = 1e-4,
        max_iter: int = 400,
    ) -> np.ndarray:
        """The k themes' term weights by NMF started, as ``nndsvda``, from a truncated SVD
        computed once for every candidate k (stopping at ``tol``: looser while searching)."""
        from sklearn.decomposition import NMF

        start_w, start_h = _nndsvda(matrix, k, singular)
        nmf = NMF(
            n_components=k,
            init="custom",
            random_state=self.random_state,
            max_iter=max_iter,
            tol=tol,
        )
        nmf.fit_transform(matrix, W=start_w, H=start_h)
        return nmf.components_

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
        orders = np.argsort(-shares, axis=1)  # each row sorted on its own, as row by row
        for row in range(len(docs)):
            present = {m.id for m in out[row]}
            # every theme with at least ``min_confidence`` of the comment, and its strongest
            # theme whatever its share (a long review touches many themes)
            strongest = orders[row][shares[row, orders[row]] > 0].tolist()
            row_shares = shares[row].tolist()  # Python floats: read one by one below
            added = False
            for column in strongest:
                if added and row_shares[column] < self.min_confidence:
                    break
                theme_id = ids[column]
                if theme_id in present:
                    added = True
                    continue
                evidence = [t for t in analysed[row].terms if t.norm in top_terms[column]]
                evidence += [p for p in analysed[row].phrases if p.norm in top_terms[column]]
                if not evidence:
                    continue
                start = min(t.start for t in evidence)
                end = max(t.end for t in evidence)
                out[row].append(Match(theme_id, round(row_shares[column], 3), start, end))
                present.add(theme_id)
                added = True

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

    def labels_in(self, language: str) -> dict[str, str]:
        """Theme id to its label in ``language``, for the taxonomy themes that give one
        (``labels`` in the taxonomy YAML); other themes are left out: callers fall back to
        ``label``."""
        self._check()
        taxonomy = self.taxonomy or Taxonomy()
        out = {}
        for theme in taxonomy.themes:
            # taxonomies pickled before ``labels`` existed have none
            label = (getattr(theme, "labels", None) or {}).get(language)
            if label and theme.id in self.themes_:
                out[theme.id] = label
        return out

    def label(self, theme_id: str) -> str:
        """A readable label for a theme id."""
        if theme_id == OTHER:
            return "other"
        theme = self.themes_.get(theme_id)
        return theme.label if theme else theme_id
