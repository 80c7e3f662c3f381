"""Customer features as of a date: the one place that knows about time windows.

Nothing dated on or after ``as_of`` reaches a feature: feedback, scores, analysis and
themes are cut at ``as_of`` before anything is computed, and a customer's churn date
is used only to decide who is active at ``as_of`` (and, in ``churn_labels``, the label).
Attributes are taken as stored (the store keeps no attribute history): a column that
only exists because a customer churned is a leak, which ``leak_warnings`` looks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

WINDOWS = (7, 30, 90, 365)
THEME_HALF_LIFE_DAYS = 60.0
NEGATIVE_SENTIMENT = -0.2


def active_at(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Customers who signed up before ``as_of`` and had not churned by then."""
    signup = pd.to_datetime(customers["signup_date"])
    churn = pd.to_datetime(customers["churn_date"])
    return customers[(signup < as_of) & (churn.isna() | (churn >= as_of))]


def churn_labels(customers: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int) -> pd.Series:
    """1 where an active customer churns within ``horizon_days`` after ``as_of``, else 0."""
    active = active_at(customers, as_of)
    churn = pd.to_datetime(active["churn_date"])
    label = churn.notna() & (churn < as_of + pd.Timedelta(days=horizon_days))
    return pd.Series(
        label.astype(int).to_numpy(), index=active["customer_id"].to_numpy(), name="churned"
    )


def inactivity_churn_dates(
    customers: pd.DataFrame,
    feedback: pd.DataFrame,
    inactive_days: int,
    data_end: pd.Timestamp,
) -> pd.Series:
    """Per customer (index customer_id), the day inactivity churn happened, or NaT.

    Inactivity churn: no interaction (signup or any feedback) for ``inactive_days``. The churn
    day is the first interaction followed by such a gap, plus ``inactive_days`` — counted only
    when that day is on or before ``data_end``, so it is known then. Whether a customer was
    already churned at a date T depends only on what happened before T.
    """
    gap = pd.Timedelta(days=inactive_days)
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": customers["customer_id"].to_numpy(),
                    "at": pd.to_datetime(customers["signup_date"]).to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "customer_id": feedback["customer_id"].to_numpy(),
                    "at": pd.to_datetime(feedback["created_at"]).to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    ).dropna()
    events = events[events["at"] < pd.Timestamp(data_end)]
    events = events.sort_values(["customer_id", "at"], kind="stable")
    following = events.groupby("customer_id")["at"].shift(-1)
    ends = events["at"] + gap
    lapsed = (following.isna() | (following > ends)) & (ends <= pd.Timestamp(data_end))
    first = ends[lapsed].groupby(events.loc[lapsed, "customer_id"]).min()
    return first.reindex(customers["customer_id"].to_numpy()).dt.normalize()


def customer_features(
    customers: pd.DataFrame,
    feedback: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    analysis: pd.DataFrame | None = None,
    themes: pd.DataFrame | None = None,
    theme_ids: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per customer active at ``as_of`` (index customer_id), every feature numeric or category.

    ``customers``: customer_id, signup_date, churn_date, monthly_value, attributes (dict).
    ``feedback``: feedback_id, customer_id, created_at, channel, nps, csat, ces.
    ``analysis``: feedback_id, sentiment_score, intents (list); ``themes``: feedback_id,
    theme_id, sentiment_score. ``theme_ids`` and ``channels`` fix the columns (pass the
    training run's lists when scoring, so columns match).
    """
    as_of = pd.Timestamp(as_of)
    active = active_at(customers, as_of).reset_index(drop=True)
    out = pd.DataFrame(index=pd.Index(active["customer_id"].to_numpy(), name="customer_id"))
    out["tenure_days"] = (as_of - pd.to_datetime(active["signup_date"])).dt.days.to_numpy()
    out["monthly_value"] = pd.to_numeric(active["monthly_value"], errors="coerce").to_numpy()
    attributes = pd.DataFrame(
        list(active["attributes"].map(lambda a: a if isinstance(a, dict) else {}))
    )
    attributes.index = out.index
    for column in attributes.columns:
        values = attributes[column]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() >= 0.9 * values.notna().sum() and values.notna().any():
            out[f"attr_{column}"] = numeric.to_numpy()
        else:
            out[f"attr_{column}"] = values.astype("string").astype("category").to_numpy()

    past = feedback[
        (pd.to_datetime(feedback["created_at"]) < as_of) & feedback["customer_id"].isin(out.index)
    ].copy()
    # Only the columns features read, ids as plain objects: filtering Arrow-backed strings costs
    # a pyarrow call per column per filter, most of a small call's time.
    past = pd.DataFrame(
        {
            "feedback_id": past["feedback_id"].to_numpy(dtype=object),
            "customer_id": past["customer_id"].to_numpy(dtype=object),
            "created_at": pd.to_datetime(past["created_at"]).to_numpy(),
            "channel": past["channel"].to_numpy(dtype=object),
            **{score: past[score].array for score in ("nps", "csat", "ces")},
        }
    )
    past["age_days"] = (as_of - past["created_at"]).dt.total_seconds() / 86400.0
    grouped = past.groupby("customer_id")
    # Counts per customer as bincounts over each row's customer position: one numpy call per
    # column instead of a filter, a groupby and a reindex (this runs per request when serving).
    position = out.index.get_indexer(past["customer_id"])
    age = past["age_days"].to_numpy()
    counts: dict[str, np.ndarray] = {}
    for window in WINDOWS:
        counts[f"contacts_{window}d"] = np.bincount(position[age <= window], minlength=len(out))
    channel_of = past["channel"].to_numpy(dtype=object)
    for channel in channels if channels is not None else sorted(past["channel"].dropna().unique()):
        in_channel = (channel_of == channel) & (age <= 365)
        counts[f"channel_{channel}_365d"] = np.bincount(position[in_channel], minlength=len(out))
    counts["days_since_last_contact"] = grouped["age_days"].min().reindex(out.index).to_numpy()
    out = pd.concat([out, pd.DataFrame(counts, index=out.index)], axis=1)

    # Built as one dict and joined once: inserting columns one by one into a wide frame costs
    # most of a small call's time.
    more: dict[str, Any] = {}
    ordered = past.sort_values(["customer_id", "created_at", "feedback_id"])
    for score in ("nps", "csat", "ces"):
        scored = ordered.dropna(subset=[score])
        values = scored.groupby("customer_id")[score]
        more[f"{score}_last"] = values.last().reindex(out.index).astype(float)
        more[f"{score}_mean"] = values.mean().reindex(out.index)
        if score == "nps":
            more["nps_min"] = values.min().reindex(out.index).astype(float)
            more["nps_trend"] = more["nps_last"] - more["nps_mean"]
            more["detractor_last"] = (
                (more["nps_last"] <= 6).astype(float).where(more["nps_last"].notna())
            )
            detractors = scored[(scored[score] <= 6) & (scored["age_days"] <= 365)]
            more["detractors_365d"] = (
                detractors.groupby("customer_id").size().reindex(out.index, fill_value=0)
            )

    negative_days = past.loc[past["nps"].fillna(10) <= 6, ["customer_id", "age_days"]]
    if analysis is not None and not analysis.empty:
        read = past.merge(analysis, on="feedback_id", how="inner")
        for window in (90, 365):
            recent = read[read["age_days"] <= window].groupby("customer_id")["sentiment_score"]
            more[f"sentiment_mean_{window}d"] = recent.mean().reindex(out.index)
            more[f"sentiment_min_{window}d"] = recent.min().reindex(out.index)
        more["sentiment_trend"] = more["sentiment_mean_90d"] - more["sentiment_mean_365d"]
        for intent in ("cancel", "effort", "callback"):
            has = read[
                (read["age_days"] <= 90) & read["intents"].map(lambda xs, i=intent: i in (xs or []))
            ]
            more[f"intent_{intent}_90d"] = (
                has.groupby("customer_id").size().reindex(out.index, fill_value=0)
            )
        negative_days = pd.concat(
            [
                negative_days,
                read.loc[
                    read["sentiment_score"] <= NEGATIVE_SENTIMENT, ["customer_id", "age_days"]
                ],
            ]
        )
    more["days_since_last_negative"] = (
        negative_days.groupby("customer_id")["age_days"].min().reindex(out.index)
    )

    if themes is not None and not themes.empty:
        mentioned = past[["feedback_id", "customer_id", "age_days"]].merge(
            themes, on="feedback_id", how="inner"
        )
        mentioned = mentioned[mentioned["theme_id"] != "other"]
        decay = np.power(0.5, mentioned["age_days"] / THEME_HALF_LIFE_DAYS)
        mentioned = mentioned.assign(
            weight=decay,
            negative=decay * (mentioned["sentiment_score"].fillna(0) <= NEGATIVE_SENTIMENT),
        )
        wanted = (
            list(theme_ids) if theme_ids is not None else sorted(mentioned["theme_id"].unique())
        )
        # Decayed sums per (customer, theme) in one bincount over flattened cells.
        theme_code = pd.Index(wanted).get_indexer(mentioned["theme_id"])
        kept = theme_code >= 0
        cell = (
            out.index.get_indexer(mentioned["customer_id"])[kept] * len(wanted) + theme_code[kept]
        )
        size = len(out) * len(wanted)
        shape = (len(out), len(wanted))
        weight = np.bincount(cell, mentioned["weight"].to_numpy()[kept], size).reshape(shape)
        negative = np.bincount(cell, mentioned["negative"].to_numpy()[kept], size).reshape(shape)
        for i, theme in enumerate(wanted):
            more[f"theme_{theme}"] = weight[:, i]
            more[f"theme_{theme}_negative"] = negative[:, i]
    out = pd.concat([out, pd.DataFrame(more, index=out.index)], axis=1)
    return out.copy()  # one block per dtype instead of one per inserted column


def leak_warnings(
    frame: pd.DataFrame, label: pd.Series, *, auc_threshold: float = 0.97
) -> list[str]:
    """Columns that look like leaks: near-perfect alone, or filled only for one class."""
    from sklearn.metrics import roc_auc_score

    from cxml.churn.model import prepare

    warnings: list[str] = []
    y = label.to_numpy()
    if len(np.unique(y)) < 2:
        return warnings
    typed = prepare(frame)
    for column in typed.columns:
        values = typed[column]
        present = values.notna().to_numpy()
        if present.any() and not present.all():
            share_positive = y[present].mean()
            if share_positive in (0.0, 1.0) and present.sum() >= 10:
                warnings.append(
                    f"{column}: filled only for {'churners' if share_positive == 1 else 'non-churners'} "
                    f"({present.sum():,} rows) — it is probably recorded because of the outcome"
                )
                continue
        determined = _determined_share(values, y)
        if determined >= 0.5:
            warnings.append(
                f"{column}: its value alone decides churn for {determined:.0%} of rows "
                "(some values always churned, others never) — check it is known before churn"
            )
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            if len(values.cat.categories) > 50:
                continue  # an id-like column: per-value rates would only echo the label
            codes = values.cat.codes.to_numpy().astype(float)
            rates = pd.Series(y).groupby(codes).mean()
            score = codes.copy()
            for code, rate in rates.items():
                score[codes == code] = rate
        else:
            score = pd.to_numeric(values, errors="coerce").fillna(-1e12).to_numpy()
        auc = roc_auc_score(y, score)
        auc = max(auc, 1 - auc)
        if auc >= auc_threshold:
            warnings.append(
                f"{column}: predicts churn alone with ROC-AUC {auc:.3f} — check it is known before churn"
            )
    return warnings


def _determined_share(values: pd.Series, y: np.ndarray, min_rows: int = 20) -> float:
    """Share of rows whose value's group (≥ ``min_rows``) churned always or never, when both kinds exist."""
    if values.nunique(dropna=True) > 50:
        return 0.0
    rates = (
        pd.DataFrame({"v": values.astype(object), "y": y})
        .dropna()
        .groupby("v")["y"]
        .agg(["mean", "size"])
    )
    rates = rates[rates["size"] >= min_rows]
    always, never = rates[rates["mean"] == 1.0], rates[rates["mean"] == 0.0]
    if always.empty or never.empty:
        return 0.0
    return float((always["size"].sum() + never["size"].sum()) / len(y))
