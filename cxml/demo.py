"""The synthetic world generator: customers and multi-channel feedback, English and Japanese.

The world has planted truth written beside it: each comment's themes, sentiment
and intents, and each customer's pains (which theme, since when) and churn
hazard. Churn is driven partly by what customers complain about, so the text
carries signal a model can find. Deterministic under ``seed`` and ``end``.

The themes below belong to this demo world only (a subscription service);
nothing else in cxml knows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# theme: (share of customers who develop this pain, churn hazard multiplier while it lasts)
PAINS: dict[str, tuple[float, float]] = {
    "billing": (0.14, 3.0),
    "network": (0.18, 2.5),
    "support": (0.14, 2.0),
    "price": (0.15, 3.2),
    "app": (0.10, 1.4),
    "installation": (0.07, 1.8),
}
POSITIVE_THEMES = ("staff", "speed", "value")
NEUTRAL_THEMES = ("account",)

# Sentences per (theme, polarity, language). {amount}, {days}, {times} are filled in.
SENTENCES: dict[tuple[str, str, str], list[str]] = {
    ("billing", "negative", "en"): [
        "I was charged twice this month and nobody can explain why.",
        "My bill went up by {amount} dollars without any notice.",
        "There is a fee on my invoice that I never agreed to.",
        "The billing is a mess, I keep getting charged for things I cancelled.",
        "Why is my invoice {amount} higher than last month?",
        "I have been overcharged again and the refund still hasn't arrived.",
        "Your payment system took money from my card twice.",
    ],
    ("billing", "negative", "ja"): [
        "今月の請求が二重になっていて、誰も理由を説明してくれません。",
        "何の連絡もなく請求額が{amount}円も上がっていました。",
        "同意していない手数料が請求書に載っています。",
        "解約したはずのオプション料金がまだ請求されています。",
        "返金がまだ届いていません。請求の仕組みが分かりにくすぎます。",
        "クレジットカードから二回引き落とされました。",
    ],
    ("billing", "positive", "en"): [
        "The refund for the double charge came through quickly, thanks.",
        "My bill is clear and easy to understand now.",
    ],
    ("billing", "positive", "ja"): [
        "二重請求の返金がすぐに処理されて助かりました。",
        "請求書が分かりやすくなりました。",
    ],
    ("network", "negative", "en"): [
        "The connection drops every evening.",
        "Internet has been down for {days} days in a row.",
        "Signal is terrible at home, calls keep cutting out.",
        "Another outage today, this is the third one this week.",
        "The speed is nowhere near what I pay for, pages take forever to load.",
        "Wifi keeps disconnecting when I work from home.",
    ],
    ("network", "negative", "ja"): [
        "毎晩のように回線が切れます。",
        "{days}日間もネットがつながりませんでした。",
        "自宅の電波が悪くて通話がすぐ途切れます。",
        "今週だけで三回目の通信障害です。",
        "通信速度が契約内容よりずっと遅いです。",
        "在宅勤務中に何度もWi-Fiが切断されます。",
    ],
    ("network", "positive", "en"): [
        "The connection has been rock solid since the upgrade.",
        "No outages at all this year, very reliable.",
    ],
    ("network", "positive", "ja"): [
        "工事のあとは回線がとても安定しています。",
        "今年は一度も通信障害がなく安心です。",
    ],
    ("support", "negative", "en"): [
        "I waited {days} hours on hold and then got disconnected.",
        "Support never called me back even though they promised.",
        "The agent had no idea how to fix my problem.",
        "I had to call {times} times to get a simple answer.",
        "Customer service keeps transferring me from one person to another.",
        "Nobody replies to my emails, it has been over a week.",
    ],
    ("support", "negative", "ja"): [
        "電話が{days}時間もつながらず、やっとつながったら切れました。",
        "折り返し電話すると言われたのに連絡がありません。",
        "担当者の対応が悪く、問題が全く解決しませんでした。",
        "簡単な質問なのに{times}回も電話する羽目になりました。",
        "窓口をたらい回しにされました。",
        "メールで問い合わせても一週間以上返事がありません。",
    ],
    ("support", "positive", "en"): [
        "The support agent solved my problem in five minutes.",
        "Customer service was patient and really helpful.",
    ],
    ("support", "positive", "ja"): [
        "サポートの方がすぐに問題を解決してくれました。",
        "問い合わせ窓口の対応が丁寧で助かりました。",
    ],
    ("price", "negative", "en"): [
        "It's too expensive for what you get.",
        "Another provider offers the same plan for half the price.",
        "The price increase is not acceptable.",
        "I can't justify paying this much every month.",
        "Your competitors are much cheaper.",
    ],
    ("price", "negative", "ja"): [
        "内容の割に料金が高すぎます。",
        "他社なら同じプランが半額で使えます。",
        "今回の値上げには納得できません。",
        "毎月この金額を払い続けるのは厳しいです。",
        "他の会社の方がずっと安いです。",
    ],
    ("app", "negative", "en"): [
        "The app crashes every time I try to log in.",
        "I can't find my invoices anywhere in the app.",
        "The new app update is slow and confusing.",
        "Login keeps failing with an error message.",
    ],
    ("app", "negative", "ja"): [
        "ログインしようとするとアプリが落ちます。",
        "アプリのどこに請求書があるのか分かりません。",
        "アプリの新しいバージョンは重くて使いにくいです。",
        "ログインするとエラーが出て進めません。",
    ],
    ("app", "positive", "en"): [
        "The new app makes it easy to check my usage.",
        "I like the app, everything is in one place.",
    ],
    ("app", "positive", "ja"): [
        "新しいアプリで使用量が簡単に確認できます。",
        "アプリが見やすくて便利です。",
    ],
    ("installation", "negative", "en"): [
        "The technician didn't show up for the installation.",
        "Installation was delayed by {days} days with no explanation.",
        "The router arrived late and the setup instructions were wrong.",
        "The engineer left without finishing the installation.",
    ],
    ("installation", "negative", "ja"): [
        "工事の担当者が約束の時間に来ませんでした。",
        "開通工事が説明もなく{days}日遅れました。",
        "ルーターの到着が遅れ、設定の説明書も間違っていました。",
        "作業員が設置を終えずに帰ってしまいました。",
    ],
    ("staff", "positive", "en"): [
        "The staff in the store were friendly and helpful.",
        "Thanks to the lovely person who helped me today.",
        "Everyone I dealt with was polite and professional.",
    ],
    ("staff", "positive", "ja"): [
        "店舗のスタッフがとても親切でした。",
        "本日対応してくださった方に感謝しています。",
        "どの担当者も丁寧で感じが良かったです。",
    ],
    ("speed", "positive", "en"): [
        "The internet is fast and I never have problems streaming.",
        "Download speeds are great, even at night.",
        "Really quick connection, games run smoothly.",
    ],
    ("speed", "positive", "ja"): [
        "ネットが速くて動画も止まりません。",
        "夜でも通信速度が速くて快適です。",
        "回線が速いのでゲームも快適です。",
    ],
    ("value", "positive", "en"): [
        "Good value for money.",
        "Great service for a fair price.",
        "I'd recommend it to friends, the plan is worth it.",
    ],
    ("value", "positive", "ja"): [
        "料金に見合った良いサービスです。",
        "この値段でこの品質なら満足です。",
        "友人にも勧めたいと思います。",
    ],
    ("account", "neutral", "en"): [
        "I moved to a new address last month and need to update my details.",
        "Can I change my plan next month?",
        "I would like to add another line to my account.",
        "Please send me a copy of my contract.",
        "What is the difference between the standard and premium plans?",
    ],
    ("account", "neutral", "ja"): [
        "先月引っ越したので住所を変更したいです。",
        "来月からプランを変更できますか。",
        "回線をもう一つ追加したいです。",
        "契約書の写しを送ってください。",
        "スタンダードとプレミアムの違いを教えてください。",
    ],
}
INTENT_SENTENCES: dict[tuple[str, str], list[str]] = {
    ("leave", "en"): [
        "I'm thinking of switching to another provider.",
        "If this isn't fixed I will cancel my contract.",
        "I want to cancel my contract at the end of the month.",
        "I'm seriously considering leaving.",
        "Never again will I sign up with this company.",
        "I have already signed up with another provider.",
        "You have lost a customer.",
    ],
    ("leave", "ja"): [
        "他社への乗り換えを考えています。",
        "改善されなければ解約します。",
        "今月で解約します。",
        "本気で解約を検討しています。",
        "二度と契約しません。",
        "もう他社と契約しました。",
        "もうこのサービスは使いません。",
    ],
    ("callback", "en"): ["Please call me back.", "Can someone call me back today?"],
    ("callback", "ja"): ["折り返しお電話ください。", "今日中に折り返し連絡をお願いします。"],
}
# The kind of each planted leave sentence (the planted truth's ``leave_kind``).
LEAVE_KINDS: dict[str, str] = {
    "I'm thinking of switching to another provider.": "switch",
    "If this isn't fixed I will cancel my contract.": "threat",
    "I want to cancel my contract at the end of the month.": "cancel_account",
    "I'm seriously considering leaving.": "stop_using",
    "Never again will I sign up with this company.": "never_again",
    "I have already signed up with another provider.": "already_left",
    "You have lost a customer.": "stop_using",
    "他社への乗り換えを考えています。": "switch",
    "改善されなければ解約します。": "threat",
    "今月で解約します。": "cancel_account",
    "本気で解約を検討しています。": "cancel_account",
    "二度と契約しません。": "never_again",
    "もう他社と契約しました。": "already_left",
    "もうこのサービスは使いません。": "stop_using",
}
# Sentences that look like churn intent and are not (planted truth ``trap``: their kind).
TRAP_SENTENCES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("My engineer visit was cancelled again.", "transaction_cancelled"),
        ("You cancelled my order for the new router without telling me.", "transaction_cancelled"),
        ("The installation appointment got cancelled at the last minute.", "transaction_cancelled"),
        (
            "I cancelled the sports add-on in March and was still billed for it.",
            "billing_after_cancel",
        ),
        ("How do I cancel the engineer appointment?", "howto"),
        ("How can I change my payment date?", "howto"),
        ("I'm not planning to leave, just fix it please.", "negation"),
        ("I would never switch provider, but this needs fixing.", "negation"),
    ],
    "ja": [
        ("工事の予約がキャンセルされました。", "transaction_cancelled"),
        ("ルーターの注文が勝手にキャンセルされました。", "transaction_cancelled"),
        ("オプションを解約したのに、まだ請求が来ています。", "billing_after_cancel"),
        ("訪問予約のキャンセル方法を教えてください。", "howto"),
        ("解約するつもりはありませんが、早く直してください。", "negation"),
        ("他社に乗り換える気はありません。", "negation"),
    ],
}
OPENERS = {
    "en": ["", "", "", "Hi, ", "Honestly, ", "To be fair, ", "Hello. ", "Well, "],
    "ja": ["", "", "", "いつもお世話になっております。", "正直なところ、", "こんにちは。"],
}
PII = {
    "en": ["You can reach me at {email}.", "My number is {phone}."],
    "ja": ["連絡先は{email}です。", "電話番号は{phone}です。"],
}
OTHER_LANGUAGE = [
    ("es", "El servicio es muy lento y nadie me ayuda."),
    ("fr", "Le service client ne répond jamais à mes messages."),
    ("de", "Die Rechnung ist viel zu hoch."),
]
EN_CHANNELS = {
    "email": 0.2,
    "chat": 0.2,
    "phone": 0.15,
    "survey": 0.2,
    "social": 0.05,
    "app_review": 0.07,
    "review": 0.04,
    "sms": 0.04,
    "whatsapp": 0.05,
}
JA_CHANNELS = {
    "email": 0.15,
    "chat": 0.15,
    "phone": 0.15,
    "survey": 0.2,
    "line": 0.2,
    "app_review": 0.08,
    "review": 0.04,
    "web": 0.03,
}
# How some channels arrive in exported files: normalised by the contract on ingest.
CHANNEL_SPELLINGS = {"email": ["email", "E-mail", "EMAIL"], "chat": ["chat", "Live Chat"]}
PLANS = {"basic": (19.0, 0.45), "standard": (39.0, 0.35), "premium": (69.0, 0.20)}


@dataclass
class World:
    """The generated frames: customers, feedback and their planted truth."""

    customers: pd.DataFrame
    feedback: pd.DataFrame
    customers_truth: pd.DataFrame
    feedback_truth: pd.DataFrame
    params: dict[str, Any]


def _typo(text: str, rng: np.random.Generator) -> str:
    """Swap or drop a letter in one word, the way people type on phones."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not candidates:
        return text
    i = int(rng.choice(candidates))
    word = words[i]
    j = int(rng.integers(1, len(word) - 2))
    if rng.random() < 0.5:
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    else:
        word = word[:j] + word[j + 1 :]
    words[i] = word
    return " ".join(words)


def _fill(sentence: str, rng: np.random.Generator) -> str:
    return sentence.format(
        amount=int(rng.choice([5, 10, 12, 15, 20, 30, 1500, 3000])),
        days=int(rng.integers(2, 6)),
        times=int(rng.choice([3, 4, 5])),
    )


def generate(n_customers: int = 2000, *, seed: int = 7, end: date | None = None) -> World:
    """Generate a world of ``n_customers`` over the three years before ``end``."""
    rng = np.random.default_rng(seed)
    # traps come from a stream of their own, so planting them leaves the rest of the world as it was
    trap_rng = np.random.default_rng([seed, 28])
    end = end or date(2026, 1, 1)
    end_ts = pd.Timestamp(end)
    start_ts = end_ts - pd.Timedelta(days=3 * 365)
    ids = [f"C{i:06d}" for i in range(1, n_customers + 1)]
    language = np.where(rng.random(n_customers) < 0.3, "ja", "en")
    plan = rng.choice(list(PLANS), size=n_customers, p=[p for _, p in PLANS.values()])
    base_price = np.array([PLANS[p][0] for p in plan])
    monthly_value = np.round(base_price * rng.uniform(0.85, 1.25, n_customers), 2)
    contract = np.where(rng.random(n_customers) < 0.55, "monthly", "annual")
    segment = np.where(rng.random(n_customers) < 0.8, "consumer", "business")
    region_en = np.array(["north", "south", "east", "west", "central"])
    region_ja = np.array(["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"])
    region = np.where(
        language == "ja",
        rng.choice(region_ja, size=n_customers),
        rng.choice(region_en, size=n_customers),
    )
    acquisition = rng.choice(["web", "store", "partner", "referral"], size=n_customers)
    age = rng.integers(18, 80, n_customers)
    span_days = (end_ts - start_ts).days - 30
    signup = start_ts + pd.to_timedelta(rng.integers(0, span_days, n_customers), unit="D")
    satisfaction = rng.normal(0, 1, n_customers)

    pains: list[dict[str, pd.Timestamp]] = []
    for i in range(n_customers):
        mine: dict[str, pd.Timestamp] = {}
        lifetime = (end_ts - signup[i]).days
        for theme, (share, _) in PAINS.items():
            if rng.random() < share * (1.3 if satisfaction[i] < -0.5 else 1.0):
                mine[theme] = signup[i] + pd.Timedelta(days=int(rng.integers(0, max(lifetime, 1))))
        pains.append(mine)

    # Churn: a monthly hazard, raised by contract type, early tenure and active pains.
    churn_date: list[pd.Timestamp | None] = []
    hazard_log: list[float] = []
    for i in range(n_customers):
        month = signup[i]
        churned: pd.Timestamp | None = None
        peak = 0.0
        while month < end_ts:
            hazard = 0.006 * (1.9 if contract[i] == "monthly" else 0.6)
            hazard *= 1.5 if (month - signup[i]).days < 180 else 1.0
            hazard *= np.exp(-0.25 * satisfaction[i])
            for theme, onset in pains[i].items():
                if month >= onset:
                    hazard *= PAINS[theme][1]
            peak = max(peak, hazard)
            if rng.random() < min(hazard, 0.9):
                churned = month + pd.Timedelta(days=int(rng.integers(0, 30)))
                break
            month += pd.Timedelta(days=30)
        if churned is not None and churned >= end_ts:
            churned = None
        churn_date.append(churned)
        hazard_log.append(peak)

    feedback_rows: list[dict[str, Any]] = []
    truth_rows: list[dict[str, Any]] = []
    for i in range(n_customers):
        lang = str(language[i])
        last = churn_date[i] if churn_date[i] is not None else end_ts
        days = max((last - signup[i]).days, 1)
        rate = 0.45 + 0.35 * len(pains[i])  # contacts per 30 days
        n_events = int(rng.poisson(rate * days / 30.0 * 0.5)) + 1
        offsets = np.sort(rng.integers(0, days, n_events))
        channels = JA_CHANNELS if lang == "ja" else EN_CHANNELS
        for offset in offsets:
            when = signup[i] + pd.Timedelta(
                days=int(offset), seconds=int(rng.integers(28800, 79200))
            )
            if when >= end_ts:
                continue
            days_to_churn = (churn_date[i] - when).days if churn_date[i] is not None else None
            event = _comment(
                rng, lang, pains[i], when, satisfaction[i], days_to_churn, trap_rng=trap_rng
            )
            channel = str(rng.choice(list(channels), p=list(channels.values())))
            scores = _scores(rng, channel, event["polarity"], satisfaction[i])
            if channel == "survey" and rng.random() < 0.3:
                # score-only survey answers: no text, so no language either
                event.update(
                    text="",
                    themes=[],
                    intents=[],
                    language="",
                    has_pii=False,
                    leave_kind="",
                    trap="",
                )
            shown_channel = str(rng.choice(CHANNEL_SPELLINGS.get(channel, [channel])))
            feedback_rows.append(
                {
                    "customer_id": ids[i],
                    "created_at": when,
                    "channel": shown_channel,
                    "text": event["text"],
                    **scores,
                    "language": event["language"] if rng.random() < 0.5 else "",
                }
            )
            truth_rows.append(
                {
                    "themes": "|".join(event["themes"]),
                    "sentiment": event["polarity"] if event["text"] else "",
                    "sentiment_score": round(event["score"], 3) if event["text"] else np.nan,
                    "intents": "|".join(event["intents"]),
                    "leave_kind": event.get("leave_kind", ""),
                    "trap": event.get("trap", ""),
                    "language": event["language"],
                    "has_pii": event["has_pii"],
                }
            )

    feedback = pd.DataFrame(feedback_rows)
    truth = pd.DataFrame(truth_rows)
    order = np.argsort(feedback["created_at"].to_numpy(), kind="stable")
    feedback = feedback.iloc[order].reset_index(drop=True)
    truth = truth.iloc[order].reset_index(drop=True)
    feedback.insert(0, "feedback_id", [f"F{i:08d}" for i in range(1, len(feedback) + 1)])
    truth.insert(0, "feedback_id", feedback["feedback_id"])
    feedback["created_at"] = feedback["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    for score in ("nps", "csat", "ces"):
        feedback[score] = feedback[score].astype("Int16")

    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup.strftime("%Y-%m-%d"),
            "churn_date": [d.strftime("%Y-%m-%d") if d is not None else "" for d in churn_date],
            "monthly_value": monthly_value,
            "plan": plan,
            "contract": contract,
            "segment": segment,
            "region": region,
            "acquisition_channel": acquisition,
            "age": age,
            "preferred_language": language,
        }
    )
    customers_truth = pd.DataFrame(
        {
            "customer_id": ids,
            "pains": ["|".join(sorted(p)) for p in pains],
            "pain_onsets": [
                json.dumps({k: v.strftime("%Y-%m-%d") for k, v in sorted(p.items())}) for p in pains
            ],
            "satisfaction": np.round(satisfaction, 3),
            "peak_monthly_hazard": np.round(hazard_log, 4),
            "churned": [d is not None for d in churn_date],
        }
    )
    params = {
        "n_customers": n_customers,
        "seed": seed,
        "start": start_ts.strftime("%Y-%m-%d"),
        "end": end_ts.strftime("%Y-%m-%d"),
        "pains": {k: {"share": s, "hazard_multiplier": m} for k, (s, m) in PAINS.items()},
        "positive_themes": list(POSITIVE_THEMES),
        "neutral_themes": list(NEUTRAL_THEMES),
        "intents": ["leave", "callback"],
        "traps": sorted({kind for pool in TRAP_SENTENCES.values() for _, kind in pool}),
    }
    return World(customers, feedback, customers_truth, truth, params)


def _comment(
    rng: np.random.Generator,
    lang: str,
    pains: dict[str, pd.Timestamp],
    when: pd.Timestamp,
    satisfaction: float,
    days_to_churn: int | None,
    *,
    trap_rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """One comment: sentences from themes, with its planted polarity, score and intents; some
    negative comments also carry a trap (a cancelled order, a how-to, a negation)."""
    if rng.random() < 0.015:
        code, text = OTHER_LANGUAGE[int(rng.integers(len(OTHER_LANGUAGE)))]
        return {
            "text": text,
            "themes": [],
            "intents": [],
            "polarity": "negative",
            "score": -0.6,
            "language": code,
            "has_pii": False,
        }
    if lang == "ja" and rng.random() < 0.05:
        lang = "en"  # some Japanese customers write in English
    active = [t for t, onset in pains.items() if onset <= when]
    parts: list[str] = []
    themes: list[str] = []
    intents: list[str] = []
    sentiment = 0.0
    if active and rng.random() < 0.75:
        theme = str(rng.choice(active))
        parts.append(_fill(str(rng.choice(SENTENCES[(theme, "negative", lang)])), rng))
        themes.append(theme)
        sentiment -= 1.0
        if len(active) > 1 and rng.random() < 0.3:
            other = str(rng.choice([t for t in active if t != theme]))
            parts.append(_fill(str(rng.choice(SENTENCES[(other, "negative", lang)])), rng))
            themes.append(other)
            sentiment -= 0.5
        if rng.random() < 0.2:
            positive = str(rng.choice(POSITIVE_THEMES))
            parts.append(str(rng.choice(SENTENCES[(positive, "positive", lang)])))
            themes.append(positive)
            sentiment += 0.6
    elif rng.random() < 0.3:
        parts.append(str(rng.choice(SENTENCES[("account", "neutral", lang)])))
        themes.append("account")
    else:
        resolved = [t for t in pains if (t, "positive", lang) in SENTENCES]
        pool = list(POSITIVE_THEMES) + resolved
        theme = str(rng.choice(pool))
        parts.append(_fill(str(rng.choice(SENTENCES[(theme, "positive", lang)])), rng))
        themes.append(theme)
        sentiment += 1.0
    near_churn = days_to_churn is not None and days_to_churn < 75
    leave_kind = trap = ""
    if near_churn and sentiment < 0 and rng.random() < 0.55:
        sentence = str(rng.choice(INTENT_SENTENCES[("leave", lang)]))
        parts.append(sentence)
        intents.append("leave")
        leave_kind = LEAVE_KINDS[sentence]
        sentiment -= 0.5
    elif trap_rng is not None and sentiment < 0 and (draw := trap_rng.random()) < 0.08:
        if draw < 0.04:  # unhappy customers who say they will leave, whether or not they do
            pool = INTENT_SENTENCES[("leave", lang)]
            sentence = pool[int(trap_rng.integers(len(pool)))]
            intents.append("leave")
            leave_kind = LEAVE_KINDS[sentence]
            sentiment -= 0.5
        else:
            sentence, trap = TRAP_SENTENCES[lang][int(trap_rng.integers(len(TRAP_SENTENCES[lang])))]
        parts.append(sentence)
    if sentiment < 0 and rng.random() < 0.12:
        parts.append(str(rng.choice(INTENT_SENTENCES[("callback", lang)])))
        intents.append("callback")
    has_pii = False
    if rng.random() < 0.03:
        contact = str(rng.choice(PII[lang]))
        number = f"0{rng.integers(70, 91)}-{rng.integers(1000, 9999)}-{rng.integers(1000, 9999)}"
        parts.append(
            contact.format(email=f"user{rng.integers(100, 999)}@example.com", phone=number)
        )
        has_pii = True
    separator = "" if lang == "ja" else " "
    text = str(rng.choice(OPENERS[lang])) + separator.join(parts)
    if lang == "en":
        if rng.random() < 0.15:
            text = _typo(text, rng)
        if rng.random() < 0.08:
            text = text.lower().rstrip(".")
    if rng.random() < 0.02:
        text = text + "\n" + ("Sent from my phone" if lang == "en" else "スマートフォンから送信")
    score = float(np.clip(sentiment / 1.5, -1, 1))
    polarity = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
    return {
        "text": text,
        "themes": themes,
        "intents": intents,
        "leave_kind": leave_kind,
        "trap": trap,
        "polarity": polarity,
        "score": score,
        "language": lang,
        "has_pii": has_pii,
    }


def _scores(
    rng: np.random.Generator, channel: str, polarity: str, satisfaction: float
) -> dict[str, Any]:
    """NPS on surveys, CSAT after chats and e-mails, CES after phone calls; tied to polarity."""
    tilt = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}[polarity]
    out: dict[str, Any] = {"nps": None, "csat": None, "ces": None}
    if channel == "survey":
        out["nps"] = int(
            np.clip(round(7.2 + 2.4 * tilt + 0.8 * satisfaction + rng.normal(0, 1.2)), 0, 10)
        )
    if channel in ("chat", "email", "line") and rng.random() < 0.35:
        out["csat"] = int(np.clip(round(3.5 + 1.3 * tilt + rng.normal(0, 0.7)), 1, 5))
    if channel in ("phone", "chat") and rng.random() < 0.3:
        out["ces"] = int(np.clip(round(3.0 - 1.8 * tilt + rng.normal(0, 1.0)), 1, 7))
    return out


# The demo world's taxonomy, as a user would write it: a starting point to edit.
DEMO_TAXONOMY = """\
# Themes for the demo world. Edit freely: rename a label, add keywords, merge themes
# (merge: [other_id]), or drop a theme. Ids stay stable; pinned themes never change id.
# labels: the label in other languages (reasons asked for in Japanese use labels.ja).
version: 1
themes:
  - id: billing
    label: Billing and charges
    labels: {ja: 請求と料金}
    keywords:
      en: [bill, billing, invoice, charge, charged, overcharge, overcharged, refund, fee]
      ja: [請求, 請求書, 引き落とし, 返金, 手数料, 二重]
  - id: network
    label: Network reliability
    labels: {ja: 回線の安定性}
    keywords:
      en: [connection, outage, signal, wifi, disconnect, internet]
      ja: [回線, 通信障害, 電波, 切断, つながら, ネット]
  - id: support
    label: Customer support
    labels: {ja: カスタマーサポート}
    keywords:
      en: [support, agent, hold, customer service, transfer]
      ja: [サポート, 担当者, 窓口, 問い合わせ, たらい回し]
  - id: price
    label: Price and value
    labels: {ja: 価格と価値}
    keywords:
      en: [price, expensive, cheap, competitor, cheaper, value]
      ja: [料金, 値上げ, 半額, 安い, 高すぎ, 値段]
  - id: app
    label: App and login
    labels: {ja: アプリとログイン}
    keywords:
      en: [app, login, crash, crashes]
      ja: [アプリ, ログイン, バージョン]
  - id: installation
    label: Installation and delivery
    labels: {ja: 工事と配送}
    keywords:
      en: [installation, technician, engineer, router, setup]
      ja: [工事, 開通, ルーター, 作業員, 設置]
  - id: staff
    label: Staff
    labels: {ja: スタッフ}
    keywords:
      en: [staff, friendly, polite, helpful, lovely]
      ja: [スタッフ, 親切, 丁寧, 店舗]
  - id: speed
    label: Speed
    labels: {ja: 速度}
    keywords:
      en: [speed, fast, quick, streaming, download]
      ja: [速度, 速く, 動画, 快適]
  - id: account
    label: Account and plan changes
    labels: {ja: 契約とプランの変更}
    keywords:
      en: [address, plan, contract, line, account]
      ja: [住所, プラン, 契約書, 追加, 変更]
"""


def write_world(world: World, out: Path) -> dict[str, str]:
    """Write the world's files into ``out``; returns {name: path}."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "customers": out / "customers.csv",
        "feedback": out / "feedback.csv",
        "customers_truth": out / "truth_customers.csv",
        "feedback_truth": out / "truth_feedback.csv",
        "world": out / "world.json",
        "taxonomy": out / "taxonomy.yaml",
    }
    paths["taxonomy"].write_text(DEMO_TAXONOMY, encoding="utf-8")
    world.customers.to_csv(paths["customers"], index=False)
    world.feedback.to_csv(paths["feedback"], index=False)
    world.customers_truth.to_csv(paths["customers_truth"], index=False)
    world.feedback_truth.to_csv(paths["feedback_truth"], index=False)
    paths["world"].write_text(
        json.dumps(world.params, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return {k: str(v) for k, v in paths.items()}


def scaled_feedback(world: World, n_rows: int, *, seed: int = 11) -> pd.DataFrame:
    """``n_rows`` feedback rows drawn from the world's, with fresh ids (for volume tests)."""
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(world.feedback), n_rows)
    frame = world.feedback.iloc[picked].reset_index(drop=True).copy()
    frame["feedback_id"] = [f"S{i:09d}" for i in range(1, n_rows + 1)]
    return frame


_BAD_BYTES_MARK = "\u0001BADBYTES\u0001"
_EXTRA_FIELD_MARK = "\u0002EXTRA\u0002"
CORRUPTIONS = (
    "bad_date",
    "future_date",
    "nps_out_of_range",
    "csat_not_a_number",
    "ces_not_whole",
    "missing_feedback_id",
    "missing_customer_id",
    "missing_created_at",
    "unknown_customer",
    "duplicate_id",
    "invalid_utf8",
    "very_long_text",
    "nul_character",
    "nothing_to_keep",
    "extra_field",
    "bad_language",
)


def write_corrupted_feedback(
    frame: pd.DataFrame, path: Path, *, fraction: float = 0.2, seed: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``frame`` as CSV with ``fraction`` of its rows corrupted in varied ways.

    Returns (expected rejects: row, corruption, field; good rows as they should be
    stored). Some good rows get embedded newlines, quotes and commas: valid CSV
    that must come through intact. Row numbers are 1-based data records.
    """
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {c: frame[c].astype(object).where(frame[c].notna(), "").astype(str) for c in frame.columns},
        dtype=object,
    )
    n = len(data)
    positions = rng.permutation(n)
    n_bad = int(n * fraction)
    bad_positions = np.sort(positions[:n_bad])
    tricky = positions[n_bad : n_bad + max(n // 50, 1)]
    data.loc[tricky, "text"] = [f'She said "no, never",\nthen: "call me" #{p}' for p in tricky]
    kinds = rng.choice(CORRUPTIONS, size=n_bad).astype(object)
    # A duplicate repeats the id of the nearest earlier good row, so the first one is kept.
    good_sorted = np.sort(positions[n_bad:])
    duplicates = bad_positions[kinds == "duplicate_id"]
    earlier = np.searchsorted(good_sorted, duplicates) - 1
    kinds[np.isin(bad_positions, duplicates[earlier < 0])] = "missing_feedback_id"
    has_earlier = earlier >= 0
    data.loc[duplicates[has_earlier], "feedback_id"] = data.loc[
        good_sorted[earlier[has_earlier]], "feedback_id"
    ].to_numpy()
    fields = {
        "bad_date": "created_at",
        "future_date": "created_at",
        "missing_created_at": "created_at",
        "nps_out_of_range": "nps",
        "csat_not_a_number": "csat",
        "ces_not_whole": "ces",
        "missing_feedback_id": "feedback_id",
        "missing_customer_id": "customer_id",
        "unknown_customer": "customer_id",
        "duplicate_id": "feedback_id",
        "invalid_utf8": "text",
        "very_long_text": "text",
        "nul_character": "text",
        "nothing_to_keep": "text",
        "extra_field": "",
        "bad_language": "language",
    }
    long_text = "very long complaint " * 1200
    for kind in CORRUPTIONS:
        rows = bad_positions[kinds == kind]
        if rows.size == 0 or kind == "duplicate_id":
            continue
        if kind == "bad_date":
            bad_dates = ["2024-02-30", "yesterday", "31/12/2024", "2024-13-01T10:00:00"]
            data.loc[rows, "created_at"] = rng.choice(bad_dates, size=rows.size)
        elif kind == "future_date":
            data.loc[rows, "created_at"] = "2199-01-01T00:00:00"
        elif kind == "missing_created_at":
            data.loc[rows, "created_at"] = ""
        elif kind == "nps_out_of_range":
            data.loc[rows, "nps"] = rng.choice(["11", "-1", "42"], size=rows.size)
        elif kind == "csat_not_a_number":
            data.loc[rows, "csat"] = "five"
        elif kind == "ces_not_whole":
            data.loc[rows, "ces"] = "3.5"
        elif kind == "missing_feedback_id":
            data.loc[rows, "feedback_id"] = ""
        elif kind == "missing_customer_id":
            data.loc[rows, "customer_id"] = ""
        elif kind == "unknown_customer":
            data.loc[rows, "customer_id"] = [f"GHOST-{p}" for p in rows]
        elif kind == "invalid_utf8":
            data.loc[rows, "text"] = "bad bytes here " + _BAD_BYTES_MARK
        elif kind == "very_long_text":
            data.loc[rows, "text"] = long_text
        elif kind == "nul_character":
            data.loc[rows, "text"] = "nul\x00inside"
        elif kind == "nothing_to_keep":
            data.loc[rows, ["text", "nps", "csat", "ces"]] = ""
        elif kind == "extra_field":
            data.loc[rows, "language"] = "en" + _EXTRA_FIELD_MARK
        elif kind == "bad_language":
            data.loc[rows, "language"] = "english please!"
    expected = pd.DataFrame(
        {
            "row": bad_positions + 1,
            "corruption": kinds,
            "field": [fields[k] for k in kinds],
        }
    )
    buffer = data.to_csv(index=False, lineterminator="\n")
    raw = buffer.encode("utf-8")
    raw = raw.replace(_BAD_BYTES_MARK.encode(), b"\xff\xfe\xfa")
    raw = raw.replace(_EXTRA_FIELD_MARK.encode(), b",surplus")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    good = data.loc[np.sort(positions[n_bad:])]
    return expected, good.reset_index(drop=True)
