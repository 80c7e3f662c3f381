"""Tokens, sentences and key phrases through spaCy; Japanese through SudachiPy.

English: a blank pipeline with the lookup lemmatiser (tables from spacy-lookups-data);
Japanese: spaCy's Japanese language class, which runs SudachiPy with sudachidict-core
and gives dictionary forms and part-of-speech tags. Everything works offline.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cxml.estimator import Estimator

# A full stop ends a sentence, but not between digits ("$29.99", "v2.1").
_SENTENCE_END = re.compile(r"(?<=[!?。！？])\s*|(?<=\.)(?<!\d\.)\s*|(?<=\d\.)(?!\d)\s*|\n+")
_NEGATORS_EN = {
    "not",
    "no",
    "never",
    "nothing",
    "nobody",
    "nowhere",
    "neither",
    "nor",
    "without",
    "hardly",
    "cannot",
}
_NEGATORS_JA = {"ない", "ず", "ぬ", "ん", "無い"}
_CLAUSE_BREAK = re.compile(r"^[,.;:!?、。！？]$")


def _placeholders(text: str) -> list[tuple[int, int]]:
    """Where redaction left a placeholder ([EMAIL], [PHONE] …): not words the customer wrote,
    so neither terms nor key phrases."""
    from cxml.text.redact import PLACEHOLDER_RE

    return [m.span() for m in PLACEHOLDER_RE.finditer(text)] if "[" in text else []


def _inside(spans: list[tuple[int, int]], position: int) -> bool:
    return any(start <= position < end for start, end in spans)


_JA_CONTENT = {"NOUN", "PROPN", "VERB", "ADJ"}
_JA_NOUNISH = {"NOUN", "PROPN"}
# Formal nouns and light words that carry no topic.
_JA_STOP = {
    "はず",
    "こと",
    "もの",
    "ため",
    "よう",
    "ところ",
    "とき",
    "方",
    "感じ",
    "する",
    "ある",
    "いる",
    "なる",
    "できる",
    "思う",
    "言う",
    "いう",
}


@dataclass(frozen=True)
class Term:
    """One content word: its normal form, character offsets in the text, and a negation flag."""

    norm: str
    start: int
    end: int
    negated: bool = False


@dataclass(frozen=True)
class Analysed:
    """A text's terms (content words, lemmatised), sentence spans and phrase candidates."""

    terms: tuple[Term, ...]
    sentences: tuple[tuple[int, int], ...]
    phrases: tuple[Term, ...]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (on . ! ? 。 ！ ？ and line breaks; not on
    a full stop between digits)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start()
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans or [(0, len(text))]


@functools.cache
def _blank_pipeline(language: str) -> Any:
    """spaCy's tokenizer (and English lookup lemmatiser) for ``language``: built once per
    process (≈ 0.1 s each) and shared, as it holds no state between texts."""
    import spacy

    if language == "en":
        nlp = spacy.blank("en")
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
        return nlp
    if language == "ja":
        return spacy.blank("ja")
    try:
        return spacy.blank(language)
    except Exception:  # spaCy has no class for this language: split on words
        return spacy.blank("xx")


class Tokenizer(Estimator):
    """Turns texts into ``Analysed`` records, one spaCy pipeline per language (loaded lazily;
    nothing to learn, nothing pickled but the batch size)."""

    _caches = ("_pipelines",)

    def __init__(self, batch_size: int = 512) -> None:
        self.batch_size = batch_size

    def _nlp(self, language: str) -> Any:
        cache: dict[str, Any] = self.__dict__.setdefault("_pipelines", {})
        if language not in cache:
            cache[language] = _blank_pipeline(language)
        return cache[language]

    def analyse(self, texts: Sequence[str], language: str) -> list[Analysed]:
        """Analyse texts that share one language."""
        nlp = self._nlp(language)
        if language == "ja":
            return [
                _japanese(text, doc)
                for text, doc in zip(
                    texts, nlp.pipe(texts, batch_size=self.batch_size), strict=True
                )
            ]
        # Alphabetic languages need only spaCy's tokenizer: the English lemmas are the lookup
        # lemmatiser's table read word by word (``_Words``), not written onto every token.
        words = _words(language)
        docs = nlp.tokenizer.pipe(texts, batch_size=self.batch_size)
        return [words.analysed(text, doc) for text, doc in zip(texts, docs, strict=True)]


_TERM, _SKIP, _BREAK, _NEGATOR = 0, 1, 2, 3


class _Words:
    """What a word (a spaCy ORTH) is to ``_alphabetic``: its length, its kind (a clause break,
    a negator, a stop word or non-word to skip, or a term), the norm it has as a term and the
    piece it gives a phrase. Read once per word and kept (word types are few, tokens many)."""

    _LIMIT = 500_000  # word types kept; past it the memory starts afresh

    def __init__(self, nlp: Any, english: bool) -> None:
        from spacy.attrs import IDX, ORTH

        self.attrs = [ORTH, IDX]
        self.vocab = nlp.vocab
        self.english = english
        self.lemmas = (
            nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup", {})
            if english and "lemmatizer" in nlp.pipe_names
            else None
        )
        self.memo: dict[int, tuple[int, int, str, str]] = {}

    def _read(self, orth: int) -> tuple[int, int, str, str]:
        lexeme = self.vocab[orth]
        text, lower = lexeme.orth_, lexeme.lower_
        # as spaCy's lookup lemmatiser sets token.lemma_ (the table's lemma, else the text)
        lemma = self.lemmas.get(text, text) if self.lemmas is not None else ""
        if _CLAUSE_BREAK.match(text):
            kind = _BREAK
        elif lower in _NEGATORS_EN or lower.endswith("n't"):
            kind = _NEGATOR
        elif lexeme.is_stop or not lexeme.is_alpha or len(lower) < 2:
            kind = _SKIP
        else:
            kind = _TERM
        norm = (lemma or lower).lower() if self.english else lower
        if len(self.memo) >= self._LIMIT:
            self.memo.clear()
        found = self.memo[orth] = (len(text), kind, norm, lemma.lower() or lower)
        return found

    def analysed(self, text: str, doc: Any) -> Analysed:
        """The ``Analysed`` record of ``text`` from spaCy's tokens of it."""
        memo = self.memo
        terms: list[Term] = []
        phrases: list[Term] = []
        run: list[tuple[int, int, str]] = []  # (start, end, piece) of the words of a phrase
        negated = False

        def close_run() -> None:
            if run:
                if len(run) <= 4:
                    phrases.append(Term(" ".join(r[2] for r in run), run[0][0], run[-1][1]))
                run.clear()

        hidden = _placeholders(text)
        for orth, idx in doc.to_array(self.attrs).tolist():
            word = memo.get(orth) or self._read(orth)
            if hidden and _inside(hidden, idx):
                close_run()
                continue
            kind = word[1]
            if kind == _BREAK:
                negated = False
                close_run()
            elif kind != _TERM:
                if kind == _NEGATOR:
                    negated = True
                close_run()
            else:
                end = idx + word[0]
                terms.append(Term(word[2], idx, end, negated))
                run.append((idx, end, word[3]))
        close_run()
        return Analysed(tuple(terms), tuple(split_sentences(text)), tuple(phrases))


@functools.cache
def _words(language: str) -> _Words:
    return _Words(_blank_pipeline(language), english=language == "en")


def _japanese(text: str, doc: Any) -> Analysed:
    terms: list[Term] = []
    phrases: list[Term] = []
    tokens = list(doc)
    run: list[Any] = []

    def close_run() -> None:
        if run:
            surface = text[run[0].idx : run[-1].idx + len(run[-1].text)]
            if len(surface) >= 2 and not re.fullmatch(r"[\u3040-\u309f]+", surface):
                phrases.append(Term(surface, run[0].idx, run[-1].idx + len(run[-1].text)))
            run.clear()

    hidden = _placeholders(text)
    for i, token in enumerate(tokens):
        if hidden and _inside(hidden, token.idx):
            close_run()
            continue
        pos = token.pos_
        # サ変 nouns (請求, 解約) are tagged VERB by spaCy's map; keep them in compounds.
        nounish = pos in _JA_NOUNISH or (pos == "VERB" and token.tag_.startswith("名詞"))
        if nounish and not token.tag_.startswith("名詞-数詞") and token.lemma_ not in _JA_STOP:
            run.append(token)
        else:
            close_run()
        lemma = token.lemma_ or token.text
        if (
            pos in _JA_CONTENT
            and lemma not in _JA_STOP
            and lemma not in _NEGATORS_JA
            and not re.fullmatch(r"[\u3040-\u309f]", token.text)
        ):
            negated = any(
                t.lemma_ in _NEGATORS_JA and t.pos_ in ("AUX", "ADJ") for t in tokens[i + 1 : i + 3]
            )
            terms.append(Term(lemma, token.idx, token.idx + len(token.text), negated))
    close_run()
    return Analysed(tuple(terms), tuple(split_sentences(text)), tuple(phrases))


def term_strings(analysed: Iterable[Analysed], *, mark_negation: bool = False) -> list[list[str]]:
    """Each text's term norms (``NOT_`` prefixed where negated, when asked)."""
    out = []
    for record in analysed:
        out.append(
            [("NOT_" + t.norm) if mark_negation and t.negated else t.norm for t in record.terms]
        )
    return out


def identity(terms: list[str]) -> list[str]:
    """The analyzer of vectorisers fed with term lists (a named function, so models pickle)."""
    return terms
