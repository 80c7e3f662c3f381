"""Scores from features and a model: churn probability, band, revenue at risk and reasons.

Nothing here reads the store or knows about requests: callers bring the features (and the
history the reasons quote from) and keep the result. Reasons are per-feature contributions in
log-odds of the trees' raw score (per row they add up, with the bias, to that raw score) — the
top three by size, in plain words: exact TreeSHAP (``attribution="exact"``) or path (Saabas)
attributions from the same compiled walk that gives the probability (``"path"``, for bulk
runs). A text-driven reason quotes the customer's own most recent words behind it, redacted.
Bands are relative to the base rate the model learned: high ≥ 3×, medium ≥ 1.5×, else low.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import pandas as pd

from cxml.churn.explain import STRONGLY_NEGATIVE, reason_text
from cxml.churn.model import top_by_size
from cxml.churn.predictor import ChurnPredictor
from cxml.contract import AsOf
from cxml.features import NEGATIVE_SENTIMENT, expressed
from cxml.store.history import History

TOP_REASONS = 3
#: Candidates read beyond the top three, to stand in for a reason passed over (``_praised``,
#: ``_unreadable``).
SPARE_REASONS = 2
EXACT_LIMIT = 2000  # more customers than this in one run: path attributions (≈ 14× faster)
Attribution = Literal["exact", "path"]
ATTRIBUTION_NAMES = {"exact": "exact TreeSHAP", "path": "path (Saabas)"}


def attribution_name(estimator: Any, attribution: Attribution) -> str:
    """How the reasons were computed, as stored with the scores (the family may say otherwise:
    a linear model's attributions are exact whichever was asked)."""
    return str(getattr(estimator, "attribution_names", ATTRIBUTION_NAMES)[attribution])


QUOTE_CHARS = 200
#: A theme read with sentiment above this is praise ("thanks to the person who helped me
#: today"): it never stands as the evidence of a reason that raises the risk.
PRAISE = -NEGATIVE_SENTIMENT
#: Survey-score features whose reason names the answer behind it: (score column, which answer).
SURVEY_EVIDENCE = {
    "nps_last": ("nps", "latest"),
    "detractor_last": ("nps", "latest"),
    "nps_min": ("nps", "lowest"),
    "csat_last": ("csat", "latest"),
    "ces_last": ("ces", "latest"),
}


class Band(StrEnum):
    """Risk relative to the base rate the model learned: high ≥ 3×, medium ≥ 1.5×, else low."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


BANDS = tuple(b.value for b in Band)


def attribution_for(customers: int) -> Attribution:
    """Exact TreeSHAP for up to ``EXACT_LIMIT`` customers, path attributions beyond."""
    return "exact" if customers <= EXACT_LIMIT else "path"


def bands(probability: np.ndarray, base_rate: float) -> np.ndarray:
    """'high', 'medium' or 'low' relative to the base rate."""
    return np.where(
        probability >= 3 * base_rate,
        "high",
        np.where(probability >= 1.5 * base_rate, "medium", "low"),
    ).astype(object)


def score(
    predictor: ChurnPredictor,
    features: pd.DataFrame,
    *,
    as_of: AsOf,
    scored_at: datetime,
    model_version: str,
    attribution: Attribution = "exact",
    history: History | None = None,
) -> pd.DataFrame:
    """One score per row of ``features`` (index customer_id, the model's columns).

    Returns the columns of the scores table: customer_id, as_of (date), model_version,
    probability, ranking_score (the model's full score on the probability scale, which orders
    the at-risk list: see ``ChurnModel._ranking``), band, revenue_at_risk (probability × monthly value × horizon in months; None
    when the monthly value is missing), reasons (list of dicts), attribution, scored_at,
    features_as_of; and, when the model has a time-to-churn companion, survival_30/60/90
    (probability of still being a customer that many days on) and expected_days (within a
    year). ``history``: the customers' history, for quotes behind the reasons.
    """
    estimator = predictor.estimator
    matrix = estimator.matrix(features)
    exact = attribution == "exact"
    candidates = TOP_REASONS + SPARE_REASONS
    walked = estimator.walk(matrix, k=0 if exact else candidates)
    probability = walked["probability"]
    if exact:
        contributions = estimator.exact_contributions(matrix)[:, :-1]
        top, chosen = top_by_size(contributions, candidates)
    else:
        top, chosen = walked["top_index"], walked["top_value"]
    customers = features.index.to_numpy(dtype=object)
    names = list(estimator.columns_)
    drop = _unreadable(matrix, top, chosen, names)
    if history is not None:
        drop |= _praised(history, customers, top, chosen, names)
    top, chosen = _passing_over(top, chosen, drop, candidates)
    quotes = _quotes(history, customers, top, names, chosen) if history is not None else {}
    reasons = [
        _distinct(row, TOP_REASONS)
        for row in _reasons(
            estimator, matrix, top, chosen, customers, quotes, predictor.theme_labels
        )
    ]
    monthly = (
        pd.to_numeric(features["monthly_value"], errors="coerce").to_numpy(dtype=float)
        if "monthly_value" in features
        else np.full(len(features), np.nan)
    )
    with np.errstate(over="ignore", invalid="ignore"):
        revenue = np.round(probability * monthly * predictor.horizon_days / 30.0, 2)
    cut = as_of
    timing: dict[str, Any] = {}
    if predictor.survival is not None:  # the time-to-churn companion
        from cxml.churn.survival import DAYS, ClassifierSurvival

        companion = predictor.survival
        if isinstance(companion, ClassifierSurvival) and companion.estimator_ is estimator:
            # It reads this very classifier: its score is the one just computed.
            read = companion.reads(walked)
            staying = companion.survival(features, DAYS, probability=read)
            expected = companion.expected_days(features, probability=read)
        else:
            staying = companion.survival(features, DAYS)
            expected = companion.expected_days(features)
        timing = {f"survival_{d}": np.round(staying[:, i], 6) for i, d in enumerate(DAYS)}
        timing["expected_days"] = np.round(expected, 1)
    return pd.DataFrame(
        {
            "customer_id": customers,
            "as_of": cut.date(),
            "model_version": str(model_version),
            "probability": np.round(probability, 6),
            # Unrounded: the list's order (the shown probability is rounded, and older models' is
            # in isotonic steps).
            "ranking_score": walked["ranking"],
            "band": bands(probability, predictor.base_rate),
            "revenue_at_risk": np.where(np.isfinite(revenue), revenue, np.nan),
            "reasons": reasons,
            "attribution": attribution_name(estimator, attribution),
            "scored_at": scored_at,
            "features_as_of": cut.to_pydatetime(),
            **timing,
        }
    )


def score_history(
    predictor: ChurnPredictor,
    history: History,
    *,
    scored_at: datetime,
    model_version: str,
    attribution: Attribution = "exact",
) -> pd.DataFrame:
    """``score`` of the customers of ``history``, as of its instant: the model's features of
    that history, with the history for quotes. What a bulk run scores bucket by bucket, and a
    request scores for the customers it names or describes inline."""
    return score(
        predictor,
        predictor.features(history),
        as_of=history.as_of,
        scored_at=scored_at,
        model_version=model_version,
        attribution=attribution,
        history=history,
    )


def _rising_mentions(
    customers: np.ndarray, top: np.ndarray, chosen: np.ndarray, names: Sequence[str]
) -> set[tuple[str, str]]:
    """(customer, feature) of the chosen theme mentions (``theme_<id>``, not its negative
    twin) that raise the risk."""
    return {
        (str(customers[i]), names[int(top[i, j])])
        for i, j in zip(*np.nonzero((top >= 0) & (chosen > 0)), strict=True)
        if names[int(top[i, j])].startswith("theme_")
        and not names[int(top[i, j])].endswith("_negative")
    }


def _praised(
    history: History,
    customers: np.ndarray,
    top: np.ndarray,
    chosen: np.ndarray,
    names: Sequence[str],
) -> np.ndarray:
    """Per candidate, True when a retention agent could not trust it: a theme mention that
    raises the risk when every time the customer raised that theme it was praise
    (本日対応してくださった方に感謝しています under "Customer support"). The model may be right
    that such customers leave more (they are in touch more), but the words say the opposite of
    the reason, and the contacts reasons tell it better; such a reason gives way to the next
    (``_passing_over``), as a misleading one does (``_unreadable``)."""
    drop = np.zeros(top.shape, dtype=bool)
    rising = _rising_mentions(customers, top, chosen, names)
    if not rising:
        return drop
    themes = history.themes
    themes = themes[themes["customer_id"].isin({customer for customer, _ in rising})]
    mentioned = pd.DataFrame(
        {
            "key": list(zip(themes["customer_id"], "theme_" + themes["theme_id"], strict=True)),
            "sentiment": themes["sentiment_score"].fillna(0.0).to_numpy(dtype=float),
        }
    )
    mentioned = mentioned[mentioned["key"].isin(rising)]
    least = mentioned.groupby("key", sort=False)["sentiment"].min()
    praised = {key for key, value in least.items() if value > PRAISE}
    for i, slot in zip(*np.nonzero(top >= 0), strict=True):
        drop[i, slot] = (str(customers[i]), names[int(top[i, slot])]) in praised
    return drop


#: Features whose values read as good or bad news: (good news when the value is above, bad
#: news when at or below). A reason that raises the risk on good news, or lowers it on bad
#: news, gives way (``_unreadable``): "nothing strongly negative in the last 90 days" is no
#: reason to call a customer, whatever the trees made of it.
NEWS = {
    "sentiment_min_90d": (STRONGLY_NEGATIVE, STRONGLY_NEGATIVE),
    "sentiment_min_365d": (STRONGLY_NEGATIVE, STRONGLY_NEGATIVE),
    "sentiment_mean_90d": (0.05, -0.05),
    "sentiment_mean_365d": (0.05, -0.05),
    "nps_last": (8.5, 6.0),
    "nps_mean": (8.5, 6.0),
    "nps_min": (8.5, 6.0),
    "detractor_last": (-0.5, -1.0),  # read negated (``WORSE_HIGHER``): 0 good, 1 bad
    "csat_last": (3.5, 2.0),
    "csat_mean": (3.5, 2.0),
}
#: Features whose higher values are the worse news: ``NEWS`` reads them negated.
WORSE_HIGHER = {"detractor_last"}
_WINDOWED = re.compile(r"(.+)_(\d+)d")


def _unreadable(
    matrix: np.ndarray, top: np.ndarray, chosen: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """Per candidate, True when its sentence would mislead: it raises the risk on good news or
    lowers it on bad news (``NEWS``), or it says again what a candidate before it in the row
    said (the same measure over another window with the same value: "wrote something
    strongly negative in October 2026" twice, from the 90 and the 365 days)."""
    valid = top >= 0
    values = np.where(valid, matrix[np.arange(len(top))[:, None], np.maximum(top, 0)], np.nan)
    drop = np.zeros(top.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for feature, (good, bad) in NEWS.items():
            if feature not in names:
                continue
            here = valid & (top == names.index(feature))
            read = -values if feature in WORSE_HIGHER else values
            news_good, news_bad = read > good, read <= bad
            drop |= here & (((chosen > 0) & news_good) | ((chosen < 0) & news_bad))
    stems = np.array(
        [m[1] if (m := _WINDOWED.fullmatch(str(n))) else "" for n in names] + [""], dtype=object
    )
    stem = stems[np.where(valid, top, len(names))]
    for later in range(1, top.shape[1]):
        for earlier in range(later):
            drop[:, later] |= (
                valid[:, later] & ~drop[:, earlier] & (stem[:, later] != "")
                & (stem[:, later] == stem[:, earlier])
                & (values[:, later] == values[:, earlier])
            )  # fmt: skip
    return drop


def _distinct(reasons: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The first ``k`` reasons whose sentences differ: two comments of one month both
    "strongly negative" over two windows, or "no comments in the last 365 days" from two
    measures of those comments, are said once."""
    seen: set[str] = set()
    out = []
    for reason in reasons:
        if reason["text"] not in seen:
            seen.add(reason["text"])
            out.append(reason)
    return out[:k]


def _passing_over(
    top: np.ndarray, chosen: np.ndarray, drop: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row the first ``k`` candidates (by size) not marked in ``drop`` (``_unreadable``,
    ``_praised``); −1 and 0 where fewer are left."""
    keep = (top >= 0) & ~drop
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    kept = np.take_along_axis(keep, order, axis=1)
    out_top = np.where(kept, np.take_along_axis(top, order, axis=1), -1).astype(np.int64)
    out_value = np.where(kept, np.take_along_axis(chosen, order, axis=1), 0.0)
    return out_top, out_value


def _quotes(
    history: History,
    customers: np.ndarray,
    top: np.ndarray,
    names: Sequence[str],
    chosen: np.ndarray | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """The customer's own words behind each text reason chosen, redacted; keyed by (customer,
    feature). For a theme, the latest comment mentioning it (for ``_negative``, the latest
    negative one; for a mention that raises the risk — ``chosen`` > 0 — the latest that is
    not praise); for an intent, the latest comment expressing it; for "wrote something
    strongly negative" (``sentiment_min_<n>d``), the most negative comment of those days; for
    the last negative comment, that one; for a survey score, the answer behind it. One pass
    over the history's rows per kind, whatever the number of customers."""
    wanted = {
        (str(customers[i]), names[int(top[i, j])])
        for i, j in zip(*np.nonzero(top >= 0), strict=True)
        if names[int(top[i, j])].startswith(("theme_", "intent_", "sentiment_min_"))
        or names[int(top[i, j])] in SURVEY_EVIDENCE
        or names[int(top[i, j])] == "days_since_last_negative"
    }
    rising = _rising_mentions(customers, top, chosen, names) if chosen is not None else set()
    if not wanted:
        return {}
    found: dict[tuple[str, str], str] = {}
    features = {feature for _, feature in wanted}
    # Survey answers: the answer behind the reason (the latest, or the lowest for nps_min).
    for feature in sorted(features & set(SURVEY_EVIDENCE)):
        score_column, pick = SURVEY_EVIDENCE[feature]
        answered = history.feedback[history.feedback[score_column].notna()]
        if pick == "lowest":
            answered = answered.sort_values(
                [score_column, "created_at"], ascending=[False, True], kind="stable"
            )
        rows = answered.drop_duplicates(["customer_id"], keep="last")
        for customer, feedback_id in zip(rows["customer_id"], rows["feedback_id"], strict=True):
            if (customer, feature) in wanted:
                found[(customer, feature)] = feedback_id
    every = history.feedback
    position = dict(zip(every["feedback_id"], range(len(every)), strict=True))
    created = every["created_at"].to_numpy(dtype="datetime64[ns]")
    texts = every["text"].to_numpy(dtype=object)
    said = every[every["text"].notna()]
    themes = history.themes[history.themes["feedback_id"].isin(position.keys())]
    # where in the comment each reason was read: a theme's words, an intent's clause
    spans: dict[tuple[str, str], dict[str, Any]] = {}
    if any(f.startswith("theme_") for f in features):
        sentiment = themes["sentiment_score"].fillna(0.0)
        latest = themes.drop_duplicates(["customer_id", "theme_id"], keep="last")
        unpraised = themes[sentiment <= PRAISE]
        unpraised = unpraised.drop_duplicates(["customer_id", "theme_id"], keep="last")
        bad = themes[sentiment <= NEGATIVE_SENTIMENT]
        bad = bad.drop_duplicates(["customer_id", "theme_id"], keep="last")
        # later passes overrule earlier ones: any mention, then for a mention that raises the
        # risk one that is not praise, then for the negative twin a negative one
        for rows, pick in ((latest, "any"), (unpraised, "rising"), (bad, "negative")):
            starts = rows.get("span_start", pd.Series(np.nan, index=rows.index))
            ends = rows.get("span_end", pd.Series(np.nan, index=rows.index))
            for customer, theme, feedback_id, start, end in zip(
                rows["customer_id"], rows["theme_id"], rows["feedback_id"], starts, ends,
                strict=True,
            ):  # fmt: skip
                mention, negative = f"theme_{theme}", f"theme_{theme}_negative"
                if pick == "any":
                    keys = [(customer, mention), (customer, negative)]
                elif pick == "rising":
                    keys = [(customer, mention)] if (customer, mention) in rising else []
                else:
                    keys = [(customer, negative)]
                for key in keys:
                    if key in wanted:
                        found[key] = feedback_id
                        if start == start and end == end:  # not NaN
                            spans[key] = {"start": int(start), "end": int(end), "sentence": True}
                        else:
                            spans.pop(key, None)
    if any(f.startswith("sentiment_min_") or f == "days_since_last_negative" for f in features):
        age = (history.as_of.to_datetime64() - created) / np.timedelta64(1, "s") / 86400.0
        tone = every["sentiment_score"].to_numpy(dtype=float, na_value=np.nan)
        for feature in sorted(features):
            if match := re.fullmatch(r"sentiment_min_(\d+)d", feature):
                # the lowest of those days (the latest of equals), when it is strongly negative
                recent = every[(age <= int(match[1])) & (tone <= STRONGLY_NEGATIVE)]
                recent = recent.sort_values(
                    ["sentiment_score", "created_at"], ascending=[False, True], kind="stable"
                )
            elif feature == "days_since_last_negative":  # as the feature reads it
                nps = every["nps"].to_numpy(dtype=float, na_value=np.nan)
                recent = every[(nps <= 6) | (tone <= NEGATIVE_SENTIMENT)]
            else:
                continue
            rows = recent.drop_duplicates(["customer_id"], keep="last")
            for customer, feedback_id in zip(rows["customer_id"], rows["feedback_id"], strict=True):
                if (customer, feature) in wanted:
                    found[(customer, feature)] = feedback_id
    for feature in sorted(f for f in features if f.startswith("intent_")):
        intent = feature.removeprefix("intent_").removesuffix("_90d")
        rows = said[expressed(said["intents"].to_numpy(dtype=object), intent)]
        rows = rows.drop_duplicates(["customer_id"], keep="last")
        for customer, feedback_id, intents in zip(
            rows["customer_id"], rows["feedback_id"], rows["intents"], strict=True
        ):
            if (customer, feature) in wanted:
                found[(customer, feature)] = feedback_id
                hit = _intent_hit(intents, intent)
                if hit is not None:
                    spans[(customer, feature)] = hit
    if not found:
        return {}
    from cxml.text.nlp import split_sentences
    from cxml.text.redact import Redactor

    ids = sorted(set(found.values()))
    worded = [i for i in ids if isinstance(texts[position[i]], str) and texts[position[i]]]
    redacted = dict(
        zip(worded, Redactor().transform([str(texts[position[i]]) for i in worded]), strict=True)
    )
    days = {i: str(created[position[i]].astype("datetime64[D]")) for i in ids}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, feedback_id in found.items():
        evidence: dict[str, Any] = {"feedback_id": feedback_id, "date": days[feedback_id]}
        quote = redacted.get(feedback_id)
        hit = spans.get(key)
        if quote and hit is not None and 0 <= hit["start"] < hit["end"] <= len(quote):
            start, end = hit["start"], hit["end"]
            if hit.get("sentence"):
                # a theme quotes the sentence its words are in, not the whole comment (the
                # sentences, whole, when its words run over into the next)
                sentences = split_sentences(quote)
                start, end = next(
                    ((a, b) for a, b in sentences if a <= hit["start"] < b), (start, end)
                )
                end = max(
                    end,
                    next((b for a, b in sentences if a < hit["end"] <= b), hit["end"]),
                )
                while start < end and quote[start].isspace():
                    start += 1
                while end > start and quote[end - 1].isspace():
                    end -= 1
            # an intent quotes the clause that carries it, not its neighbours
            quote = quote[start:end]
            evidence["span"] = [start, end]
            if hit.get("kind"):
                evidence["kind"] = hit["kind"]
        if quote:
            evidence["quote"] = (
                quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 3] + "…"
            )
        out[key] = evidence
    return out


def _intent_hit(intents: Any, intent: str) -> dict[str, Any] | None:
    """The stored detection of ``intent`` in one comment's intents (a list, or its JSON text):
    its span and kind, or None when only the name was stored."""
    import json

    values = json.loads(intents) if isinstance(intents, str) else intents
    for value in values if isinstance(values, list | tuple) else ():
        if isinstance(value, dict) and value.get("intent") == intent and "start" in value:
            return {
                "start": int(value["start"]),
                "end": int(value["end"]),
                "kind": value.get("kind"),
            }
    return None


def _reasons(
    estimator: Any,
    matrix: np.ndarray,
    top: np.ndarray,
    chosen: np.ndarray,
    customers: np.ndarray,
    quotes: dict[tuple[str, str], dict[str, Any]],
    labels: dict[str, str],
) -> list[list[dict[str, Any]]]:
    """Per row, its top reasons as dicts: feature, value as the customer has it, contribution,
    a sentence, and the customer's own words (``evidence``) behind a theme or intent reason."""
    names = [str(c) for c in estimator.columns_]
    categories = [estimator.categories_.get(c) for c in estimator.columns_]
    themes = [
        labels.get(n.removeprefix("theme_").removesuffix("_negative"), n.removeprefix("theme_"))
        if n.startswith("theme_")
        else None
        for n in names
    ]
    texts: dict[tuple[int, Any, bool, str, Any], str] = {}
    rounded = np.round(chosen, 4)
    reasons: list[list[dict[str, Any]]] = []
    for i in range(len(top)):
        row = []
        for slot in range(top.shape[1]):
            j = int(top[i, slot])
            if j < 0:
                continue
            raw = matrix[i, j]
            value: Any
            if raw != raw:  # NaN: missing
                value = None
            elif categories[j] is not None:
                value = str(categories[j][int(raw)])
            else:
                value = int(raw) if float(raw).is_integer() and abs(raw) < 2**53 else float(raw)
            contribution = float(rounded[i, slot])
            reason: dict[str, Any] = {
                "feature": names[j],
                "value": value,
                "contribution": contribution,
            }
            if themes[j] is not None:
                reason["theme_label"] = themes[j]
            evidence = quotes.get((str(customers[i]), names[j])) if quotes else None
            if evidence:
                reason["evidence"] = evidence
            # One sentence per distinct (feature, value, direction, month of the evidence).
            key = (
                j,
                value,
                contribution > 0,
                (evidence or {}).get("date", "")[:7],
                (evidence or {}).get("kind"),
            )
            text = texts.get(key)
            if text is None:
                text = texts[key] = reason_text(reason)
            row.append({**reason, "text": text})
        reasons.append(row)
    return reasons
