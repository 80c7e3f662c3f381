"""Reasons in words a retention agent uses, in English and Japanese.

A reason is what scoring keeps: the feature, the customer's value, its contribution to the
risk (log-odds; positive raises it), and — for survey scores, themes and intents — the
evidence (date and the customer's own words). ``reason_text`` turns one into a sentence:
"gave 2/10 in March 2026", "wrote negatively about “Billing and charges” in May 2026",
"spoke of switching to another provider in May 2026" — never "sentiment min 365d = -0.7". A reason that
lowers the risk says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

Language = Literal["en", "ja"]
LANGUAGES: tuple[Language, ...] = ("en", "ja")

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# intent: (said, not said) in English, then in Japanese
_INTENTS = {
    "leave": (
        "spoke of leaving",
        "has not talked about leaving",
        "離反（解約・乗り換え）の意向を示した",
        "離反の話はしていない",
    ),
    "cancel": (  # reasons stored before churn intent became ``leave``
        "said they want to cancel",
        "has not talked about cancelling",
        "解約の意向を示した",
        "解約の話はしていない",
    ),
    "effort": (
        "complained about how much effort things take",
        "no complaints about effort",
        "手間がかかることに不満を示した",
        "手間についての不満はない",
    ),
    "callback": (
        "asked to be called back",
        "has not asked for a call back",
        "折り返しの連絡を求めた",
        "折り返しの依頼はない",
    ),
}
# churn intent by kind (the evidence's ``kind``): said in English, then in Japanese
_LEAVE_KINDS = {
    # "spoke of": the kind says what, the quote says how sure ("I'm thinking of switching",
    # "本気で解約を検討しています" are this kind too, and "said they will" would claim more)
    "cancel_account": (
        "spoke of cancelling their account or contract",
        "解約・退会について述べた",
    ),
    "switch": ("spoke of switching to another provider", "他社への乗り換えについて述べた"),
    "stop_using": (
        "spoke of no longer using or buying from us",
        "利用・購入をやめることについて述べた",
    ),
    "never_again": ("said they would not use or buy from us again", "二度と利用しないと述べた"),
    "threat": (
        "threatened to cancel or switch unless things improve",
        "改善されなければ解約・乗り換えすると警告した",
    ),
    "already_left": (
        "said they have already cancelled or switched",
        "すでに解約・乗り換えをしたと述べた",
    ),
}
#: A comment this negative or more is "something strongly negative" (``sentiment_min_*``).
STRONGLY_NEGATIVE = -0.3
_SCORES = {"nps": ("NPS", 10), "csat": ("satisfaction", 5), "ces": ("effort", 7)}
_SCORES_JA = {"nps": "NPS", "csat": "満足度", "ces": "努力度"}
_THEMES_JA = {"other": "その他"}  # themes every model has, when no label in Japanese is given
_CHANNELS_JA = {
    "survey": "アンケート",
    "email": "メール",
    "chat": "チャット",
    "phone": "電話",
    "social": "SNS",
    "review": "レビュー",
    "app_review": "アプリのレビュー",
    "line": "LINE",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "web": "ウェブ",
    "other": "その他",
}


def _when(evidence: dict[str, Any] | None, language: Language) -> str:
    """' in March 2026' / '2026年3月に' from the evidence's date, or ''."""
    date = (evidence or {}).get("date")
    match = re.match(r"(\d{4})-(\d{2})", str(date or ""))
    if not match:
        return ""
    year, month = int(match[1]), int(match[2])
    return f" in {_MONTHS[month - 1]} {year}" if language == "en" else f"{year}年{month}月に"


def _number(value: Any, digits: int = 0) -> str:
    return f"{_f(value):,.{digits}f}"


def _ago(value: Any, language: Language) -> str:
    """'3 days ago' / '1 day ago' / 'within the last day' (and in Japanese)."""
    shown = _number(value or 0)
    if shown == "0":
        return "within the last day" if language == "en" else "1日以内"
    return f"{_count(value, 'day', 'days')} ago" if language == "en" else f"{shown}日前"


def _count(value: Any, one: str, many: str) -> str:
    """'1 day' / '12 days': the number and the word that goes with it."""
    shown = _number(value or 0)
    return f"{shown} {one if shown == '1' else many}"


def _f(value: Any) -> float:
    return float(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _phrase(
    reason: dict[str, Any], language: Language, theme_labels: Mapping[str, str] | None
) -> str:
    feature = str(reason["feature"])
    value = reason.get("value")
    evidence = reason.get("evidence")
    when = _when(evidence, language)
    en = language == "en"
    # Themes: the customer wrote about it (negatively).
    if feature.startswith("theme_"):
        negative = feature.endswith("_negative")
        theme_id = feature.removeprefix("theme_").removesuffix("_negative")
        label = (
            (theme_labels or {}).get(theme_id)
            or (None if en else _THEMES_JA.get(theme_id))
            or reason.get("theme_label")
            or theme_id
        )
        if _missing(value) or _f(value) <= 0:
            return (
                f"has not written about “{label}”" if en else f"「{label}」についての書き込みはない"
            )
        if en:
            return f"wrote {'negatively ' if negative else ''}about “{label}”{when}"
        return f"{when}「{label}」について{'否定的に' if negative else ''}書いた"
    if match := re.fullmatch(r"intent_(\w+?)_(\d+)d", feature):
        intent, days = match[1], match[2]
        said_en, not_en, said_ja, not_ja = _INTENTS.get(
            intent,
            (
                f"mentioned {intent}",
                f"has not mentioned {intent}",
                f"{intent}に言及した",
                f"{intent}への言及はない",
            ),
        )
        if _missing(value) or _f(value) <= 0:
            return f"{not_en} in the last {days} days" if en else f"直近{days}日、{not_ja}"
        kind = (evidence or {}).get("kind")
        if intent == "leave" and kind in _LEAVE_KINDS:
            said_en, said_ja = _LEAVE_KINDS[kind]
        return f"{said_en}{when}" if en else f"{when}{said_ja}"
    for score, (name, top) in _SCORES.items():
        ja = _SCORES_JA[score]
        if feature == f"{score}_last":
            if _missing(value):
                return f"has never answered a {name} survey" if en else f"{ja}の回答なし"
            return (
                f"gave {_number(value)}/{top} in the latest {name} survey{when}"
                if en
                else f"{when}直近の{ja}で{_number(value)}/{top}と回答"
            )
        if feature == f"{score}_mean":
            if _missing(value):
                return f"no {name} answers" if en else f"{ja}の回答なし"
            return (
                f"{name} answers average {_number(value, 1)}/{top}"
                if en
                else f"{ja}の平均は{_number(value, 1)}/{top}"
            )
    if feature == "nps_min":
        if _missing(value):
            return "has never answered an NPS survey" if en else "NPSの回答なし"
        return (
            f"gave as low as {_number(value)}/10{when}"
            if en
            else f"{when}NPSで最低{_number(value)}/10と回答"
        )
    if feature == "nps_trend":
        if _missing(value):
            return "no NPS trend yet" if en else "NPSの推移はまだない"
        down = _f(value) < 0
        size = _number(abs(_f(value)), 1)
        if en:
            return f"latest NPS {size} points {'below' if down else 'above'} their average"
        return f"直近のNPSが平均より{size}ポイント{'低い' if down else '高い'}"
    if feature == "detractor_last":
        if _missing(value):
            return "has never answered an NPS survey" if en else "NPSの回答なし"
        if _f(value) > 0:
            return (
                f"was a detractor (0–6) in the latest NPS survey{when}"
                if en
                else f"{when}直近のNPSで批判者（0〜6）"
            )
        return "was not a detractor in the latest NPS survey" if en else "直近のNPSは批判者ではない"
    if feature == "detractors_365d":
        n = _number(value or 0)
        return (
            f"{_count(value, 'detractor answer', 'detractor answers')} in the last year"
            if en
            else f"直近1年に批判的な回答が{n}回"
        )
    if match := re.fullmatch(r"sentiment_(mean|min)_(\d+)d", feature):
        days = match[2]
        if _missing(value):
            return f"no comments in the last {days} days" if en else f"直近{days}日のコメントなし"
        v = _f(value)
        if match[1] == "mean":
            tone = "negative" if v < -0.05 else "positive" if v > 0.05 else "neutral"
            tone_ja = {"negative": "否定的", "positive": "肯定的", "neutral": "中立的"}[tone]
            return (
                f"comments in the last {days} days were mostly {tone}"
                if en
                else f"直近{days}日のコメントは主に{tone_ja}"
            )
        if v <= STRONGLY_NEGATIVE:
            if when:  # the comment is quoted: say when it was written
                return (
                    f"wrote something strongly negative{when}"
                    if en
                    else f"{when}強く否定的なコメントがあった"
                )
            return (
                f"wrote something strongly negative in the last {days} days"
                if en
                else f"直近{days}日に強く否定的なコメントがあった"
            )
        return (
            f"nothing strongly negative in the last {days} days"
            if en
            else f"直近{days}日に強く否定的なコメントはない"
        )
    if feature == "sentiment_trend":
        if _missing(value):
            return "no recent comments to compare" if en else "比較できる最近のコメントがない"
        worse = _f(value) < 0
        if en:
            return f"comments turned {'more negative' if worse else 'more positive'} lately"
        return f"最近のコメントが{'より否定的' if worse else 'より肯定的'}になった"
    if feature == "days_since_last_negative":
        if _missing(value):
            return "no negative feedback yet" if en else "否定的なフィードバックはない"
        ago = _ago(value, language)
        return f"last negative feedback {ago}" if en else f"最後の否定的なフィードバックは{ago}"
    if feature == "days_since_last_contact":
        if _missing(value):
            return "has never been in touch" if en else "これまで接点がない"
        ago = _ago(value, language)
        return f"last in touch {ago}" if en else f"最後の接点は{ago}"
    if match := re.fullmatch(r"contacts_(\d+)d", feature):
        n = _number(value or 0)
        return (
            f"{_count(value, 'contact', 'contacts')} in the last {match[1]} days"
            if en
            else f"直近{match[1]}日に{n}回の接点"
        )
    if match := re.fullmatch(r"channel_(.+)_365d", feature):
        channel = match[1]
        n = _number(value or 0)
        if en:
            return f"{_count(value, 'contact', 'contacts')} by {channel.replace('_', ' ')} in the last year"
        return f"直近1年に{_CHANNELS_JA.get(channel, channel)}での接点が{n}回"
    if feature == "tenure_days":
        if _missing(value):
            return "sign-up date unknown" if en else "契約開始日不明"
        months = _f(value) / 30.44
        if round(months) < 1:
            return "a customer for less than a month" if en else "利用期間1か月未満"
        if months < 24:
            return (
                f"a customer for {_count(round(months), 'month', 'months')}"
                if en
                else f"利用期間{_number(months)}か月"
            )
        return (
            f"a customer for {_number(months / 12, 1)} years"
            if en
            else f"利用期間{_number(months / 12, 1)}年"
        )
    if feature == "monthly_value":
        if _missing(value):
            return "monthly value unknown" if en else "月額不明"
        return f"pays {_number(value, 2)} a month" if en else f"月額{_number(value, 2)}"
    if feature.startswith("attr_"):
        # the attribute's name as the data has it; in Japanese the words around it are Japanese
        name = feature.removeprefix("attr_").replace("_", " ")
        shown = "(not set)" if _missing(value) else str(value)
        return (
            f"{name}: {shown}"
            if en
            else f"属性「{name}」：{'未設定' if _missing(value) else value}"
        )
    if not en:
        return f"項目「{feature}」：{'値なし' if _missing(value) else value}"
    shown = "missing" if _missing(value) else str(value)
    return f"{feature.replace('_', ' ')}: {shown}"


def reason_text(
    reason: dict[str, Any],
    language: Language = "en",
    theme_labels: Mapping[str, str] | None = None,
) -> str:
    """One reason as a sentence in ``language``; a reason that lowers the risk says so.
    ``theme_labels`` (theme id to label in ``language``, e.g. from the taxonomy) name themes
    in that language; without one a theme keeps the label stored with the reason."""
    phrase = _phrase(reason, language, theme_labels)
    if float(reason.get("contribution") or 0) < 0:
        return (
            f"{phrase} (lowers the risk)" if language == "en" else f"{phrase}（リスクを下げる要因）"
        )
    return phrase


def in_language(
    reasons: list[dict[str, Any]],
    language: Language,
    theme_labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Reasons with their ``text`` in ``language``, written anew from the stored fields (so
    reasons stored by an older version read like today's too); ``theme_labels`` as in
    ``reason_text``."""
    return [{**r, "text": reason_text(r, language, theme_labels)} for r in reasons]
