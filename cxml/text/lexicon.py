"""Lexicon sentiment: VADER for English (its lexicon ships in the package), a small built-in
Japanese polarity list with negation. The last-resort source, and features for the models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from cxml.text.nlp import Analysed

# General-purpose Japanese evaluative words (dictionary forms), not tied to any domain.
JA_POSITIVE = {
    "良い": 1.0,
    "いい": 1.0,
    "よい": 1.0,
    "便利": 0.8,
    "満足": 1.0,
    "丁寧": 0.8,
    "親切": 0.9,
    "快適": 0.9,
    "速い": 0.6,
    "早い": 0.5,
    "安心": 0.7,
    "助かる": 0.9,
    "感謝": 0.9,
    "素晴らしい": 1.0,
    "最高": 1.0,
    "安い": 0.5,
    "分かりやすい": 0.8,
    "わかりやすい": 0.8,
    "嬉しい": 0.9,
    "うれしい": 0.9,
    "好き": 0.8,
    "安定": 0.6,
    "改善": 0.4,
    "増加": 0.3,
    "好調": 0.9,
    "向上": 0.6,
    "順調": 0.7,
    "上昇": 0.3,
    "拡大": 0.3,
    "勧める": 0.7,
    "ありがとう": 0.9,
    "感じる": 0.0,
    "解決": 0.6,
    "楽しい": 0.8,
    "見やすい": 0.7,
}
JA_NEGATIVE = {
    "悪い": -1.0,
    "遅い": -0.7,
    "高い": -0.4,
    "不満": -1.0,
    "最悪": -1.0,
    "不便": -0.8,
    "困る": -0.8,
    "切れる": -0.6,
    "遅れる": -0.6,
    "障害": -0.7,
    "ひどい": -1.0,
    "残念": -0.8,
    "使いにくい": -0.8,
    "分かりにくい": -0.8,
    "わかりにくい": -0.8,
    "嫌い": -0.8,
    "解約": -0.5,
    "問題": -0.5,
    "エラー": -0.6,
    "落ちる": -0.6,
    "不具合": -0.8,
    "減少": -0.5,
    "低下": -0.6,
    "悪化": -0.9,
    "損失": -0.7,
    "厳しい": -0.6,
    "不安": -0.7,
    "遅延": -0.7,
    "苦戦": -0.8,
    "下落": -0.5,
    "不調": -0.8,
    "低迷": -0.8,
    "失望": -0.9,
    "怒る": -0.8,
    "面倒": -0.6,
    "納得": 0.0,
    "二重": -0.4,
    "たらい回し": -0.9,
    "つながる": 0.0,
    "返事": 0.0,
}
JA_LEXICON = {**JA_POSITIVE, **JA_NEGATIVE}
N_FEATURES = 4


class LexiconScorer:
    """Lexicon features per text: (compound in [-1, 1], positive, negative, coverage)."""

    def __init__(self) -> None:
        self._vader: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._vader = None

    def _english(self) -> Any:
        if self._vader is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._vader = SentimentIntensityAnalyzer()
        return self._vader

    def features(
        self, texts: Sequence[str], analysed: Sequence[Analysed], language: str
    ) -> np.ndarray:
        """An (n, 4) array of lexicon features for texts of one language."""
        out = np.zeros((len(texts), N_FEATURES))
        if language == "en":
            vader = self._english()
            for i, text in enumerate(texts):
                scores = vader.polarity_scores(text)
                out[i] = (scores["compound"], scores["pos"], scores["neg"], 1.0 - scores["neu"])
        elif language == "ja":
            for i, record in enumerate(analysed):
                values = [
                    -JA_LEXICON[t.norm] if t.negated else JA_LEXICON[t.norm]
                    for t in record.terms
                    if JA_LEXICON.get(t.norm)
                ]
                if values:
                    total = float(np.sum(values))
                    out[i] = (
                        float(np.tanh(total)),
                        float(sum(v for v in values if v > 0)) / len(record.terms),
                        float(-sum(v for v in values if v < 0)) / len(record.terms),
                        len(values) / max(len(record.terms), 1),
                    )
        return out

    def scores(
        self, texts: Sequence[str], analysed: Sequence[Analysed], language: str
    ) -> np.ndarray:
        """Sentiment in [-1, 1] per text from the lexicon alone (0 for unsupported languages)."""
        return self.features(texts, analysed, language)[:, 0]


# Requests and suggestions: what the customer wants, which says nothing yet about how they
# feel. English cues are phrases ("please add", "would be nice", "it would help if", "wish");
# Japanese ones are the desiderative and request forms (欲しい, てほしい, 希望, 要望, ください).
REQUEST_CUES = {
    "en": re.compile(
        r"\b(?:please\s+(?:add|make|allow|let|include|bring|give|provide|fix|improve|support"
        r"|consider|enable|offer|create|update|keep|change|introduce)"
        r"|(?:it\s+)?would\s+(?:be\s+)?(?:really\s+|very\s+|so\s+)?(?:nice|great|good|helpful"
        r"|useful|awesome|cool|better|lovely|ideal)"
        r"|(?:it\s+)?would\s+help(?:\s+if)?|i\s+would\s+(?:like|love)|i'?d\s+(?:like|love)"
        r"|(?:i\s+)?wish(?!\s+i\b)(?:\s+(?:you|there|it|they))?|could\s+you|hope\s+you"
        r"|should\s+(?:add|offer|include|allow|be\s+able|have\s+(?:a|an|more|some|options?)\b)"
        r"|suggest(?:ion)?s?"
        r"|feature\s+request|maybe\s+add|need\s+(?:more|to\s+add|a\s+way)"
        r"|^\s*(?:add|include|allow|make|bring|give)\b)\b",
        re.IGNORECASE,
    ),
    "ja": re.compile(
        r"(?:て|で)?(?:欲しい|ほしい|欲しかった|ほしかった)|希望|要望|(?:て|で)(?:ください|下さい)"
        r"|(?:いただき|頂き)たい|(?:たら|れば|と)(?:いい|良い|よい|嬉しい|うれしい|助かる|助かり)"
        r"|(?:お願い|期待)(?:したい|します|しています)"
    ),
}
_PRAISE = {"en": 0.6, "ja": 0.6}
_COMPLAINT = {"en": -0.3, "ja": -0.5}


def request_spans(text: str, language: str | None) -> list[tuple[int, int]]:
    """Character spans of the request cues in ``text`` (empty for languages without cues)."""
    pattern = REQUEST_CUES.get(language or "")
    return [m.span() for m in pattern.finditer(text)] if pattern is not None else []


def plain_requests(
    texts: Sequence[str],
    analysed: Sequence[Analysed],
    language: str | None,
    scorer: LexiconScorer | None = None,
) -> np.ndarray:
    """Which texts are requests or suggestions carrying neither praise nor complaint: a
    request cue, and the lexicon's polarity of the rest of the text (the cue itself taken
    out: "nice", "please", "help" are positive words) under the praise and above the
    complaint threshold. Such a text is neutral, whatever score its writer gave."""
    out = np.zeros(len(texts), dtype=bool)
    if language not in REQUEST_CUES:
        return out
    scorer = scorer or LexiconScorer()
    for i, text in enumerate(texts):
        spans = request_spans(text, language)
        if not spans:
            continue
        if language == "en":
            rest = text
            for start, end in reversed(spans):
                rest = rest[:start] + " " + rest[end:]
            polarity = float(scorer._english().polarity_scores(rest)["compound"])
        else:
            record = analysed[i]
            # the cue and the action asked for just before it (改善して|ほしい, 増やして|ください)
            asked = {
                max((t.start for t in record.terms if t.start < start), default=-1)
                for start, _ in spans
            }
            kept = tuple(
                t
                for t in record.terms
                if t.start not in asked and not any(s <= t.start < e for s, e in spans)
            )
            polarity = float(
                scorer.features([text], [Analysed(kept, record.sentences, ())], "ja")[0, 0]
            )
        out[i] = _COMPLAINT[language] < polarity < _PRAISE[language]
    return out
