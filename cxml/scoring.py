"""Batch scoring: churn probability, band, revenue at risk and reasons, into the store and files.

Reasons are per-feature contributions in log-odds of the trees' raw score (per row they add up,
with the bias, to that raw score) — the top three by size, in plain words: exact TreeSHAP for up
to 2,000 customers, path (Saabas) attributions precomputed per leaf for bulk runs; the
``attribution`` column says which. A text-driven
reason quotes the customer's own most recent words behind it (feedback id, date, excerpt).
Bands are relative to the base rate the model learned: high ≥ 3×, medium ≥ 1.5×, else low.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from cxml.errors import ConfigError
from cxml.features import customer_features

TOP_REASONS = 3


def bands(probability: np.ndarray, base_rate: float) -> np.ndarray:
    """'high', 'medium' or 'low' relative to the base rate."""
    return np.where(
        probability >= 3 * base_rate,
        "high",
        np.where(probability >= 1.5 * base_rate, "medium", "low"),
    ).astype(object)


def _describe(feature: str, value: Any, contribution: float) -> str:
    direction = "raises" if contribution > 0 else "lowers"
    shown = "missing" if value is None or (isinstance(value, float) and np.isnan(value)) else value
    if isinstance(shown, float):
        shown = round(shown, 2)
    name = feature.removeprefix("attr_").replace("_", " ")
    return f"{name} = {shown} {direction} the risk"


def _quotes(
    inputs: dict[str, pd.DataFrame], as_of: pd.Timestamp, customer_ids: list[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest comment before ``as_of`` per (customer, theme) and (customer, intent)."""
    feedback = inputs["feedback"]
    past = feedback[
        (pd.to_datetime(feedback["created_at"]) < as_of)
        & feedback["customer_id"].isin(customer_ids)
    ]
    past = past.dropna(subset=["text"]).sort_values("created_at")
    quotes: dict[tuple[str, str], dict[str, Any]] = {}

    def quote(row: Any) -> dict[str, Any]:
        text = str(row.text)
        return {
            "feedback_id": row.feedback_id,
            "date": str(pd.Timestamp(row.created_at).date()),
            "quote": text if len(text) <= 200 else text[:197] + "…",
        }

    themes = inputs["themes"].merge(
        past[["feedback_id", "customer_id", "created_at", "text"]], on="feedback_id"
    )
    for row in themes.sort_values("created_at").itertuples(index=False):
        quotes[(row.customer_id, f"theme_{row.theme_id}")] = quote(row)
    analysis = inputs["analysis"].merge(
        past[["feedback_id", "customer_id", "created_at", "text"]], on="feedback_id"
    )
    for row in analysis.sort_values("created_at").itertuples(index=False):
        for intent in row.intents or []:
            quotes[(row.customer_id, f"intent_{intent}_90d")] = quote(row)
    return quotes


def _reasons(
    model: Any,
    matrix: np.ndarray,
    top: np.ndarray,
    chosen: np.ndarray,
    customers: np.ndarray,
    quotes: dict[tuple[str, str], dict[str, Any]],
) -> list[list[dict[str, Any]]]:
    """Per row, its top reasons as dicts: feature, value as the customer has it, contribution,
    a sentence, and the customer's own words (``evidence``) behind a theme or intent reason."""
    names = [str(c) for c in model.columns_]
    categories = [model.categories_.get(c) for c in model.columns_]
    # Each (feature, value, contribution) sentence is built once per distinct value, not per row.
    texts: dict[tuple[int, Any, bool], str] = {}
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
                value = int(raw) if raw.is_integer() else float(raw)
            contribution = float(rounded[i, slot])
            key = (j, value, contribution > 0)
            text = texts.get(key)
            if text is None:
                text = texts[key] = _describe(names[j], value, contribution)
            reason: dict[str, Any] = {
                "feature": names[j],
                "value": value,
                "contribution": contribution,
                "text": text,
            }
            if quotes:
                evidence = quotes.get((customers[i], names[j]))
                if evidence:
                    reason["evidence"] = evidence
            row.append(reason)
        reasons.append(row)
    return reasons


def score_store(
    bundle: dict[str, Any],
    inputs: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    *,
    model_version: str,
    now: datetime,
) -> pd.DataFrame:
    """Score every customer active at ``as_of`` with a store-mode churn bundle."""
    if bundle["mode"] != "store":
        raise ConfigError(
            "the champion churn model was trained on a flat table: score a file with `cxml score --customers FILE`"
        )
    from cxml.churn.training import with_churn_definition

    inputs = with_churn_definition(inputs, bundle.get("churn_definition", {}), as_of)
    features = customer_features(
        inputs["customers"],
        inputs["feedback"],
        as_of,
        analysis=inputs["analysis"] if bundle["with_text"] else None,
        themes=inputs["themes"] if bundle["with_text"] else None,
        theme_ids=bundle["theme_ids"],
        channels=bundle["channels"],
    )
    for column in bundle["columns"]:
        if column not in features.columns:
            features[column] = np.nan  # an attribute the training data had and this date lacks
    return _scored(
        bundle,
        features[bundle["columns"]],
        as_of,
        model_version,
        now,
        _quotes(inputs, as_of, list(features.index)),
    )


def score_flat(
    bundle: dict[str, Any], table: pd.DataFrame, *, model_version: str, now: datetime
) -> pd.DataFrame:
    """Score a flat customer table (customer_id plus the training columns) with a flat-mode bundle."""
    if bundle["mode"] != "flat":
        raise ConfigError(
            "the champion churn model was trained on the store: score with `cxml score --as-of DATE`"
        )
    if "customer_id" not in table.columns:
        raise ConfigError("the table needs a customer_id column (map yours with --map)")
    features = table.set_index("customer_id")
    return _scored(bundle, features, pd.Timestamp(now).normalize(), model_version, now, {})


EXACT_LIMIT = 2000


def top_contributions(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices and values of the k largest contributions by size (−1: none left)."""
    k = min(k, values.shape[1])
    if k == 0:
        return np.zeros((len(values), 0), dtype=np.int64), np.zeros((len(values), 0))
    top = np.argpartition(-np.abs(values), k - 1, axis=1)[:, :k]
    order = np.argsort(-np.abs(np.take_along_axis(values, top, axis=1)), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    chosen = np.take_along_axis(values, top, axis=1)
    return np.where(chosen == 0.0, -1, top), chosen


def _scored(
    bundle: dict[str, Any],
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    model_version: str,
    now: datetime,
    quotes: dict[tuple[str, str], dict[str, Any]],
) -> pd.DataFrame:
    model = bundle["model"]
    exact = len(features) <= EXACT_LIMIT
    # One walk down the trees gives the probability and, for bulk runs, the path attributions.
    walked = model.walk(features, k=0 if exact else TOP_REASONS)
    probability = walked["probability"]
    if exact:
        attribution = "exact TreeSHAP"
        values = model.contributions(features).drop(columns=["bias"]).to_numpy()
        top, chosen = top_contributions(values, TOP_REASONS)
    else:
        attribution = "path (Saabas)"
        top, chosen = walked["top_index"], walked["top_value"]
    reasons = _reasons(model, walked["matrix"], top, chosen, features.index.to_numpy(), quotes)
    customers = features.index.to_numpy()
    monthly = (
        pd.to_numeric(features["monthly_value"], errors="coerce").to_numpy()
        if "monthly_value" in features
        else np.full(len(features), np.nan)
    )
    return pd.DataFrame(
        {
            "customer_id": customers,
            "as_of": pd.Timestamp(as_of).date(),
            "model_version": model_version,
            "probability": np.round(probability, 6),
            "band": bands(probability, bundle["base_rate"]),
            "revenue_at_risk": np.round(probability * monthly * bundle["horizon_days"] / 30.0, 2),
            "reasons": reasons,
            "attribution": attribution,
            "scored_at": now,
        }
    )
