"""Customer features at an instant: the one place that knows about time windows.

``customer_features(history, spec)`` turns what the store knew at ``history.as_of`` (a
``History``, already cut in SQL by ``cxml.store.history``) into one row per customer. The same
function serves one customer (an HTTP request), a bucket of a bulk job, or a Spark task: it is
vectorised over rows with NumPy (bincounts over each row's customer position), so a single
customer costs well under a millisecond and a bucket scales linearly.

``FeatureSpec`` fixes the columns (theme ids, channels, attribute names, with or without
text) so that every snapshot, bucket and request gives the training run's columns in its order.
Attributes are taken as stored (the store keeps no attribute history): a column that only
exists because a customer churned is a leak, which ``cxml.churn.leaks`` looks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxml.contract import AsOf
from cxml.errors import ConfigError
from cxml.store.history import History

WINDOWS = (7, 30, 90, 365)
THEME_HALF_LIFE_DAYS = 60.0
NEGATIVE_SENTIMENT = -0.2
INTENTS = ("leave", "effort", "callback")
SCORES = ("nps", "csat", "ces")
MIN_THEME_MENTIONS = 20


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns customer features have, in order: fixed once per training run."""

    theme_ids: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    with_text: bool = True

    @classmethod
    def observed(cls, history: History, *, with_text: bool = True) -> FeatureSpec:
        """The columns the data in ``history`` has (for exploring; training fixes its own)."""
        themes = history.themes
        return cls(
            theme_ids=tuple(sorted(set(themes["theme_id"].dropna()) - {"other"}))
            if with_text
            else (),
            channels=tuple(sorted(history.feedback["channel"].dropna().unique())),
            attributes=tuple(sorted({k for a in history.customers["attributes"] for k in a})),
            with_text=with_text,
        )

    def columns(self) -> list[str]:
        """The feature columns, in the order ``customer_features`` returns them."""
        out = ["tenure_days", "monthly_value", *(f"attr_{a}" for a in self.attributes)]
        out += [f"contacts_{w}d" for w in WINDOWS]
        out += [f"channel_{c}_365d" for c in self.channels]
        out += ["days_since_last_contact"]
        out += ["nps_last", "nps_mean", "nps_min", "nps_trend", "detractor_last"]
        out += ["detractors_365d", "csat_last", "csat_mean", "ces_last", "ces_mean"]
        if self.with_text:
            for window in (90, 365):
                out += [f"sentiment_mean_{window}d", f"sentiment_min_{window}d"]
            out += ["sentiment_trend", *(f"intent_{i}_90d" for i in INTENTS)]
        out += ["days_since_last_negative"]
        if self.with_text:
            for theme in self.theme_ids:
                out += [f"theme_{theme}", f"theme_{theme}_negative"]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for run parameters and artifacts)."""
        return {
            "theme_ids": list(self.theme_ids),
            "channels": list(self.channels),
            "attributes": list(self.attributes),
            "with_text": self.with_text,
        }


def customer_features(history: History, spec: FeatureSpec | None = None) -> pd.DataFrame:
    """One row per customer of ``history`` (index customer_id), the columns of ``spec``.

    Numbers are float64 (NaN where there is nothing to say, e.g. no NPS answer yet);
    ``attr_*`` columns hold the stored attribute values as they are (the model decides, when
    it is fitted, which are numbers and which are categories). Raises ConfigError when a
    feedback row dated on or after ``as_of`` is given: histories are cut before this.
    """
    spec = spec or FeatureSpec.observed(history)
    as_of = history.as_of
    people = history.customers
    index = pd.Index(people["customer_id"].to_numpy(dtype=object), name="customer_id")
    n = len(index)
    columns: dict[str, Any] = {}
    signup = people["signup_date"].to_numpy(dtype="datetime64[ns]")
    columns["tenure_days"] = ((as_of.to_datetime64() - signup) // np.timedelta64(1, "D")).astype(
        float
    )
    columns["monthly_value"] = people["monthly_value"].to_numpy(dtype=float, na_value=np.nan)
    stored = people["attributes"].tolist()
    for name in spec.attributes:
        columns[f"attr_{name}"] = np.array(
            [a.get(name) if isinstance(a, dict) else None for a in stored], dtype=object
        )

    rows = _FeedbackRows(history.feedback, index, as_of)
    age = rows.age
    for window in WINDOWS:
        columns[f"contacts_{window}d"] = rows.count(age <= window)
    for channel in spec.channels:
        columns[f"channel_{channel}_365d"] = rows.count((rows.channel == channel) & (age <= 365))
    columns["days_since_last_contact"] = rows.minimum(age, np.ones(len(age), dtype=bool))
    for score in SCORES:
        values = rows.values(score)
        valid = ~np.isnan(values)
        last = rows.last(values, valid)
        columns[f"{score}_last"] = last
        columns[f"{score}_mean"] = rows.mean(values, valid)
        if score == "nps":
            columns["nps_min"] = rows.minimum(values, valid)
            columns["nps_trend"] = last - columns["nps_mean"]
            columns["detractor_last"] = np.where(np.isnan(last), np.nan, (last <= 6).astype(float))
            columns["detractors_365d"] = rows.count(valid & (values <= 6) & (age <= 365))
    nps = rows.values("nps")
    negative = ~np.isnan(nps) & (nps <= 6)
    if spec.with_text:
        sentiment = rows.values("sentiment_score")
        scored = ~np.isnan(sentiment)
        for window in (90, 365):
            recent = scored & (age <= window)
            columns[f"sentiment_mean_{window}d"] = rows.mean(sentiment, recent)
            columns[f"sentiment_min_{window}d"] = rows.minimum(sentiment, recent)
        columns["sentiment_trend"] = columns["sentiment_mean_90d"] - columns["sentiment_mean_365d"]
        intents = rows.intents()
        for intent in INTENTS:
            columns[f"intent_{intent}_90d"] = rows.count(expressed(intents, intent) & (age <= 90))
        negative |= scored & (sentiment <= NEGATIVE_SENTIMENT)
    columns["days_since_last_negative"] = rows.minimum(age, negative)
    if spec.with_text and spec.theme_ids:
        weight, weight_negative = _theme_weights(history.themes, index, as_of, spec.theme_ids)
        for i, theme in enumerate(spec.theme_ids):
            columns[f"theme_{theme}"] = weight[:, i]
            columns[f"theme_{theme}_negative"] = weight_negative[:, i]
    ordered = spec.columns()
    numeric = [c for c in ordered if not c.startswith("attr_")]
    block = np.empty((n, len(numeric)))
    for j, name in enumerate(numeric):
        block[:, j] = columns[name]
    frame = pd.DataFrame(block, index=index, columns=numeric)
    if spec.attributes:
        attributes = pd.DataFrame(
            {f"attr_{a}": columns[f"attr_{a}"] for a in spec.attributes}, index=index
        )
        frame = pd.concat([frame, attributes], axis=1)[ordered]
    return frame


class _FeedbackRows:
    """Feedback rows of the customers of one history, with each row's customer position.

    Reductions per customer are bincounts (sums, counts) and ufunc.at (min, last) over those
    positions: one NumPy call per feature whatever the number of customers.
    """

    def __init__(self, feedback: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp) -> None:
        created = feedback["created_at"].to_numpy(dtype="datetime64[ns]")
        if len(created) and created.max() >= as_of.to_datetime64():
            raise ConfigError(
                f"feedback dated {pd.Timestamp(created.max())} reached the features as of "
                f"{as_of}: read histories with cxml.store.history.read_history, which cuts time"
            )
        position = index.get_indexer(feedback["customer_id"].to_numpy(dtype=object))
        self.kept = position >= 0
        self.position = position[self.kept]
        self.frame = feedback
        self.n = len(index)
        self.age = (as_of.to_datetime64() - created[self.kept]) / np.timedelta64(1, "s") / 86400.0
        self.channel = feedback["channel"].to_numpy(dtype=object)[self.kept]
        self.order = np.arange(len(self.position))

    def values(self, column: str) -> np.ndarray:
        if column not in self.frame.columns:
            return np.full(len(self.position), np.nan)
        return self.frame[column].to_numpy(dtype=float, na_value=np.nan)[self.kept]

    def intents(self) -> np.ndarray:
        if "intents" not in self.frame.columns:
            return np.full(len(self.position), None, dtype=object)
        return self.frame["intents"].to_numpy(dtype=object)[self.kept]

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.position[mask], minlength=self.n).astype(float)

    def mean(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        counts = np.bincount(self.position[mask], minlength=self.n)
        sums = np.bincount(self.position[mask], weights=values[mask], minlength=self.n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def minimum(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.full(self.n, np.inf)
        np.minimum.at(out, self.position[mask], values[mask])
        out[np.isinf(out)] = np.nan
        return out

    def last(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The value of each customer's latest row where ``mask`` (rows are in time order)."""
        latest = np.full(self.n, -1)
        np.maximum.at(latest, self.position[mask], self.order[mask])
        return np.where(
            latest >= 0, values[np.maximum(latest, 0)] if len(values) else np.nan, np.nan
        )


def expressed(intents: np.ndarray | list[Any], intent: str) -> np.ndarray:
    """True where a comment's intents include ``intent``; each value is a list of intents
    (names, or ``{"intent": name, ...}`` as the store keeps them) or its JSON text
    (``[{"intent": "leave", "kind": "switch", ...}]``), or missing."""
    quoted = f'"{intent}"'
    values = pd.Series(intents, dtype=object)
    text = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    if text.any():
        out[text] = values[text].str.contains(quoted, regex=False).to_numpy(dtype=bool)
    if not text.all():
        out[~text] = [
            isinstance(v, list | tuple)
            and any(i == intent or (isinstance(i, dict) and i.get("intent") == intent) for i in v)
            for v in values[~text]
        ]
    return out


def _theme_weights(
    themes: pd.DataFrame, index: pd.Index, as_of: pd.Timestamp, theme_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per (customer, theme): mentions decayed with a 60-day half-life, all and negative ones."""
    shape = (len(index), len(theme_ids))
    if themes.empty:
        return np.zeros(shape), np.zeros(shape)
    created = themes["created_at"].to_numpy(dtype="datetime64[ns]")
    age = (as_of.to_datetime64() - created) / np.timedelta64(1, "s") / 86400.0
    decay = np.power(0.5, age / THEME_HALF_LIFE_DAYS)
    sentiment = themes["sentiment_score"].to_numpy(dtype=float, na_value=np.nan)
    negative = decay * (np.nan_to_num(sentiment, nan=0.0) <= NEGATIVE_SENTIMENT)
    theme_code = pd.Index(list(theme_ids)).get_indexer(themes["theme_id"].to_numpy(dtype=object))
    customer = index.get_indexer(themes["customer_id"].to_numpy(dtype=object))
    kept = (theme_code >= 0) & (customer >= 0)
    cell = customer[kept] * len(theme_ids) + theme_code[kept]
    size = shape[0] * shape[1]
    weight = np.bincount(cell, decay[kept], size).reshape(shape)
    weight_negative = np.bincount(cell, negative[kept], size).reshape(shape)
    return weight, weight_negative


# --- churn outcomes -------------------------------------------------------------------------------


def churn_labels(
    churn_dates: pd.Series, customer_ids: Sequence[str], as_of: AsOf, horizon_days: int
) -> np.ndarray:
    """1 where a customer (active at ``as_of``) churns within ``horizon_days`` after it, else 0.

    ``churn_dates``: per customer id, the churn date known by the end of the horizon (NaT
    when none); customers missing from it did not churn.
    """
    churn = pd.to_datetime(churn_dates.reindex(pd.Index(list(customer_ids)))).to_numpy(
        dtype="datetime64[ns]"
    )
    end = (as_of + pd.Timedelta(days=horizon_days)).to_datetime64()
    with np.errstate(invalid="ignore"):
        return (~np.isnat(churn) & (churn < end)).astype(int)


def inactivity_churn_dates(
    interactions: pd.DataFrame, inactive_days: int, data_end: Any
) -> pd.Series:
    """Per customer (index customer_id), the day inactivity churn happened, or NaT.

    ``interactions``: customer_id, at (signup and every feedback). Inactivity churn: no
    interaction for ``inactive_days``. The churn day is the first interaction followed by such
    a gap, plus ``inactive_days`` — counted only when that day is on or before ``data_end``, so
    it is known then. Whether a customer was already churned at a date T depends only on what
    happened before T.
    """
    gap = pd.Timedelta(days=inactive_days)
    end = pd.Timestamp(data_end)
    events = interactions.dropna()
    events = events[events["at"] < end].sort_values(["customer_id", "at"], kind="stable")
    following = events.groupby("customer_id")["at"].shift(-1)
    ends = events["at"] + gap
    lapsed = (following.isna() | (following > ends)) & (ends <= end)
    first = ends[lapsed].groupby(events.loc[lapsed, "customer_id"]).min()
    ids = pd.Index(events["customer_id"].unique(), name="customer_id")
    return first.reindex(ids).dt.normalize()


def effective_churn_dates(
    stored: pd.Series,
    interactions: pd.DataFrame | None,
    definition: dict[str, Any],
    data_end: Any,
) -> pd.Series:
    """Each customer's churn date under ``definition``, as known by ``data_end``.

    ``{"kind": "subscription"}``: the stored churn date. ``{"kind": "inactivity",
    "inactive_days": N}``: no interaction for N days, or the stored date when earlier.
    """
    kind = definition.get("kind", "subscription")
    if kind == "subscription":
        return stored
    if kind != "inactivity":
        raise ConfigError(
            f"churn definition {kind!r} is not one of: subscription, inactivity",
            field="definition",
            value=kind,
        )
    if interactions is None:
        raise ConfigError("inactivity churn needs the customers' interactions")
    implied = inactivity_churn_dates(interactions, int(definition["inactive_days"]), data_end)
    both = pd.DataFrame({"stored": stored, "inactive": implied.reindex(stored.index)})
    return both.min(axis=1)
