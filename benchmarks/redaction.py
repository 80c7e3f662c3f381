"""Benchmark: PII redaction beyond e-mails and phones (issue #29 §5), English and Japanese.

Usage: python -m benchmarks.redaction [--data ../shared/data] [--seed 0]

1. Planted cases: sentences written for this benchmark (not the tests' sentences), each with
   one planted name, address, postcode, date of birth or account number, filled from small
   lists of invented values; a case counts as found when the planted value is gone from the
   redacted text and the right placeholder is in it. Recall per kind and language; precision
   over placeholders of the new kinds (a placeholder that replaced nothing planted is wrong).
   Control sentences with no PII but with the same cues ("spoke to customer services",
   "2 hours on the road", お客様センター) must come out unchanged.
2. Ordinary words: on the shared real sets, how many texts the new kinds change at all (each
   is listed for a reader), and throughput against redaction before this work.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import pandas as pd

from cxml.text.redact import PLACEHOLDERS, redact

ROOT = Path(__file__).resolve().parents[1]
NEW = ("name", "address", "postcode", "birth_date", "account")

FIRST_EN = ["Megan", "Tomasz", "Aisha", "Owen", "Priya", "Declan", "Harriet", "Luca", "Nadia"]
LAST_EN = ["Hollis", "Brennan", "Okafor", "Whitcombe", "Delaney", "Ferreira", "Quinlan"]
STREETS = ["Marlow Road", "Ash Grove", "Kingsley Avenue", "Fenwick Close", "High Street"]
POSTCODES = ["LS6 2QT", "bs3 4hn", "M14 5RB", "EH8 9YL", "cf10 1aa"]
DATES = ["14/02/1987", "3 May 1979", "July 21, 1990", "1992-11-30"]
ACCOUNTS = ["88123457", "AC-552019", "7730041298", "TK99812"]
SEI = ["高橋", "渡辺", "伊藤", "中村", "小林", "加藤", "吉田", "山口"]
MEI = ["健太", "美咲", "大輔", "陽子", "翔", "直子"]
ADDR_JA = [
    "大阪府大阪市北区梅田3丁目1-1",
    "福岡市中央区天神2-5-12",
    "札幌市北区北7条西4丁目3番",
    "神奈川県横浜市港北区新横浜2丁目4番地",
]
ZIP_JA = ["〒530-0001", "〒810-0001", "〒060-0807"]
DATES_JA = ["1985年4月12日", "平成2年7月3日", "1979年11月30日"]
ACC_JA = ["A1234567", "0098-7712", "55012934"]

EN = {
    "name": [
        "I spoke to {first} {last} on the phone and she sorted it",
        "Mr {last} in the shop was brilliant",
        "my name is {first} {last} and I still have no service",
        "the engineer {first} was on time and tidy",
        "please ask Dr {last} to call me back",
    ],
    "address": [
        "send the router to {num} {street}, it never arrived",
        "I live at {num} {street} and the signal is awful",
    ],
    "postcode": ["no coverage at all in {postcode}", "my postcode is {postcode}, check the outage"],
    "birth_date": [
        "date of birth {date}, please update my record",
        "I was born on {date} and you still ask for ID",
    ],
    "account": [
        "account number {account} was charged twice",
        "my membership no {account} has not been renewed",
    ],
}
JA = {
    "name": [
        "担当の{sei}さんがとても丁寧でした",
        "{sei}{mei}と申します。解約の件で連絡しました",
        "窓口の{sei}様に対応していただきました",
    ],
    "address": ["{addr}に届くはずの荷物が来ません", "住所は{addr}です"],
    "postcode": ["{zip}の地域で電波が入りません"],
    "birth_date": ["生年月日は{date}で登録しています", "誕生日：{date}"],
    "account": ["会員番号：{acc}のポイントが消えました", "契約番号は{acc}です"],
}
CONTROLS = [
    "I spoke to customer services three times",
    "I waited 2 hours on the road for the engineer",
    "the 6 would be way too long for me",
    "Thanks to the team, great service",
    "I am Very Happy with the new plan",
    "order 12345 arrived on 2024-01-05 and cost 39.99",
    "my contract ends in 2 months",
    "I have been a customer since 2015",
    "お客様センターの対応が悪い",
    "東京で3日間電波が入らなかった",
    "中国3号店がオープンしました",
    "クレヨンしんちゃんの映画が観られる",
    "林の中でも電波が入る",
]


def planted(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for _ in range(8):
        for kind, templates in EN.items():
            for template in templates:
                values = {
                    "first": rng.choice(FIRST_EN),
                    "last": rng.choice(LAST_EN),
                    "num": str(rng.randint(2, 240)),
                    "street": rng.choice(STREETS),
                    "postcode": rng.choice(POSTCODES),
                    "date": rng.choice(DATES),
                    "account": rng.choice(ACCOUNTS),
                }
                value = _planted_value(kind, template, values)
                rows.append(("en", kind, template.format(**values), value))
        for kind, templates in JA.items():
            for template in templates:
                values = {
                    "sei": rng.choice(SEI),
                    "mei": rng.choice(MEI),
                    "addr": rng.choice(ADDR_JA),
                    "zip": rng.choice(ZIP_JA),
                    "date": rng.choice(DATES_JA),
                    "acc": rng.choice(ACC_JA),
                }
                value = _planted_value(kind, template, values)
                rows.append(("ja", kind, template.format(**values), value))
    return pd.DataFrame(rows, columns=["language", "kind", "text", "value"]).drop_duplicates()


def _planted_value(kind: str, template: str, values: dict[str, str]) -> str:
    slots = re.findall(r"\{(\w+)\}", template)
    if kind == "address" and "num" in slots:
        return f"{values['num']} {values['street']}"
    if kind == "name":
        names = [values[s] for s in slots if s in ("first", "last", "sei", "mei")]
        return (
            names[0] if len(names) == 1 else "".join(names) if "sei" in slots else " ".join(names)
        )
    return values[slots[0]]


def planted_table(seed: int) -> pd.DataFrame:
    frame = planted(seed)
    out = []
    for row in frame.itertuples():
        text, counts = redact(row.text)
        found = row.value not in text and PLACEHOLDERS[row.kind] in text
        wrong = sum(v for k, v in counts.items() if k in NEW) - int(found)
        out.append((row.language, row.kind, found, max(wrong, 0)))
    graded = pd.DataFrame(out, columns=["language", "kind", "found", "wrong"])
    table = graded.groupby(["language", "kind"]).agg(
        cases=("found", "size"), found=("found", "sum"), wrong=("wrong", "sum")
    )
    table["recall"] = table["found"] / table["cases"]
    table["precision"] = table["found"] / (table["found"] + table["wrong"])
    return table.reset_index()


def real_sets(data: Path) -> list[tuple[str, str]]:
    return [
        ("nps-verbatims (en)", str(data / "nps-verbatims" / "nps_verbatims.csv") + ":text"),
        (
            "womens-clothing-reviews (en)",
            str(data / "womens-clothing-reviews" / "womens_clothing_reviews.csv") + ":Review Text",
        ),
        ("banking77 test (en)", str(data / "banking77" / "test.csv") + ":text"),
        ("chabsa (ja)", str(data / "chabsa-ja" / "chabsa_sentences.csv") + ":sentence"),
        ("churn-intent dev (en+ja)", str(data / "churn-intent" / "dev.csv") + ":text"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("Planted cases")
    print(planted_table(args.seed).to_string(index=False, float_format="{:.2f}".format))
    changed_controls = [c for c in CONTROLS if redact(c)[0] != c]
    print(f"\ncontrols changed: {len(changed_controls)} of {len(CONTROLS)} {changed_controls}")
    print("\nReal sets: texts the new kinds change, throughput")
    for name, spec in real_sets(args.data):
        path, column = spec.rsplit(":", 1)
        texts = pd.read_csv(path)[column].dropna().astype(str).tolist()
        start = time.perf_counter()
        results = [redact(t) for t in texts]
        elapsed = time.perf_counter() - start
        changed = [(t, r) for t, r in zip(texts, results, strict=True) if set(r[1]) & set(NEW)]
        print(
            f"| {name} | {len(texts):,} | {len(changed)} ({len(changed) / len(texts):.2%}) "
            f"| {len(texts) / elapsed:,.0f} |"
        )
        for text, (out, _) in changed:
            print(f"    {text[:160]!r}\n -> {out[:160]!r}")


if __name__ == "__main__":
    main()
