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


def _describe(
    feature: str, value: Any, contribution: float, labels: dict[str, str] | None = None
) -> str:
    direction = "raises" if contribution > 0 else "lowers"
    shown = "missing" if value is None or (isinstance(value, float) and np.isnan(value)) else value
    if isinstance(shown, float):
        shown = round(shown, 2)
    name = feature.removeprefix("attr_").replace("_", " ")
    if feature.startswith("theme_"):
        theme = feature.removeprefix("theme_")
        negative = theme.endswith("_negative")
        theme = theme.removesuffix("_negative")
        label = (labels or {}).get(theme, theme)
        what = "negative mentions of" if negative else "mentions of"
        return f"{what} “{label}” (recent-weighted {shown}) {direction} the risk"
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
    labels: dict[str, str],
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
                text = texts[key] = _describe(names[j], value, contribution, labels)
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
    data = model._data(features)  # prepared once for the walk and for TreeSHAP
    # One walk down the trees gives the probability and, for bulk runs, the path attributions.
    walked = model.walk(features, k=0 if exact else TOP_REASONS, prepared=data)
    probability = walked["probability"]
    if exact:
        attribution = "exact TreeSHAP"
        values = model.booster_.booster_.predict(data, pred_contrib=True)[:, :-1]
        top, chosen = top_contributions(values, TOP_REASONS)
    else:
        attribution = "path (Saabas)"
        top, chosen = walked["top_index"], walked["top_value"]
    reasons = _reasons(
        model,
        walked["matrix"],
        top,
        chosen,
        features.index.to_numpy(),
        quotes,
        bundle.get("theme_labels") or {},
    )
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
            "features_as_of": pd.Timestamp(as_of).to_pydatetime(),
        }
    )


# --- scoring a request: some customers by id, some inline ------------------------------------


def flat_rows(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers as a flat table for a flat-mode model: customer_id, monthly_value, attributes."""
    attributes = pd.DataFrame(
        [a if isinstance(a, dict) else {} for a in customers["attributes"]],
        index=customers.index,
    )
    table = pd.concat(
        [
            customers[["customer_id", "monthly_value"]],
            attributes.drop(columns=["monthly_value"], errors="ignore"),
        ],
        axis=1,
    )
    return table.reset_index(drop=True)


def inline_inputs(
    items: list[dict[str, Any]],
    stored: dict[str, pd.DataFrame],
    *,
    now: datetime,
    text_pipeline: Any,
    text_version: str,
    max_text_chars: int,
    future_tolerance_days: int,
) -> tuple[dict[str, pd.DataFrame], dict[int, list[dict[str, str]]]]:
    """Features inputs for customers described in a request, on top of what the store holds.

    Each item: ``customer_id``, ``attributes`` (contract columns like signup_date and
    monthly_value, or any attribute), ``feedback`` (contract fields). Inline attributes win over
    stored ones; inline feedback is added to the stored feedback and read by ``text_pipeline``.
    Nothing is written. Returns the inputs and, per item position, the contract's errors.
    """
    from cxml import contract
    from cxml.io import to_text

    errors: dict[int, list[dict[str, str]]] = {}
    rows = np.arange(1, len(items) + 1)
    known = stored["customers"].set_index("customer_id")
    raw_customers = []
    for item in items:
        attributes = {str(k): to_text(v) for k, v in (item.get("attributes") or {}).items()}
        raw_customers.append({**attributes, "customer_id": item["customer_id"]})
    customers_raw = pd.DataFrame(raw_customers, dtype=object)
    checked = contract.validate_customers(customers_raw, rows, now=now, as_of=now)
    for row, field, value, reason in checked.errors.itertuples(index=False, name=None):
        errors.setdefault(int(row) - 1, []).append(
            {"field": f"attributes.{field}", "value": value, "reason": reason}
        )
    valid = checked.valid.set_index("row")
    people = []
    for position, item in enumerate(items):
        if position + 1 not in valid.index:
            continue
        row = valid.loc[position + 1]
        customer_id = item["customer_id"]
        base: dict[str, Any] = (
            known.loc[customer_id].to_dict() if customer_id in known.index else {}
        )
        present = set(checked.valid.attrs.get("present", []))
        signup = row["signup_date"] if pd.notna(row["signup_date"]) else base.get("signup_date")
        if signup is None or pd.isna(signup):
            errors.setdefault(position, []).append(
                {
                    "field": "attributes.signup_date",
                    "value": "",
                    "reason": "signup_date (or tenure_months) is required for a customer not in the store",
                }
            )
            continue
        people.append(
            {
                "customer_id": customer_id,
                "signup_date": pd.Timestamp(signup),
                "churn_date": row["churn_date"]
                if "churn_date" in present
                else base.get("churn_date"),
                "monthly_value": row["monthly_value"]
                if "monthly_value" in present
                else base.get("monthly_value"),
                "attributes": {**(base.get("attributes") or {}), **row["attributes"]},
            }
        )
    raw_feedback = []
    owners = []
    for position, item in enumerate(items):
        for number, entry in enumerate(item.get("feedback") or []):
            fields = {str(k): to_text(v) for k, v in entry.items()}
            fields.setdefault("feedback_id", f"inline:{item['customer_id']}:{number + 1}")
            raw_feedback.append({**fields, "customer_id": item["customer_id"]})
            owners.append((position, number))
    feedback_new = pd.DataFrame(columns=["feedback_id", "customer_id", "created_at"])
    if raw_feedback:
        checked_feedback = contract.validate_feedback(
            pd.DataFrame(raw_feedback, dtype=object),
            np.arange(1, len(raw_feedback) + 1),
            now=now,
            max_text_chars=max_text_chars,
            future_tolerance_days=future_tolerance_days,
        )
        for row, field, value, reason in checked_feedback.errors.itertuples(index=False, name=None):
            position, number = owners[int(row) - 1]
            errors.setdefault(position, []).append(
                {"field": f"feedback[{number}].{field}", "value": value, "reason": reason}
            )
        feedback_new = checked_feedback.valid.drop(columns=["row", "channel_original"])
    people_frame = pd.DataFrame(
        people, columns=["customer_id", "signup_date", "churn_date", "monthly_value", "attributes"]
    )
    people_frame["signup_date"] = pd.to_datetime(people_frame["signup_date"])
    people_frame["churn_date"] = pd.to_datetime(people_frame["churn_date"])
    ok = set(people_frame["customer_id"]) - {items[p]["customer_id"] for p in errors}
    people_frame = people_frame[people_frame["customer_id"].isin(ok)]
    feedback_new = feedback_new[feedback_new["customer_id"].isin(ok)]
    analysis = stored["analysis"]
    themes = stored["themes"]
    with_text = feedback_new.dropna(subset=["text"]) if "text" in feedback_new else feedback_new
    if len(with_text):
        from cxml.text.training import analysis_frames

        results = text_pipeline.analyze(with_text["text"].tolist(), with_text["language"].tolist())
        new_analysis, new_themes = analysis_frames(
            with_text["feedback_id"].tolist(), results, text_version, now
        )
        analysis = pd.concat([analysis, new_analysis[analysis.columns]], ignore_index=True)
        themes = pd.concat([themes, new_themes[themes.columns]], ignore_index=True)
    stored_feedback = stored["feedback"][stored["feedback"]["customer_id"].isin(ok)]
    feedback_all = pd.concat(
        [stored_feedback, feedback_new[[c for c in stored_feedback.columns if c in feedback_new]]],
        ignore_index=True,
    )
    feedback_all["created_at"] = pd.to_datetime(feedback_all["created_at"])
    return (
        {
            "customers": people_frame.reset_index(drop=True),
            "feedback": feedback_all,
            "analysis": analysis,
            "themes": themes,
        },
        errors,
    )


def score_request(
    bundle: dict[str, Any],
    store: Any,
    items: list[dict[str, Any]],
    *,
    now: datetime,
    model_version: str,
    text_pipeline: Any,
    text_version: str,
    max_text_chars: int = 20_000,
    future_tolerance_days: int = 1,
    record: bool = True,
    reuse: bool = True,
    reused: list[dict[str, Any] | None] | None = None,
) -> list[dict[str, Any]]:
    """Score each item as of ``now``: by id (the store's data) or inline (attributes and feedback
    in the item, on top of anything stored). One result per item, in order: the score, or an
    ``error`` naming what is wrong. Scores of stored customers scored from stored data alone
    are recorded in the store when ``record`` (the at-risk list reads them).

    With ``reuse``, a by-id score stored today by the same model, from features cut after the
    last change to that customer's data, is returned as it is (``reused``: true) instead of
    being computed again; only the passing of time since its cut separates it from a new one.
    ``reused``: the result of ``reused_scores`` when the caller already has it.
    """
    as_of = pd.Timestamp(now)
    inline_positions = [p for p, item in enumerate(items) if _inline(item)]
    is_inline = set(inline_positions)
    results: list[dict[str, Any] | None] = (
        list(reused)
        if reused is not None
        else reused_scores(store, items, now=now, model_version=model_version)
        if reuse
        else [None] * len(items)
    )
    by_id = [p for p in range(len(items)) if p not in is_inline]
    ids = [items[p]["customer_id"] for p in range(len(items)) if results[p] is None]
    if not ids:  # every score was still true: nothing to read or compute
        return [r for r in results if r is not None]
    stored = store.churn_inputs(customer_ids=sorted(set(ids)))
    known = set(stored["customers"]["customer_id"])
    scored_by_id = pd.DataFrame()
    for position in by_id:
        if results[position] is not None:
            continue
        if items[position]["customer_id"] not in known:
            results[position] = {
                "customer_id": items[position]["customer_id"],
                "error": {
                    "status": 404,
                    "field": "customer_id",
                    "value": items[position]["customer_id"],
                    "reason": "not in the store; send attributes (and feedback) inline to score it",
                },
            }
    wanted = sorted({items[p]["customer_id"] for p in by_id if results[p] is None})
    frames = []
    if wanted:
        scored_by_id = _score_inputs(
            bundle, _only(stored, wanted), as_of, model_version=model_version, now=now
        )
        frames.append(scored_by_id)
    if inline_positions:
        inline_items = [items[p] for p in inline_positions]
        inputs, errors = inline_inputs(
            inline_items,
            stored,
            now=now,
            text_pipeline=text_pipeline,
            text_version=text_version,
            max_text_chars=max_text_chars,
            future_tolerance_days=future_tolerance_days,
        )
        for index, problems in errors.items():
            results[inline_positions[index]] = {
                "customer_id": inline_items[index]["customer_id"],
                "error": {"status": 422, **problems[0], "errors": problems},
            }
        if len(inputs["customers"]):
            frames.append(
                _score_inputs(bundle, inputs, as_of, model_version=model_version, now=now)
            )
    scored: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        for entry in frame.to_dict(orient="records"):
            scored.setdefault(str(entry["customer_id"]), []).append(_clean(entry))
    for position, item in enumerate(items):
        if results[position] is not None:
            continue
        customer_id = item["customer_id"]
        inline = position in is_inline
        candidates = scored.get(customer_id, [])
        row = (candidates[-1] if inline else candidates[0]) if candidates else None
        if row is None:
            churned = stored["customers"].loc[
                stored["customers"]["customer_id"] == customer_id, "churn_date"
            ]
            reason = (
                f"churned on {pd.Timestamp(churned.iloc[0]).date()}: only active customers are scored"
                if len(churned) and pd.notna(churned.iloc[0])
                else "not active at this time (signed up later, or churned)"
            )
            results[position] = {
                "customer_id": customer_id,
                "error": {
                    "status": 409,
                    "field": "customer_id",
                    "value": customer_id,
                    "reason": reason,
                },
            }
            continue
        results[position] = {**row, "recorded": record and not inline, "reused": False}
    if record and not scored_by_id.empty:
        from cxml.store.service import upsert_scores

        upsert_scores(store, scored_by_id)
    return [r for r in results if r is not None]


def reused_scores(
    store: Any, items: list[dict[str, Any]], *, now: datetime, model_version: str
) -> list[dict[str, Any] | None]:
    """Per item, today's stored score when it is still true (see ``score_request``), else None.

    Only by-id items (no inline attributes or feedback) can be reused. One indexed query.
    """
    from cxml.store.service import fresh_scores

    by_id = [not _inline(item) for item in items]
    wanted = sorted(
        {item["customer_id"] for item, plain in zip(items, by_id, strict=True) if plain}
    )
    found = fresh_scores(
        store, wanted, model_version, pd.Timestamp(now).normalize().to_pydatetime()
    )
    return [
        {**_clean(found[item["customer_id"]]), "recorded": True, "reused": True}
        if plain and item["customer_id"] in found
        else None
        for item, plain in zip(items, by_id, strict=True)
    ]


def _inline(item: dict[str, Any]) -> bool:
    """An item that brings its own attributes or feedback (scored on top of the store, never reused)."""
    return bool(item.get("attributes") or item.get("feedback"))


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """NaN (a missing monthly value's revenue at risk) as None, which JSON can carry."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}


def _only(inputs: dict[str, pd.DataFrame], customer_ids: list[str]) -> dict[str, pd.DataFrame]:
    wanted = set(customer_ids)
    return {
        **inputs,
        "customers": inputs["customers"][inputs["customers"]["customer_id"].isin(wanted)],
        "feedback": inputs["feedback"][inputs["feedback"]["customer_id"].isin(wanted)],
    }


def _score_inputs(
    bundle: dict[str, Any],
    inputs: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    *,
    model_version: str,
    now: datetime,
) -> pd.DataFrame:
    if bundle["mode"] == "flat":
        from cxml.features import active_at

        return score_flat(
            bundle,
            flat_rows(active_at(inputs["customers"], as_of)),
            model_version=model_version,
            now=now,
        )
    return score_store(bundle, inputs, as_of, model_version=model_version, now=now)
