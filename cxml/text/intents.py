"""Intents that matter for retention: leaving (churn intent), high effort, a call-back request.

``leave`` is learned (``cxml.text.leave.LeaveDetector``, shipped as ``models/leave.joblib``)
and carries its kind, confidence and the clause that says it. Effort and call-back are
patterns per language; a taxonomy's ``intents`` section adds patterns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxml.estimator import Estimator
from cxml.text.leave import LeaveDetector, addressee, lower_twin, same_company
from cxml.text.nlp import Analysed

LEAVE = "leave"
COMPETITOR = "competitor"

# Competitor mention: an alternative or a competitor named, with or without intent to switch.
# Generic, not a list of brands: a kind of provider ("another bank", 他社), or a proper noun
# or @handle that is not the addressee after a verb of using or moving, a comparison, or
# before "instead".
_NOT_NAMES = {
    "i", "the", "a", "an", "my", "your", "it", "this", "that", "we", "you", "our", "their",
    "his", "her", "them", "me", "us", "him", "there", "here", "what", "again", "home",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "today", "tomorrow", "tonight",
}  # fmt: skip
_NAME = r"(?P<name>@\w+|[A-Z][\w&+-]*(?: [A-Z][\w&+-]*)?)"
_COMPETITOR_EN = re.compile(
    r"(?i:\b(?:an?other|different|diff|other|new|previous|existing|old|former) (?:broadband |"
    r"phone |mobile |energy |internet |tv |service )?(?:provider|airline|carrier|bank|supplier"
    r"|insurer|network|company|store|shop|retailer|app|tool|service|platform|brand|vendor)s?\b"
    r"|\bcompetitors?\b|\bthe competition\b|\balternatives?\b"
    r"|\b(?:business|custom|money) elsewhere\b|\bswitch\w* (?:airlines|providers|banks|suppliers"
    r"|networks|carriers)\b)"
    r"|\b(?i:(?:switch\w*|mov\w*|port\w*|chang\w*|convert\w*) (?:over )?to"
    r"|(?:go|going|went|gone|stick\w*|stay\w*) with|(?:sign\w* up|bank\w*|book\w*) with"
    r"|(?:re)?booked on|back to"
    r"|fly|flying|flew|use|using|used|try|trying|tried"
    r"|(?:better|cheaper|faster|easier|nicer|worse) than|instead of|compared (?:to|with))"
    r" " + _NAME + r"|" + _NAME.replace("name", "before") + r" instead\b"
)
_COMPETITOR_JA = re.compile(
    r"他社|競合|他の(?:メーカー|店|会社|ショップ|ブランド|製品|商品|サービス|アプリ|キャリア"
    r"|銀行|航空会社)|別の(?:メーカー|店|会社|ショップ|ブランド|製品|サービス|アプリ)"
    r"|違う(?:メーカー|店|会社|ブランド)"
    r"|(?P<name>[^\s。、！？!?「」]{2,12}?)(?:の方が(?:安|良|いい|綺麗|きれい|速|早|使いやす|便利|上)"
    r"|から(?:の)?(?:乗り?換|切り替|移行))"
)
_THIS_JA = re.compile(r"^(?:こちら|これ|この|本|今回|こっち|それ|前回|以前)")


def competitor_mention(text: str, language: str | None) -> tuple[int, int] | None:
    """The first span of ``text`` that names an alternative or a competitor (not the company
    the text is addressed to), or None."""
    if language == "ja":
        for match in _COMPETITOR_JA.finditer(text):
            name = match.group("name")
            if name is None or not _THIS_JA.match(name):
                return match.start(), match.end()
        return None
    to = addressee(text)
    for match in _COMPETITOR_EN.finditer(text):
        name = match.group("name") or match.group("before")
        if name is None:
            return match.start(), match.end()
        first = name.split()[0].lstrip("@")
        if first.lower() in _NOT_NAMES or same_company(first, to):
            continue
        if name.startswith("@") and to is None:
            continue  # a handle in a text addressed to nobody: cannot tell whose it is
        return match.start(), match.end()
    return None


def load_default_leave(directory: Path | None = None) -> LeaveDetector:
    """The shipped churn-intent detector, ``leave.joblib`` in ``directory``, by default the
    package's own (``cxml/shipped``, the repository's ``models/``)."""
    import importlib.resources

    folder = directory or Path(str(importlib.resources.files("cxml").joinpath("shipped")))
    return _read_leave(str(folder / "leave.joblib"))


@functools.lru_cache(maxsize=2)
def _read_leave(path: str) -> LeaveDetector:
    """Read once per process and shared: the detector is only ever read."""
    import joblib

    from cxml.errors import ModelNotFoundError

    if not Path(path).exists():
        raise ModelNotFoundError(
            f"{path}: the shipped churn-intent model is missing; rebuild it with "
            "python models/train_leave.py"
        )
    detector: LeaveDetector = joblib.load(path)
    return detector


# Effort: what it cost the customer to get something done (repeated contacts and attempts,
# being passed around, long holds, chasing, no answer), not a bad or late product on its own.
# Call-back: the customer asks to be contacted; "no call back" and "had to call back twice"
# are effort, not a request. English figures on real text: benchmarks/RESULTS.md.
_TIMES = r"(\d+|two|three|four|five|six|several|many|multiple|numerous|countless|a few|few|lots of|loads of)"
_CONTACT = r"(calls|phone ?calls|e-?mails|messages|chats|visits|attempts|tries)"


def _asked(verbs: tuple[str, ...], rest: str) -> str:
    """ "call me back" as a request, not as what was promised and did not happen ("promised to
    call me back", "they'll call me back", "never called me back"). The look-behinds follow the
    phrase, so they are tried only where it matched (before it, every position would pay)."""
    not_after = ("to ", "will ", "would ", "never ", "didn't ", "didnt ", "not ", "'ll ", "’ll ")
    behind = "".join(f"(?<!{w}{v}{rest})" for v in verbs for w in not_after)
    return rf"\b(?:{'|'.join(verbs)}){rest}{behind}"


DEFAULT_PATTERNS: dict[str, dict[str, list[str]]] = {
    "effort": {
        "en": [
            r"\b(call|called|calling|contact\w*|tried|email\w*|wrote|ask\w*|rang|phoned|chased)\b"
            r"[^.!?]{0,40}\b" + _TIMES + r" times\b",
            r"\b" + _TIMES + r" (of )?(different |separate |long |more )?" + _CONTACT + r"\b",
            r"\b(third|3rd) time\b|\b(second|third|2nd|3rd) (attempt|order|engineer|visit|call)\b",
            r"\bagain and again\b|\bover and over\b|\bback and forth\b|\bround in circles\b",
            r"\btransferr\w+ (me |from |between |around )|\bpass(ed|ing)? (the buck|around|from)",
            r"\b(on hold|hold(ing)? (on )?for|on the (phone|line) for|on (a |the )?call for)\b",
            r"\b\d+ ?(mins?|minutes|hours?|hrs?) (on|in) (the )?(phone|hold|line|queue|call)",
            r"\b(spen[dt]|spending|wasted?|wasting) [^.!?]{0,25}\b(hours?|hrs|minutes|mins|days|ages)\b",
            r"\b(had|have|having|need(ed)?) to (keep |constantly |repeatedly )?(call|ring|phone|chase"
            r"|contact|email|e-mail|explain|repeat|re-?order|reorder|place|go (to|through|into)|fight"
            r"|complain|pick|keep)\b",
            r"\b(ring|call|phone)(ing)? (again|back twice|round)\b|\bchas(e|ed|ing)\b",
            r"\b(nobody|no one|no-one|noone) (replies|replied|answers|answered|called|calls|rang"
            r"|contacted|got back|gets back|could)\b",
            r"\bno (reply|response|answer|call ?backs?) (yet|from|to|whatsoever)\b|\bno call ?backs?\b",
            r"\b(never|didn'?t|did not|don'?t|do not) (got?|receive[ds]?|hear|heard) (a |any )?"
            r"(reply|response|answer|call ?back|anything back)\b",
            r"\b(difficult|hard|impossible|struggl\w*|trouble|problems?|hassle)[^.!?]{0,12}\b(to |in |"
            r"with )?(get(ting)? (through|hold|in touch|to)|reach|contact|speak|order|place|sign|set)",
            r"\bhassle\b(?![- ]free)|\b(was|been|is) a nightmare\b|\bnightmare (to|getting|trying)\b"
            r"|\bpainful\b|\bombudsman\b|\blabyrinth\b|\brun ?around\b",
            r"\b(different|conflicting) (answers|stories|information|people|departments|advisors)\b",
            r"\b(missed|failed|cancelled|canceled) (engineer |installation )?(appointments|visits)\b"
            r"|\bappointments? (missed|cancelled|canceled) (twice|again)",
            r"\btime off work\b|\bwaited in all day\b",
        ],
        "ja": [
            r"何度も",
            r"[0-9０-９一二三四五六七八九十]+回も",
            r"たらい回し",
            r"つながら(ない|ず)",
            r"返事がありません",
            r"返信がない",
        ],
    },
    "callback": {
        "en": [
            _asked(("call", "ring", "phone"), " me back"),
            r"\b(please|pls|plz|can|could|would|will) (you |someone |somebody |anyone )?(please )?"
            r"(call|ring|phone|contact|email|e-mail|dm|message|text) (me|us)\b",
            r"\b(give|send) (me|us) a (call|ring|message|dm|text)\b",
            r"\b(can|could) you (please )?dm\b|\bdm me\b",
            r"\b(need|want|would like|like) to (speak|talk) (to|with) (someone|somebody|a person"
            r"|a manager|a human|a real person)\b",
            r"\b(get|be) in touch with me\b|\bcontact me\b",
            _asked(("call",), " me") + r"\b",
            r"\b(need|want|like) (you|someone|somebody) to (call|ring|phone|contact) (me|us)\b",
        ],
        "ja": [
            r"折り返し",
            r"電話(を|が)?(ください|下さい|ほしい|欲しい|お願い)",
            r"連絡(を|が)?(ください|下さい|ほしい|欲しい)",
        ],
    },
}


class IntentDetector(Estimator):
    """Intents found in a text, each with its evidence span: ``leave`` from the learned
    detector (``leave``, by default the shipped one; ``use_leave=False`` switches it off),
    ``competitor`` (an alternative or a competitor named, see ``competitor_mention``), the
    others from patterns per language."""

    def __init__(
        self,
        extra: dict[str, dict[str, list[str]]] | None = None,
        leave: LeaveDetector | None = None,
        use_leave: bool = True,
    ) -> None:
        self.extra = extra
        self.leave = leave
        self.use_leave = use_leave

    def fit(self, texts: object = None, y: object = None) -> IntentDetector:
        """Compile the patterns (defaults plus ``extra``) and take the leave detector (already
        trained: it is shared, never refitted here)."""
        self._forget()
        self.leave_: LeaveDetector | None = (
            (self.leave or load_default_leave()) if self.use_leave else None
        )
        merged: dict[str, dict[str, list[str]]] = {
            k: {lang: list(p) for lang, p in v.items()} for k, v in DEFAULT_PATTERNS.items()
        }
        for intent, by_language in (self.extra or {}).items():
            for language, patterns in by_language.items():
                merged.setdefault(intent, {}).setdefault(language, []).extend(patterns)
        self.patterns_ = {
            intent: {
                language: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
                for language, patterns in by_language.items()
            }
            for intent, by_language in merged.items()
        }
        # For ASCII text, lower-cased once, the same patterns without IGNORECASE (``lower_twin``)
        self.lowered_ = {
            intent: {language: lower_twin(p) for language, p in by_language.items()}
            for intent, by_language in self.patterns_.items()
        }
        return self

    def detect(
        self,
        texts: Sequence[str],
        language: str | None,
        analysed: Sequence[Analysed] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Per text: [{intent, start, end}] for every intent found; ``leave`` (at most one, the
        strongest statement) also has ``kind`` and ``confidence``. ``analysed``: the
        tokenizer's records of the same texts, when the caller has them."""
        self._check_fitted("patterns_")
        leaving = (
            self.leave_.detect(texts, language, analysed)
            if self.leave_ is not None
            else [[] for _ in texts]
        )
        chosen = []  # per intent, this language's pattern (or English) and its lower-cased twin
        for intent, by_language in self.patterns_.items():
            key = language if language in by_language else "en"
            chosen.append((intent, by_language.get(key), self.lowered_[intent].get(key)))
        out: list[list[dict[str, Any]]] = []
        for text in texts:
            found = [leaving[len(out)][0]] if leaving[len(out)] else []
            lowered = text.lower() if text.isascii() else None
            for intent, pattern, fast in chosen:
                if lowered is not None and fast is not None:
                    hit = fast.search(lowered)
                else:
                    hit = pattern.search(text) if pattern is not None else None
                if hit:
                    found.append({"intent": intent, "start": hit.start(), "end": hit.end()})
            named = competitor_mention(text, language)
            if named is not None:
                found.append({"intent": COMPETITOR, "start": named[0], "end": named[1]})
            out.append(found)
        return out
