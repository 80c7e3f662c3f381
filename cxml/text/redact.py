"""PII redaction, English and Japanese: e-mail addresses, card-like numbers (Luhn-checked),
phone numbers, IBANs, person names, postal addresses and postcodes, dates of birth, and
account / contract / membership numbers.

Redaction runs before text reaches models, artifacts or logs. Offsets in the rest of
the text pipeline refer to the redacted text, which is what leaves cxml.

Names and addresses are found by what announces them, not by a list of people or places:
in English a title ("Mr", "Dr"), a cue ("my name is", "spoke to", "agent"), a house number
before a street word, a postcode's shape; in Japanese SudachiPy's dictionary (sudachidict-core,
already installed for tokens) tags surnames, given names and place names, and a name is
redacted when it comes as surname + given name, before an honorific (さん, 様, 氏 …) or
after a cue (担当, 名前は); a place name only with the block numbers that make it an address.
A name nothing announces ("Jane was lovely") is not found in English: see docs/decisions.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from cxml.estimator import Estimator

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# Runs of digits with spaces, dots, dashes or brackets: checked as cards, then phones.
# Bounded by ASCII word characters only: Japanese text runs straight into numbers.
DIGITS = re.compile(r"(?<![A-Za-z0-9.])\+?\(?\d[\d \-.()\uff0d\u2010-\u2015]{6,}\d(?![A-Za-z0-9])")
PLACEHOLDERS = {
    "email": "[EMAIL]",
    "card": "[CARD]",
    "phone": "[PHONE]",
    "iban": "[IBAN]",
    "name": "[NAME]",
    "address": "[ADDRESS]",
    "postcode": "[POSTCODE]",
    "birth_date": "[BIRTH_DATE]",
    "account": "[ACCOUNT]",
}
PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


def _luhn(number: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(number)):
        digit = int(char)
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")


def _digit_kind(match: str) -> str | None:
    if _DATE_LIKE.match(match):
        return None
    digits = re.sub(r"\D", "", match)
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return "card"
    if 9 <= len(digits) <= 15:
        return "phone"
    return None


# --- names, addresses, dates of birth, account numbers -------------------------------------

_CAP = r"[A-Z][a-z'’\-]+"
_NAME_STOP = frozenset(
    [
        "A",
        "An",
        "The",
        "This",
        "That",
        "These",
        "Those",
        "Someone",
        "Somebody",
        "Anyone",
        "Nobody",
        "Everyone",
        "He",
        "She",
        "They",
        "Them",
        "It",
        "I",
        "You",
        "We",
        "Your",
        "Their",
        "His",
        "Her",
        "Our",
        "My",
        "Me",
        "Him",
        "Us",
        "Who",
        "Which",
        "What",
        "And",
        "But",
        "Or",
        "So",
        "On",
        "In",
        "At",
        "To",
        "For",
        "From",
        "With",
        "By",
        "Of",
        "Customer",
        "Customers",
        "Service",
        "Services",
        "Support",
        "Sales",
        "Billing",
        "Technical",
        "Tech",
        "Team",
        "Teams",
        "Manager",
        "Managers",
        "Head",
        "Office",
        "Store",
        "Shop",
        "Branch",
        "Online",
        "Live",
        "Chat",
        "Phone",
        "Call",
        "Calls",
        "Email",
        "Mail",
        "Social",
        "Media",
        "Today",
        "Yesterday",
        "Tomorrow",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Very",
        "Really",
        "So",
        "Not",
        "Extremely",
        "Absolutely",
        "Happy",
        "Sorry",
        "Sure",
        "Glad",
        "Just",
        "Still",
        "Also",
        "Now",
        "Here",
        "There",
        "Then",
        "Again",
        "Please",
        "Thanks",
        "Thank",
        "Hello",
        "Hi",
        "Dear",
        "Yes",
        "No",
        "Ok",
        "Okay",
        "Sir",
        "Madam",
        "Agent",
        "Agents",
        "Advisor",
        "Adviser",
        "Representative",
        "Rep",
        "Engineer",
        "Engineers",
        "Operator",
        "Staff",
        "Department",
        "Complaints",
        "Retention",
        "Cancellations",
        "Accounts",
        "Helpdesk",
        "Desk",
        "Line",
        "Lines",
        "Twitter",
        "Facebook",
        "Instagram",
        "Whatsapp",
        "Google",
        "Apple",
        "Amazon",
        "Microsoft",
    ]
)
# A title before a name; cues before a name; "I am" / "I'm" before a full name.
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+(?P<pii>{_CAP}(?:\s+{_CAP})?)")
_NAME_CUE = re.compile(
    r"(?i:\bmy name is|\bmy name's|\bname\s*:|\bnamed|\bspoke (?:to|with)|\btalked (?:to|with)"
    r"|\bdealt with|\bhelped by|\bserved by|\bagent|\badvis[oe]r|\brepresentative|\brep"
    r"|\bengineer|\btechnician|\bhandler|\boperator|\bconsultant|\bcolleague|\bsigned)"
    rf"\s*,?\s+(?P<pii>{_CAP}(?:\s+{_CAP})?)\b"
)
_SELF = re.compile(rf"(?i:\bi am|\bi'm|\bthis is)\s+(?P<pii>{_CAP}\s+{_CAP})\b")
_SIGN_OFF = re.compile(
    r"(?i:regards|thanks|thank you|cheers|sincerely|best wishes|best),?[ \t]*\n\s*"
    rf"(?P<pii>{_CAP}(?:\s+{_CAP})?)\s*$"
)
_STREET = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Court|Ct|Crescent|Cres|Place"
    r"|Pl|Boulevard|Blvd|Terrace|Gardens|Grove|Square|Sq|Row|Mews|Walk|Parkway|Pkwy|Highway|Hwy"
)
_NOT_STREET_WORD = (
    r"(?!(?:the|on|of|a|an|to|in|for|and|or|my|your|our|their|his|her|down|up|at|by|from"
    r"|with|this|that|is|was|were|are|it|would|will|be|been|had|has|have|should|could|can"
    r"|must|might|may|not|too|more|less|very|so|hours?|days?|weeks?|months?|years?|minutes?|mins?"
    r"|seconds?|times?|miles?|km|calls?|people|cars?|lanes?|ways?)\b)"
)
_ADDRESS_EN = re.compile(
    r"(?i:\b(?:(?:flat|apt|apartment|unit|suite)\s+\d+[a-z]?,?\s+)?\d{1,5}[a-z]?,?\s+"
    rf"(?:{_NOT_STREET_WORD}[a-z'’\-]+\s+){{1,3}}(?:{_STREET})\b\.?)"
)
_UNIT_EN = re.compile(r"\b(?:Flat|Apt|Apartment|Unit|Suite)\s+\d+[A-Z]?\b")
_POSTCODE_UK = re.compile(
    r"(?i:\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b)(?<!\d(?i:st|nd|rd|th))"
)
_ZIP_US = re.compile(r"\b[A-Z]{2},?\s+(?P<pii>\d{5}(?:-\d{4})?)\b")
_NEXT_TO_ADDRESS = r"\[(?:ADDRESS|POSTCODE|NAME)\]"
_NAME_BY_ADDRESS = re.compile(
    r"(?P<pii>\b[A-Z][a-z'’\-]+\s+[A-Za-z][a-z'’\-]+)\s*[-–,:]\s*\[(?:ADDRESS|POSTCODE)\]"
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE_EN = (
    r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
)
_BIRTH_EN = re.compile(
    r"(?i:\bdate of birth|\bd\.o\.b\.?|\bdob|\bborn on|\bborn|\bbirthday|\bbirth date)"
    rf"\s*(?:is|was|:|-)?\s*(?P<pii>{_DATE_EN}|(?<=in )\d{{4}}|in \d{{4}})"
)
_ACCOUNT_EN = re.compile(
    r"(?i:\b(?:account|acct|a/c|contract|customer|membership|member|policy|subscriber"
    r"|loyalty|frequent flyer|mileage plus|ff)(?:\s+(?:number|no\.?|num|id|code|ref))?)"
    r"\s*(?:is|:|#|-)?\s*#?\s*(?P<pii>(?=(?:[A-Za-z\-]*\d){4})[A-Za-z0-9][A-Za-z0-9\-]{4,})\b"
)
_DATE_JA = (
    r"(?:[0-9０-９]{4}|昭和|平成|令和|大正)\s*[0-9０-９元]*\s*年\s*[0-9０-９]{1,2}\s*月"
    r"\s*[0-9０-９]{1,2}\s*日|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"
)
_DATE_BY_ADDRESS = re.compile(rf"{_NEXT_TO_ADDRESS}[.,;]?\s{{0,2}}(?P<pii>{_DATE_EN})")
_BIRTH_JA = re.compile(rf"(?:生年月日|誕生日)\s*(?:は|：|:)?\s*(?P<pii>{_DATE_JA})")
_ACCOUNT_JA = re.compile(
    r"(?:会員番号|契約番号|お客様番号|顧客番号|口座番号|証券番号|加入者番号|会員ID|アカウントID)"
    r"\s*(?:は|：|:)?\s*(?P<pii>[A-Za-z0-9０-９Ａ-Ｚ\-－]{4,})"
)
_POSTCODE_JA = re.compile(r"〒\s?[0-9０-９]{3}[-－ー]?[0-9０-９]{4}")
_KANJI = re.compile(r"[\u4e00-\u9fff]")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_HONORIFIC = frozenset({"さん", "様", "さま", "氏", "くん", "君", "先生", "殿"})
# A "name" before these is a shop, a station, a company: not a person.
_JA_PLACE_SUFFIX = (
    "店",
    "駅",
    "線",
    "市",
    "区",
    "町",
    "村",
    "工場",
    "ビル",
    "支店",
    "本店",
    "営業所",
    "病院",
    "大学",
    "高校",
    "グループ",
    "株式会社",
    "銀行",
    "ホール",
    "アプリ",
)
# An address: a municipality and block numbers (2丁目8-1, 3番地, 5-2-1).
_JA_MUNICIPAL = re.compile(r"[市区町村郡]")
_JA_BLOCKS = re.compile(
    r"[0-9０-９一二三四五六七八九十]+\s*(?:丁目|番地|番|号)|[0-9０-９]+\s*[-－ー‐][0-9０-９]+"
)
_JA_NAME_CUE = re.compile(r"(?:担当(?:者)?(?:の|は|：|:)?|名前(?:は|：|:)|氏名(?:は|：|:)?)$")
_JA_BLOCK = frozenset(
    {"丁目", "番地", "番", "号", "-", "－", "ー", "‐", "の", "条", "東", "西", "南", "北"}
)
# Cheap gates (substring tests on the lower-cased text): a pattern runs only where its cue is.
_CUES_TITLE = ("Mr", "Ms", "Miss", "Mx", "Dr", "Prof")
_CUES_NAME = (
    "name",
    "spoke",
    "talked",
    "dealt",
    "helped by",
    "served by",
    "agent",
    "advis",
    "representative",
    "rep ",
    "engineer",
    "technician",
    "handler",
    "operator",
    "consultant",
    "colleague",
    "signed",
)
_CUES_SELF = ("i am ", "i'm ", "this is ")
_CUES_SIGN_OFF = ("regards", "thank", "cheers", "sincerely", "best")
_CUES_ACCOUNT = (
    "account",
    "acct",
    "a/c",
    "contract",
    "customer",
    "member",
    "policy",
    "subscriber",
    "loyalty",
    "frequent flyer",
    "mileage",
    "ff",
)
_CUES_BIRTH = ("birth", "dob", "d.o.b", "born", "birthday")
_CUES_UNIT = ("Flat", "Apt", "Apartment", "Unit", "Suite")
_STREET_WORD = re.compile(rf"\b(?:{_STREET.lower()})\b")
_POSTCODE_TAIL = re.compile(r"\d[abd-hjlnp-uw-z]{2}\b")
_FIVE_DIGITS = re.compile(r"\d{5}")
_MAYBE_JA = re.compile(  # an honorific, a cue, or block numbers; else SudachiPy is not run
    r"さん|様|さま|氏|くん|君|先生|殿|申します|言います|担当|名前|丁目|番地|番|号"
    r"|[0-9０-９][-－ー‐][0-9０-９]"
)
_MAYBE_PII = re.compile(r"@|\d.*\d.*\d")
_DIGIT = re.compile(r"\d")


@functools.lru_cache(maxsize=1)
def _sudachi() -> Any:
    from sudachipy import dictionary, tokenizer

    return dictionary.Dictionary().create(tokenizer.Tokenizer.SplitMode.C)


def _japanese_spans(text: str) -> list[tuple[int, int, str]]:
    """Names and addresses in Japanese text, from SudachiPy's person and place tags."""
    morphemes = list(_sudachi().tokenize(text))
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(morphemes):
        pos = morphemes[i].part_of_speech()
        if pos[:3] == ("名詞", "固有名詞", "人名"):
            j = i
            while j + 1 < len(morphemes) and morphemes[j + 1].part_of_speech()[2] == "人名":
                j += 1
            after = morphemes[j + 1].surface() if j + 1 < len(morphemes) else ""
            full_name = (  # surname + given name, in kanji (a kana pair is mostly a brand)
                j > i
                and pos[3] == "姓"
                and morphemes[j].part_of_speech()[3] == "名"
                and _KANJI.search(text[morphemes[i].begin() : morphemes[j].end()]) is not None
            )
            announced = (
                full_name
                or after in _HONORIFIC
                or text[morphemes[j].end() :].startswith(("と申します", "と言います"))
                or _JA_NAME_CUE.search(text[: morphemes[i].begin()]) is not None
            )
            if announced and not after.startswith(_JA_PLACE_SUFFIX):
                spans.append((morphemes[i].begin(), morphemes[j].end(), "name"))
            i = j + 1
            continue
        if pos[:3] == ("名詞", "固有名詞", "地名"):
            j = i
            while j + 1 < len(morphemes) and (
                morphemes[j + 1].surface() in _JA_BLOCK
                or morphemes[j + 1].part_of_speech()[1] == "数詞"
                or morphemes[j + 1].part_of_speech()[2] == "地名"
            ):
                j += 1
            place, tail = text[morphemes[i].begin() : morphemes[j].end()], morphemes[j + 1 :]
            municipal = _JA_MUNICIPAL.search(place) is not None
            blocks = _JA_BLOCKS.search(place) is not None
            if municipal and blocks and not (tail and tail[0].surface().startswith("店")):
                spans.append((morphemes[i].begin(), morphemes[j].end(), "address"))
            i = j + 1
            continue
        i += 1
    return spans


def _replace_spans(text: str, spans: list[tuple[int, int, str]], counts: dict[str, int]) -> str:
    for start, end, kind in sorted(spans, reverse=True):
        counts[kind] = counts.get(kind, 0) + 1
        text = text[:start] + PLACEHOLDERS[kind] + text[end:]
    return text


def _sub(pattern: re.Pattern[str], kind: str, text: str, counts: dict[str, int]) -> str:
    """Replace what ``pattern`` matches — its ``pii`` group when it has one, keeping the cue —
    by ``kind``'s placeholder."""
    spans = []
    for match in pattern.finditer(text):
        group = "pii" if "pii" in pattern.groupindex else 0
        if kind == "name" and match.group(group).split()[0] in _NAME_STOP:
            continue
        spans.append((match.start(group), match.end(group), kind))
    return _replace_spans(text, spans, counts) if spans else text


def _has(low: str, cues: tuple[str, ...]) -> bool:
    return any(cue in low for cue in cues)


def _patterns(text: str, low: str, digits: bool) -> list[tuple[re.Pattern[str], str]]:
    """The patterns worth running on ``text``, in order: numbers, addresses, then names."""
    out: list[tuple[re.Pattern[str], str]] = []
    if digits:
        if _has(low, _CUES_ACCOUNT):
            out.append((_ACCOUNT_EN, "account"))
        if _has(low, _CUES_BIRTH):
            out.append((_BIRTH_EN, "birth_date"))
        if _CJK.search(text):
            out += [(_ACCOUNT_JA, "account"), (_BIRTH_JA, "birth_date")]
            if "〒" in text:
                out.append((_POSTCODE_JA, "postcode"))
        if _STREET_WORD.search(low):
            out.append((_ADDRESS_EN, "address"))
        if _has(text, _CUES_UNIT):
            out.append((_UNIT_EN, "address"))
        if _POSTCODE_TAIL.search(low):
            out.append((_POSTCODE_UK, "postcode"))
        if _FIVE_DIGITS.search(text):
            out.append((_ZIP_US, "postcode"))
    if _has(text, _CUES_TITLE):
        out.append((_TITLE, "name"))
    if _has(low, _CUES_NAME):
        out.append((_NAME_CUE, "name"))
    if _has(low, _CUES_SELF):
        out.append((_SELF, "name"))
    if "\n" in text and _has(low, _CUES_SIGN_OFF):
        out.append((_SIGN_OFF, "name"))
    return out


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Return the text with PII replaced by placeholders, and how many of each were found."""
    counts: dict[str, int] = {}
    numbers = _MAYBE_PII.search(text) is not None
    digits_at_all = numbers or _DIGIT.search(text) is not None
    japanese = _CJK.search(text) is not None and _MAYBE_JA.search(text) is not None
    low = text.lower()
    patterns = _patterns(text, low, digits_at_all)
    if not (numbers or japanese or patterns):
        return text, counts  # no @, no cue, no Japanese cue: nothing to redact

    def replace(kind: str) -> Callable[[re.Match[str]], str]:
        def inner(match: re.Match[str]) -> str:
            counts[kind] = counts.get(kind, 0) + 1
            return PLACEHOLDERS[kind]

        return inner

    if numbers:
        text = EMAIL.sub(replace("email"), text)
        text = IBAN.sub(replace("iban"), text)
    for pattern, kind in patterns:
        text = _sub(pattern, kind, text, counts)
    if japanese:
        text = _replace_spans(text, _japanese_spans(text), counts)
    if "[" in text:  # what stands next to an address is the rest of it: a name, a birth date
        text = _sub(_NAME_BY_ADDRESS, "name", text, counts)
        text = _sub(_DATE_BY_ADDRESS, "birth_date", text, counts)

    def digits(match: re.Match[str]) -> str:
        kind = _digit_kind(match.group(0))
        if kind is None:
            return match.group(0)
        counts[kind] = counts.get(kind, 0) + 1
        return PLACEHOLDERS[kind]

    if numbers:
        text = DIGITS.sub(digits, text)  # \d also matches full-width digits
    return text, counts


def redacted(texts: Iterable[Any]) -> list[Any]:
    """Texts as they may leave cxml: PII replaced by placeholders (what is not text — None, a
    missing value — stays as it is)."""
    return [redact(t)[0] if isinstance(t, str) and t else t for t in texts]


_LETTER = re.compile(r"[^\W\d_]")
_IDS = ("feedback_id", "customer_id")


def _words(value: Any) -> bool:
    """A value written in words (at least one letter): the kind that holds a comment. A value
    without letters is a number, a date or a code, shown as sent so the row can be fixed (the
    redactor would read a long number as a phone)."""
    return isinstance(value, str) and _LETTER.search(value) is not None


def redacted_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row's errors (field, value, reason) as they may leave cxml: where the value is words,
    its PII and the reason quoting it are redacted; ids, numbers and dates are kept."""
    out = []
    for error in errors:
        if error.get("field") in _IDS or not _words(error.get("value")):
            out.append(dict(error))
            continue
        out.append(
            {
                **error,
                "value": redact(error["value"])[0],
                "reason": redact(str(error.get("reason", "")))[0],
            }
        )
    return out


def redacted_reject(record: dict[str, Any]) -> dict[str, Any]:
    """A stored reject as it may leave cxml (``cxml rejects``, the ingest's rejects file, an
    API item's errors): its errors as ``redacted_errors`` makes them, and every value in words
    of its raw and normalised row redacted (ids kept)."""

    def row(values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {k: redact(v)[0] if k not in _IDS and _words(v) else v for k, v in values.items()}

    errors = record.get("errors")
    errors = redacted_errors(errors) if isinstance(errors, list) else errors
    first = errors[0] if isinstance(errors, list) and errors else {}
    out = {
        **record,
        "errors": errors,
        "raw": row(record.get("raw")),
        "normalized": row(record.get("normalized")),
    }
    if isinstance(errors, list):
        out["reason"] = "; ".join(str(e.get("reason", "")) for e in errors)
        if "value" in record and first:
            out["value"] = first.get("value")
    return out


class Redactor(Estimator):
    """Estimator wrapper of ``redact``; ``enabled=False`` passes text through.

    Stateless: nothing to learn, so it works with or without ``fit`` (scikit-learn's
    convention for stateless transformers)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def fit(self, texts: object = None, y: object = None) -> Redactor:
        """Nothing to learn."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def transform(self, texts: list[str]) -> list[str]:
        """The redacted texts."""
        if not self.enabled:
            return list(texts)
        return redacted(texts)
