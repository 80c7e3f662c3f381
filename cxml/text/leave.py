"""Churn intent ("leave"): the customer says they will stop, have decided to stop, threaten to
stop, or have already stopped being a customer, with its kind and the clause that says it.

A learned decision, not a keyword list: each clause becomes word n-grams, the tokenizer's
lemmas (negation marked) and a few dozen linguistic cues (negation before a leaving verb,
condition, past tense, what was cancelled — an account or a flight —, a how-to question,
someone else, a warning to other buyers); a logistic regression says whether the clause is
leave, a second one which kind. The cues are features, never the decision. Clauses with
none of the words leaving is said with (a broad, recall-first list) are not scored at all:
that keeps the detector fast and keeps it quiet on the plain majority of comments.

``KINDS``: cancel_account, switch, stop_using, never_again, threat, already_left (the label
definition of the churn-intent evaluation set, ``shared/data/churn-intent/SOURCE.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from cxml.estimator import Estimator
from cxml.text.nlp import Analysed, Tokenizer, identity

Kind = Literal["cancel_account", "switch", "stop_using", "never_again", "threat", "already_left"]
KINDS: tuple[Kind, ...] = (
    "cancel_account",
    "switch",
    "stop_using",
    "never_again",
    "threat",
    "already_left",
)
LANGUAGES = ("en", "ja")

# Clauses: sentences, further cut at semicolons, dashes between words, line breaks, and
# "and / but / so" before the customer speaking of themselves.
_CLAUSE_END = re.compile(
    # a full stop ends a clause, but not between digits ("$29.99", "v2.1")
    r"\s*[-–—]+\s+|(?<=[!?。！？;；])\s*|(?<=\.)(?<!\d\.)\s*|(?<=\d\.)(?!\d)\s*|\n+"
    # a new main clause of the customer's own: "…, and I will end my contract"
    r"|,?\s+(?:and|but|so)\s+(?=(?:i|we|i'm|i'll|i've|im|ill)\b)",
    re.IGNORECASE,
)

# Words leaving is said with; a clause with none of them is not scored (recall first: the
# list also lets through every trap the model must learn to refuse).
_GATE = {
    "en": re.compile(
        r"cancel|terminat|clos|\bend(ed)?\b|ending|quit|leav|\bleft\b|drop|ditch|dump|switch|\bmov"
        r"|\bport(ing|ed|s)?\b|unsubscrib|delete|deactivat|discontinu|never|again|last time|first and last"
        r"|\blost\b|\blose\b|losing|done with|i'?m done|we'?re done|i am done|\bdone\b|elsewhere"
        r"|another (provider|airline|bank|company|carrier|supplier|option|one|service|network"
        r"|insurer|store|shop|brand|app|tool)|other (airline|provider|bank|company|carrier|supplier|option)|competit"
        r"|anymore|any more|no longer|no more|from now on|next time|goodbye|\bbye\b|farewell"
        r"|renew|stop|gone|(i'?m|we'?re|i am|we are|count me) out\b|out of here|#no\w|boycott|go with|going with|go to|going to \w+ instead"
        r"|instead|better off|alternative|look(ing)? (at|for|into) other|shop(ping)? around"
        r"|find a new|new (provider|airline|bank|carrier|supplier)|through with|finished with"
        r"|\bit is\b|status match|different|rather|replaced|no.?fly|dead to me|avoid|#fly|#go"
        r"|giv(e|ing) up|loyal|from now|take my|taking my|\bdiff\b|won'?t be|any ?time soon"
        r"|another (\w+ )?(lender|hotel|gym|penny|booking|group|chain|provider)"
        r"|some(one|where) else|notice|uninstall|here i come|walk|stay|miles"
        r"|next (trip|booking|flight|order|contract|renewal|one)|last (flight|order|trip|year)"
        r"|back to|going back|coming back|off to|lapse|look(ing)? around|signed up|pac code"
        r"|final (order|chance|month|flight|trip)|last (\w+ )?(booking|month|one)|resign"
        r"|break(ing)? up|bye ?bye|so long|from today|going forward|foreseeable|rest of the year"
        r"|migrat|replacement|reconsider|try(ing)? \w+ (next|instead)|a try\b|trial",
        re.IGNORECASE,
    ),
    "ja": re.compile(
        r"解約|退会|乗り?換|乗りかえ|やめ|止め|辞め|変え|切り替|切替|移り|移行|解除|打ち切"
        r"|二度と|もう|最後|リピート|他社|他の|別の|違う|買わ|使わ|頼ま|利用しな|利用しま|選ば"
        r"|行かな|注文しな|購入しな|さよなら|縁を切|見切り|卒業|手放|替え|試して|次はな|[2２]度と"
        r"|リピ|購入しません|利用しません|無難|換え|他店|よそ|控え|見送|離れ|限り|これっきり"
        r"|処分|次から|次回|次は|今後|更新し|削除|申し込|戻ろ|選び|選ぶ|当分|見限|手を出"
        r"|お別れ|終わりに|金輪際|見直|移し|移っ|移りま|(?i:mnp|ｍｎｐ)|戻し|戻りま|行きません|二度目|で十分"
        r"|のほうがいい|の方がいい"
    ),
}


def lower_twin(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """The same pattern without the case-insensitive flag, for ASCII text searched lower-cased:
    the same matches at the same offsets (IGNORECASE differs from lower() only on non-ASCII
    letters such as ſ and the Kelvin sign), about three times faster, and opened on letters
    (``letter_first``). None when the pattern is not written in lower case ("\\D" lower-cased
    would mean "\\d")."""
    if pattern.pattern != pattern.pattern.lower():
        return None
    return re.compile(letter_first(pattern.pattern), pattern.flags & ~re.IGNORECASE)


def top_level_alternatives(source: str) -> list[str]:
    """The alternatives of a regular expression's source at its top level ("a|(b|c)" gives
    "a" and "(b|c)"); escapes and character classes are read, not split."""
    out, current, depth, in_class, i = [], [], 0, False, 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            current.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if source[i + 1 : i + 2] == "]":  # "[]...]": a "]" first is a member
                current.append(char)
                i += 1
                char = "]"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            out.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    out.append("".join(current))
    return out


_BOUNDARY_LETTER = re.compile(r"\\b([a-z])(?![?*+{])")


def letter_first(source: str) -> str:
    """The same pattern with each top-level alternative that opens on a word boundary before a
    letter ("\\bend") opened on the letter instead ("e(?<!\\we)nd": the character before the
    "e" is no word character, which is what the boundary said). The same matches; but when
    every alternative opens on a letter, Python's engine skips ahead to the letters that can
    begin a match instead of trying every alternative at every character, about twice as fast
    for the leave gate."""
    alternatives = top_level_alternatives(source)
    opened = [
        _BOUNDARY_LETTER.sub(r"\1(?<!\\w\1)", alternative, count=1)
        if _BOUNDARY_LETTER.match(alternative)
        else alternative
        for alternative in alternatives
    ]
    return "|".join(opened)


# The gates' twins: the gates are written in lower case (a test holds them to it).
_GATE_LOWER = {language: lower_twin(gate) or gate for language, gate in _GATE.items()}


def _gated(text: str, language: str) -> tuple[str, re.Pattern[str]]:
    """The text to search and the gate to search it with."""
    if text.isascii():
        return text.lower(), _GATE_LOWER.get(language, _GATE_LOWER["en"])
    return text, _GATE.get(language, _GATE["en"])


# Linguistic cues, per language: name -> pattern. Features, not rules.
_CUES: dict[str, dict[str, str]] = {
    "en": {
        "leave_verb": r"\b(cancel\w*|terminat\w*|clos(e|ing|ed)(?! to\b)|end(ing)?|quit\w*|leav\w*|left"
        r"|drop\w*|ditch\w*|dump\w*|switch\w*|port(ing|ed)?|unsubscrib\w*|delet\w*"
        r"|deactivat\w*|discontinu\w*)\b",
        "move_to": r"\b(mov(e|ing|ed)|go(ing)?|went|switch\w*|port\w*|head(ing)?|tak(e|ing))"
        r" (my \w+ |our \w+ |over |back )?(to|with)\b",
        "account_object": r"\b(account|subscription|sub|contract|plan|membership|card|service"
        r"|policy|line|broadband|package|licen[cs]e|tariff|miles|mileage|cover|premium|pro)\b",
        "transaction_object": r"\b(flights?|flt|flightled|orders?|bookings?|reservations?"
        r"|deliver(y|ies)|transfers?|payments?|appointments?|trips?|tickets?|itinerar\w*"
        r"|connections?|visit|seats?|hotel|rental|purchase|items?|parcel|shipment|invite"
        r"|meeting|event|class|session|upgrade|direct debit)\b",
        "cancelled_passive": r"\b(was|were|been|got|get|is|are|being|gets)\s+(\w+\s+)?"
        r"cancel+ed\b|\bcancel+ed (flight|flt|order|booking|trip|reservation)",
        "never": r"\bnever\b",
        "again": r"\bagain\b",
        "never_again": r"\bnever\b.{0,60}\bagain\b|never ?again|\bnot ever again\b",
        "last_time": r"\b(last time|first and last|the last (time|flight|trip|order))\b",
        "lost_customer": r"\b(lost|lose|losing)\b.{0,25}\b(customer|client|business|flyer"
        r"|passenger|member|me)\b",
        "done": r"\b(i'?m|we'?re|i am|we are|i'?ve|we'?ve) (\w+ )?(done|through|finished"
        r"|out|gone)\b",
        "elsewhere": r"\b(elsewhere|another (provider|airline|bank|company|carrier|supplier"
        r"|insurer|one|option|service)|other (providers|airlines|banks|companies|carriers|options"
        r"|services)|competitors?|competition|alternatives?)\b",
        "from_now_on": r"\b(from now on|next time|in the future|going forward|anymore|any more"
        r"|no longer|no more|ever again)\b",
        "future": r"\b(will|'ll|going to|gonna|about to|plan\w* to|intend\w*|want to|wanna"
        r"|would like to|need to|'d like to|time to)\b",
        "consider": r"\b(consider\w*|thinking (of|about)|think i'?ll|might|may|maybe|looking"
        r" (at|for|into)|shopping around|seriously)\b",
        "condition": r"\b(if|unless|until|or else|otherwise|one more|keep (this|it) up"
        r"|do (this|it|that) again|happens again)\b",
        "past": r"\b(already|yesterday|last (week|month|year|night)|ago|finally|just)\b",
        "first_person_past": r"\b(i|we)( have|'ve| had|'d)?( just| finally| already)?"
        r" (cancel+ed|switched|left|closed|moved|ported|ended|dropped|quit|terminated"
        r"|ditched|dumped|unsubscribed|deleted)\b",
        "howto": r"\b(how (do|can|to|would|should|long)|is it possible|can (i|we|you)"
        r"|could (i|you)|where (do|can)|what('s| is) the (process|policy|fee)|any way to"
        r"|do i need to|am i able)\b",
        "question": r"\?\s*$",
        "negated_leaving": r"\b(not|never|n't|no|wont|dont|cant)\s+(\w+\s+){0,3}"
        r"(cancel\w*|leav\w*|switch\w*|quit\w*|go(ing)? anywhere|giv(e|ing) up on)"
        r"|\bno (plans?|intention|desire) (to|of)|\bstick (it out|with)|\bstay(ing)? (with|loyal)"
        r"|\bloyal\b|\bkeep (flying|using|buying)|\bstill (love|a fan)",
        "billing": r"\b(charg\w*|bill\w*|refund\w*|fees?|invoice\w*|debit\w*|money back|still"
        r"|credit|reimburs\w*|voucher)\b",
        "other_person": r"\b(my (friend|wife|husband|mom|mum|dad|mother|father|son|daughter"
        r"|sister|brother|boss|colleague|neighbou?r|partner|kids?|family|parents|coworkers?)s?"
        r"|(he|she|they) ('s|is|are|will|said|has|have|just)|colleagues|friends|people|everyone"
        r"|passengers?|the guy|the lady|the woman|the man)\b",
        "warning": r"\b(don'?t|do not|never|dont) (buy|book|fly|use|order|sign up|bother|waste)"
        r"|\bavoid\b|\bstay away\b|\bshould have\b|\bshould'?ve\b|\bwish i (had|'d)|\bregret"
        r"|\bthink twice\b|\bbeware\b|\bwarning\b|\bbuyer beware\b",
        "to_you": r"\b(to|with|for|chose|choose) (you|u|you guys|y'?all|your (airline|company"
        r"|service))\b|\bfrom \S+ to (you|u)\b",
        "first_person": r"\b(i|i'm|i'll|i've|i'd|im|ill|we|we're|we'll|me|my|our)\b",
        "use_verb": r"\b(fly\w*|flew|use|using|buy\w*|bought|shop\w*|order\w*|bank\w*|book\w*"
        r"|renew\w*|recommend\w*|travel\w*|choos\w*|chose|deal\w* with|do business)\b",
        "joined_never": r"never(fly|flying|using|again|buying|booking)\w*",
        "hashtag": r"#\w*(never|bye|goodbye|done|nomo|switch|lost|boycott|cancel|last|leav)\w*",
        "goodbye": r"\b(goodbye|bye|farewell|so long|adios|peace out)\b",
        "competitor": r"\b(delta|southwest|jetblue|united|american|alaska|virgin|spirit|frontier"
        r"|emirates|verizon|at&t|att|t-mobile|tmobile|sprint|bt|sky|vodafone|ee|talktalk|o2"
        r"|chase|monzo|revolut|hsbc|barclays|amazon|walmart|target|mural|notion|lucid\w*|figma"
        r"|trello|asana|slack|octopus|edf|geico|allstate|aviva|netflix|hulu|spotify)\b",
        "positive": r"\b(love|great|thanks|thank you|awesome|amazing|best|happy|appreciate)\b",
        "business": r"\b(my|our) (business|money|custom|loyalty)\b",
        "it_is": r"\b\w+ it is\b",
        "status": r"\bstatus (match|transfer)|\b(give|giving) up (my|our) status",
        "different": r"\b(different|another|other) (airline|provider|carrier|bank|company|supplier)",
        "rather": r"\brather\b",
        "hashtag_brand": r"#(fly|go|team|switchto)\w+",
        # whose company: the addressee (@you) or another one (@other), see mark_companies
        "you_company": r"@you\b",
        "other_company": r"@other\b",
        "other_then_leave": r"@other\b.{0,40}\b(never|again|done|last time|avoid|cancel\w*)\b"
        r"|\b(never|done with|cancel\w*|left|leaving|dropped|ditched)\b.{0,25}@other\b",
        "instead": r"\binstead\b",
        "one_trip": r"\b(this|one|that|the) (trip|once|one time|flight|leg)\b|\btoday\b"
        r"|\btonight\b|\btomorrow\b|\bfor free\b|\bget (me )?home\b|\bthis time\b",
        "captive": r"\b(no|any) (other|alternative|real) (choice|option|provider|supplier|way)"
        r"|\bonly (with|because|stay)|\bif (i|we) could\b|\bstuck with\b|\b(close to|nearly"
        r"|almost) (leav|switch|cancel|go)\w*|\bwould (switch|leave|go elsewhere) if\b",
        "switched_to_you": r"\b(switched|moved|came|changed|converted) (over )?(to (\w+ )?(you|@you)"
        r"|from)\b|\bsince (i|we) (switched|moved|joined)\b",
        # who does the leaving-word: the company, its people or systems ("your engineer
        # cancelled", "they cut me off", "left me without broadband"), not the customer
        "company_actor": r"\b(you|u|they|@you|company|engineers?|agents?|advisors?|system|app"
        r"|courier|someone|staff|he|she|it)\s+((have|has|had|'ve|just|also|then|even|now"
        r"|again|never|already|simply)\s+){0,2}(cancel+ed|cancel+s|cut|switched|left|closed"
        r"|ended|dropped|terminated|disconnected|deleted|moved|lost|removed|suspended|stopped"
        r"|blocked|froze|ported)\b",
        "object_of_leaving": r"\b(left|leaving|leave|cut|cutting|dropped|switched|moved)"
        r" (me|us|my|our)\b|\b(been|was|were|got|get|being|gets|is|are) (\w+ )?(left|cut off"
        r"|disconnected|switched off|dropped|cancel+ed|moved|terminated|closed)\b",
        "deprived": r"\b(no|without|zero|lost( my| our)?) (working |any |reliable )?(internet"
        r"|broadband|wi-?fi|service|signal|phone|landline|line|tv|t\.v|power|connection|heating"
        r"|electricity|gas|water|coverage|access|data)\b",
        "escalation": r"\b(ombudsman|ofcom|ofgem|regulator|trading standards|bbb|better business"
        r"|fcc|fca|small claims|solicitors?|lawyers?|attorney|chargeback|consumer (rights|affairs"
        r"|protection|council)|complain\w* (to|about)|formal complaint|report (you|this|them)"
        r"|legal action|the ceo|(a|my) review|social media)\b",
        "not_recommend": r"\b(not|n'?t|never|wouldn'?t|won'?t|cannot|can'?t) (be )?recommend\w*"
        r"|\brecommend\w* (against|to no ?one)",
        "no_choice": r"\bno (other )?(choice|option) but\b|\bonly (company|provider|one|supplier"
        r"|option|choice) (that|who|in|available)\b|\bno (\w+ )?competition\b",
        "modes": r"\bswitch(ing)? (between|modes?|views?|tabs?|boards?|off|on)\b"
        r"|\b(plans?|tiers?|pricing) (page|options?)\b",
    },
    "ja": {
        "leave_verb": r"解約|退会|乗り?換|乗りかえ|やめ|止め|辞め|切り替|切替|移り|移行|解除|打ち切",
        "change": r"変え|変更|替え",
        "to_other": r"(に|へ)(乗り?換|変え|替え|切り替|移)",
        "from_other": r"から(の)?(乗り?換|変え|替え|切り替|移)",
        "try_other": r"試して|試そう|にします|にしよう",
        "never": r"[二2２]度と",
        "mou_stop": r"もう(二度と)?[^。]{0,8}(買わ|使わ|頼ま|利用し(な|ま)|注文し|購入し|選ば|行か|リピ)",
        "not_buy": r"(買|使|頼|選)(わ|ば)ない|(買|使|頼|選)いません|(利用|注文|購入|リピート)し(ない|ません)",
        "repeat_no": r"リピ(ート)?(は|も)?(なし|しない|ありません|無し|ない|しません)",
        "last": r"最後|最初で最後",
        "other_company": r"他社|他の(メーカー|店|会社|ショップ|ブランド|製品|商品|サービス)"
        r"|別の(メーカー|店|会社|ショップ|ブランド|製品)|違う(メーカー|店|会社|ブランド)",
        "condition": r"たら|なら|れば|なければ|ないと|ようなら|次も|今度|場合",
        "past": r"ました|済み|しまった|した[。！!]?$|た[。！!]?$",
        "transaction": r"注文|予約|配送|発送|返品|返金|フライト|便|欠航|キャンセル|交換|配達",
        "billing": r"請求|引き落とし|料金|返金|課金|手数料",
        "howto": r"方法|どうすれば|どうやって|教えて|できますか|ですか|でしょうか|？|\?",
        "negation": r"つもりは(ない|ありません)|気は(ない|ありません)|予定は(ない|ありません)"
        r"|続け|リピートします|また買|また利用|また注文|リピ決定|買い足|もう一(台|つ|個|本)",
        "warning": r"ほうがいい|方がいい|方が良い|ほうが良い|買わなければ|買うんじゃなかった"
        r"|おすすめしません|オススメしません|お勧めしません|おすすめできません|やめたほうが"
        r"|やめた方|ないでください|失敗|後悔|損",
        "other_person": r"友人|友達|家族|母|父|夫|妻|主人|子供|知人|同僚|息子|娘",
        "future": r"ます|たい|つもり|予定|しよう|ことにし|決め",
        "consider": r"検討|考え|かも|迷",
        "shop": r"店|ショップ|出品者|販売者|業者|メーカー|ブランド|会社",
        "cancel_word": r"キャンセル",
        "positive": r"満足|良い|いい|最高|おすすめ|気に入|ありがと|便利",
        "to_this": r"(こちら|これ|この商品|本製品|こっち)(に|へ)(乗り?換|変え|替え|切り替|し)",
        "other_service": r"(他|別|前|以前|今まで)の?(サービス|製品|メーカー|機種|もの)[^。]{0,12}"
        r"(解約|やめ|乗り?換|手放)",
        "regret": r"ばよかった|じゃなかった|べきだった|れば良かった",
        # the company as the actor: 勝手に解約された, 回線を止められた, 工事をキャンセルされた
        "company_actor": r"(解約|停止|キャンセル|解除|打ち切|取り消|変更|削除)(さ|ら)れ|止められ"
        r"|切られ|勝手に|一方的に",
        "escalation": r"消費者センター|消費生活センター|国民生活センター|弁護士|訴え|通報|口コミ"
        r"|レビューに|苦情",
    },
}
_COMPILED = {
    language: [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in cues.items()]
    for language, cues in _CUES.items()
}
# The cues' twins for ASCII clauses, which ``_cues`` is given lower-cased (see ``lower_twin``).
_COMPILED_LOWER = {
    language: [(name, lower_twin(pattern) or pattern) for name, pattern in compiled]
    for language, compiled in _COMPILED.items()
}


def split_clauses(text: str) -> list[tuple[int, int]]:
    """Character spans of the clauses of ``text``, without their surrounding spaces."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _CLAUSE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = max(start, match.end())
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        piece = text[s:e]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            out.append((s + lead, s + lead + len(stripped)))
    return out


_HANDLE = re.compile(r"@(\w+)")
_LEADING_HANDLE = re.compile(r"^[\s.]*@(\w+)")
# a company named in plain words: "Korean Air", "American airlines", "Acme Bank"
_NAMED_COMPANY = re.compile(
    r"\b[A-Z][A-Za-z]+ (?i:air|airlines?|airways|bank|mobile|telecom|energy|broadband"
    r"|insurance)\b"
)


def addressee(text: str) -> str | None:
    """The company a text is addressed to: its leading @handle (a tweet's), lower-cased."""
    match = _LEADING_HANDLE.match(text)
    return match.group(1).lower() if match else None


# "#neverflyunited", "Neverflyunited": words glued in a hashtag
_GLUED = re.compile(
    r"#?\b(never|nomo)(fly|flying|using|buying|booking|shopping|again)?(\w*)", re.IGNORECASE
)


# "#SwitchingBoth", "#time2switch": words joined in a hashtag by capitals or a digit for "to"
_HASHTAG_WORDS = re.compile(r"#\w*(?:[a-z][A-Z]|[a-z][24][a-z])\w*")
_HASHTAG_JOINS = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[a-z])[24](?=[a-z])")


def hashtag_words(match: re.Match[str]) -> str:
    """A hashtag's joined words apart: "#SwitchingBoth" -> "#Switching Both",
    "#time2switch" -> "#time to switch", "#fly4less" -> "#fly for less"."""
    words = {"2": " to ", "4": " for ", "": " "}
    return _HASHTAG_JOINS.sub(lambda m: words[m.group(0)], match.group(0))


def same_company(name: str, to: str | None) -> bool:
    """``name`` (a handle or a word) names the addressee ``to``: one begins the other
    ("United" and @united, @DeltaAssist and @Delta, #UnitedAirlines and @united)."""
    name = name.lower()
    return to is not None and len(name) >= 4 and (to.startswith(name) or name.startswith(to))


def mark_companies(clause: str, to: str | None) -> str:
    """Whose company a clause names: an @handle is ``@you`` when it is the addressee ``to``,
    else ``@other``; a word that names the addressee ("United" in a tweet to @united) is
    ``@you`` too, and a company named in words ("Korean Air") that is not the addressee is
    ``@other``. Leaving a competitor then reads differently from leaving the company the text
    is about. Hashtags glued together ("#neverflyunited") are cut into words first."""

    def glued(match: re.Match[str]) -> str:
        return " ".join(part for part in match.groups() if part)

    def handle(match: re.Match[str]) -> str:
        return "@you" if same_company(match.group(1), to) else "@other"

    def named(match: re.Match[str]) -> str:
        return "@you" if same_company(match.group(0).split()[0], to) else "@other"

    marked = _HASHTAG_WORDS.sub(hashtag_words, _GLUED.sub(glued, clause))
    marked = _NAMED_COMPANY.sub(named, _HANDLE.sub(handle, marked))
    if to is None:
        return marked
    return _addressee_words(to).sub("@you", marked)


@lru_cache(maxsize=512)
def _addressee_words(to: str) -> re.Pattern[str]:
    """The words of four or more ASCII letters that ``same_company`` says name ``to`` (lower
    case, as ``addressee`` gives it): a prefix of it, or a word that begins with it. One
    compiled pattern per addressee, so a clause is marked in one scan, not a call per word."""

    def letters(text: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" for c in text)

    alternatives = []
    if to.isascii() and to.isalpha():
        alternatives.append(letters(to) + "[A-Za-z]{" + str(max(0, 4 - len(to))) + ",}")
    for k in range(len(to) - 1, 3, -1):
        if to[:k].isascii() and to[:k].isalpha():
            alternatives.append(letters(to[:k]))
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


# Word classes for the English n-grams: "had to cancel my trip" and "had to cancel my order"
# read the same, as do "switch to @other" and "switch to another carrier".
_WORD_CLASSES = [
    (re.compile(_CUES["en"]["transaction_object"], re.IGNORECASE), " txn "),
    (re.compile(_CUES["en"]["account_object"], re.IGNORECASE), " acct "),
    (
        re.compile(
            r"\b(providers?|airlines?|carriers?|banks?|suppliers?|insurers?|networks?|stores?"
            r"|shops?|retailers?|platforms?|vendors?|lenders?|companies|company)\b",
            re.IGNORECASE,
        ),
        " prov ",
    ),
    (re.compile(r"\d+"), "0"),
]


def _word_classes(clause: str) -> str:
    for pattern, name in _WORD_CLASSES:
        clause = pattern.sub(name, clause)
    return clause


def cue_names(language: str) -> list[str]:
    """The names of the linguistic cue features of ``language`` (``cue_<name>``)."""
    return [f"cue_{name}" for name, _ in _COMPILED.get(language, _COMPILED["en"])]


def _cues(clauses: Sequence[str], language: str) -> Any:
    """The cue features of ``clauses``, given lower-cased."""
    from scipy import sparse

    compiled = _COMPILED.get(language, _COMPILED["en"])
    twins = _COMPILED_LOWER.get(language, _COMPILED_LOWER["en"])
    rows, cols = [], []
    for i, clause in enumerate(clauses):
        for j, (_, pattern) in enumerate(twins if clause.isascii() else compiled):
            if pattern.search(clause):
                rows.append(i)
                cols.append(j)
    return sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(clauses), len(compiled))
    )


def _clause_terms(record: Analysed, start: int, end: int) -> list[str]:
    return [
        ("NOT_" + t.norm) if t.negated else t.norm for t in record.terms if start <= t.start < end
    ]


def leave_hit(kind: str, confidence: float, start: int, end: int) -> dict[str, Any]:
    """One ``leave`` detection as the pipeline reports it: kind, confidence, evidence span."""
    return {
        "intent": "leave",
        "kind": kind,
        "confidence": round(float(confidence), 4),
        "start": int(start),
        "end": int(end),
    }


class LeaveDetector(Estimator):
    """Learned churn-intent detector: ``detect`` gives, per text, the leave statements found
    (kind, confidence, start, end), strongest first.

    ``fit(clauses, languages, labels, kinds, analysed)``: labelled clauses (``leave`` or
    ``not``; for leave, its kind). ``threshold``: the probability above which a clause is
    leave (per language when a dict). Trained on our own written sentences and BANKING77,
    never on the evaluation set (see ``models/train_leave.py``).
    """

    _fit_call = "fit(clauses, languages, labels, kinds)"

    def __init__(
        self,
        *,
        threshold: float | dict[str, float] = 0.5,
        C: float = 4.0,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.threshold = threshold
        self.C = C
        self.tokenizer = tokenizer

    # --- features ------------------------------------------------------------------

    def _vectorizers(self, language: str) -> tuple[Any, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if language == "ja":
            words = TfidfVectorizer(
                analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1
            )
        else:
            words = TfidfVectorizer(
                lowercase=True,
                token_pattern=r"(?u)[#@]?\w[\w'&]*",
                ngram_range=(1, 3),
                sublinear_tf=True,
                min_df=1,
            )
        lemmas = TfidfVectorizer(analyzer=identity, sublinear_tf=True, min_df=1)
        return words, lemmas

    def _matrix(
        self, clauses: Sequence[str], terms: Sequence[list[str]], language: str, fit: bool
    ) -> Any:
        from scipy import sparse

        if fit:
            self.vectorizers_[language] = self._vectorizers(language)
        words, lemmas = self.vectorizers_[language]
        lowered = [c.lower() for c in clauses]
        classed = lowered if language == "ja" else [_word_classes(c) for c in lowered]
        parts = (
            (words.fit_transform(classed), lemmas.fit_transform(terms))
            if fit
            else (words.transform(classed), lemmas.transform(terms))
        )
        return sparse.hstack([*parts, 2.0 * _cues(lowered, language)], format="csr")

    def _analysed(self, texts: Sequence[str], language: str) -> list[Analysed]:
        tokenizer = self.tokenizer or Tokenizer()
        return tokenizer.analyse(list(texts), language)

    # --- fitting -------------------------------------------------------------------

    def fit(
        self,
        clauses: Sequence[str],
        languages: Sequence[str],
        labels: Sequence[str],
        kinds: Sequence[str | None],
        analysed: Sequence[Analysed] | None = None,
        addressees: Sequence[str | None] | None = None,
    ) -> LeaveDetector:
        """Learn leave-or-not and the kind, one pair of models per language. ``addressees``:
        the company each clause's text was addressed to (``addressee`` of the whole text),
        when the clauses were cut from longer texts; by default each clause's own."""
        from sklearn.linear_model import LogisticRegression

        from cxml.errors import ConfigError

        self._forget()
        if not (len(clauses) == len(languages) == len(labels) == len(kinds)):
            raise ConfigError(
                "LeaveDetector.fit: clauses, languages, labels and kinds differ in length"
            )
        bad = sorted({str(label) for label in labels} - {"leave", "not"})
        if bad:
            raise ConfigError(f"LeaveDetector.fit: labels {bad} are not 'leave' or 'not'")
        self.vectorizers_: dict[str, tuple[Any, Any]] = {}
        self.models_: dict[str, tuple[Any, Any]] = {}
        language_array = np.asarray(languages, dtype=object)
        for language in sorted(set(languages)):
            index = np.flatnonzero(language_array == language).tolist()
            texts = [clauses[i] for i in index]
            if language != "ja":
                to = (
                    [addressees[i] for i in index]
                    if addressees is not None
                    else [addressee(t) for t in texts]
                )
                texts = [mark_companies(t, a) for t, a in zip(texts, to, strict=True)]
            records = (
                [analysed[i] for i in index]
                if analysed is not None
                else self._analysed(texts, language)
            )
            terms = [_clause_terms(r, 0, len(t)) for r, t in zip(records, texts, strict=True)]
            matrix = self._matrix(texts, terms, language, fit=True)
            y = np.array([labels[i] == "leave" for i in index])
            leave = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)
            leave.fit(matrix, y)
            kind_index = np.flatnonzero(y)
            kind = LogisticRegression(C=self.C, max_iter=2000)
            kind.fit(matrix[kind_index], [kinds[index[i]] for i in kind_index])
            self.models_[language] = (leave, kind)
        self.languages_ = sorted(self.models_)
        return self

    # --- applying ------------------------------------------------------------------

    def _threshold(self, language: str) -> float:
        if isinstance(self.threshold, dict):
            return float(self.threshold.get(language, 0.5))
        return float(self.threshold)

    def clause_proba(
        self, clauses: Sequence[str], language: str, terms: Sequence[list[str]] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """P(leave) and the most likely kind for each clause (all clauses scored, no gate)."""
        self._check_fitted("models_")
        model = language if language in self.models_ else "en"
        if not clauses:
            return np.zeros(0), []
        if terms is None:
            records = self._analysed(clauses, model)
            terms = [_clause_terms(r, 0, len(c)) for r, c in zip(records, clauses, strict=True)]
        matrix = self._matrix(clauses, terms, model, fit=False)
        leave, kind = self.models_[model]
        proba = leave.predict_proba(matrix)[:, list(leave.classes_).index(True)]
        return proba, [str(k) for k in kind.predict(matrix)]

    def detect(
        self,
        texts: Sequence[str],
        language: str | None,
        analysed: Sequence[Analysed] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Per text: [{intent: "leave", kind, confidence, start, end}], strongest first; the
        span is the clause that says it. ``analysed``: the tokenizer's records of the same
        texts, when the caller has them (the text pipeline does)."""
        self._check_fitted("models_")
        model = (language or "en") if (language or "en") in self.models_ else "en"
        owners: list[int] = []
        spans: list[tuple[int, int]] = []
        for i, text in enumerate(texts):
            searched, gate = _gated(text, model)
            if not gate.search(searched):
                continue
            for start, end in split_clauses(text):
                if gate.search(searched, start, end):
                    owners.append(i)
                    spans.append((start, end))
        out: list[list[dict[str, Any]]] = [[] for _ in texts]
        if not owners:
            return out
        clauses = [texts[i][s:e] for i, (s, e) in zip(owners, spans, strict=True)]
        if model != "ja":
            to = [addressee(text) for text in texts]
            clauses = [mark_companies(c, to[i]) for i, c in zip(owners, clauses, strict=True)]
        if analysed is not None:
            terms = [
                _clause_terms(analysed[i], s, e) for i, (s, e) in zip(owners, spans, strict=True)
            ]
        else:
            records = self._analysed(clauses, model)
            terms = [_clause_terms(r, 0, len(c)) for r, c in zip(records, clauses, strict=True)]
        proba, kinds = self.clause_proba(clauses, model, terms)
        threshold = self._threshold(model)
        for i, (start, end), p, kind in zip(owners, spans, proba, kinds, strict=True):
            if p >= threshold:
                out[i].append(leave_hit(kind, p, start, end))
        for found in out:
            found.sort(key=lambda hit: -hit["confidence"])
        return out
