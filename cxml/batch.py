"""Bulk jobs over the store, a bucket of customers at a time: memory depends on the bucket size
(``Settings.bucket_customers``), not on the store's size.

Each bucket is read as of the job's instant (``cxml.store.history``), turned into features
with the same function a single request uses, scored, and written in one transaction, with
the ``customer.high_risk`` webhooks of the customers it moves into the high band. A rerun
replaces the same (customer, as-of date, model version) scores: nothing is doubled.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from cxml.churn.predictor import ChurnPredictor
from cxml.contract import AsOf
from cxml.scoring import Attribution, attribution_for, attribution_name, score_history
from cxml.store import Store
from cxml.store.history import count_active, customer_buckets, read_history
from cxml.webhooks import record_scores

Progress = Callable[[int, int], None]


@dataclass
class ScoreRun:
    """What a bulk scoring run did: how many customers, how, and the most at risk."""

    scored: int = 0
    buckets: int = 0
    attribution: str = ""
    seconds: float = 0.0
    top: list[dict[str, Any]] = field(default_factory=list)


def score_store(
    store: Store,
    predictor: ChurnPredictor,
    *,
    model_version: str,
    as_of: AsOf,
    scored_at: datetime,
    bucket_customers: int,
    attribution: Attribution | None = None,
    record: bool = True,
    sink: Callable[[pd.DataFrame], None] | None = None,
    top: int = 10,
    progress: Progress | None = None,
) -> ScoreRun:
    """Score every customer active at ``as_of``, a bucket at a time.

    Scores go to the store's ``scores`` table (``record``) and to ``sink`` (e.g. a file
    writer) bucket by bucket. ``attribution``: exact TreeSHAP up to 2,000 customers, path
    attributions beyond, unless given. Returns counts and the ``top`` most at risk.
    """
    started = time.perf_counter()
    total = count_active(store, as_of)
    run = ScoreRun(attribution=attribution or attribution_for(total))
    chosen: Attribution = attribution or attribution_for(total)
    best: list[tuple[float, float, str, dict[str, Any]]] = []
    with_text = predictor.spec.with_text if predictor.spec is not None else True
    for selection in customer_buckets(store, bucket_customers, signed_up_before=as_of):
        history = read_history(store, as_of, selection, with_text=with_text)
        if history.customers.empty:
            continue
        scored = score_history(
            predictor,
            history,
            scored_at=scored_at,
            model_version=model_version,
            attribution=chosen,
        )
        if record:  # the scores and their customer.high_risk events, together
            record_scores(store, scored, now=scored_at)
        if sink is not None:
            sink(scored)
        if top:  # as the at-risk list orders: ranking score, then revenue at risk
            revenue = scored["revenue_at_risk"].astype(float).fillna(-1.0)
            leaders = (
                scored.assign(_revenue=revenue)
                .sort_values(
                    ["ranking_score", "_revenue", "customer_id"], ascending=False, kind="stable"
                )
                .head(top)
            )
            for row in leaders.to_dict(orient="records"):
                item = (
                    float(row["ranking_score"]),
                    float(row.pop("_revenue")),
                    str(row["customer_id"]),
                    row,
                )
                if len(best) < top:
                    heapq.heappush(best, item)
                elif item[:3] > best[0][:3]:
                    heapq.heapreplace(best, item)
        run.scored += len(scored)
        run.buckets += 1
        if progress is not None:
            progress(run.scored, total)
    run.top = [row for *_, row in sorted(best, key=lambda b: b[:3], reverse=True)]
    run.attribution = attribution_name(predictor.estimator, chosen)
    run.seconds = time.perf_counter() - started
    return run


def printable(scored: pd.DataFrame) -> pd.DataFrame:
    """Scores with their reasons as JSON text (for CSV, Parquet and JSON Lines files)."""
    return scored.assign(
        reasons=[json.dumps(r, ensure_ascii=False, default=str) for r in scored["reasons"]]
    )


def survival_curves(
    store: Store,
    predictor: ChurnPredictor,
    *,
    as_of: AsOf,
    by: str,
    bucket_customers: int,
    days: Any = None,
) -> pd.DataFrame:
    """The time-to-churn model's mean survival curve per group of the customers active at
    ``as_of``: ``by`` a customer attribute's name, or ``theme`` (customers who raised each
    theme before ``as_of``; a customer can be in several). Columns: group, day, survival, n.
    A bucket of customers at a time, like scoring."""
    import numpy as np

    from cxml.errors import ConfigError

    if predictor.survival is None:
        raise ConfigError(
            "this churn model has no time-to-churn companion: retrain it with "
            "`cxml train churn --as-of DATE` (store mode)"
        )
    grid = np.arange(0, 366, 7) if days is None else np.asarray(days, dtype=float)
    with_text = predictor.spec.with_text if predictor.spec is not None else True
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for selection in customer_buckets(store, bucket_customers, signed_up_before=as_of):
        history = read_history(store, as_of, selection, with_text=with_text)
        if history.customers.empty:
            continue
        features = predictor.features(history)
        curves = predictor.survival.survival(features, grid)
        if by == "theme":
            members = {
                predictor.theme_labels.get(c.removeprefix("theme_"), c.removeprefix("theme_")): (
                    features[c].to_numpy(dtype=float) > 0
                )
                for c in features.columns
                if c.startswith("theme_") and not c.endswith("_negative")
            }
        else:
            column = f"attr_{by}"
            if column not in features.columns:
                raise ConfigError(
                    f"no customer attribute {by!r} in the model's features: expected theme or "
                    "one of "
                    + ", ".join(c.removeprefix("attr_") for c in features if c.startswith("attr_")),
                    field="by",
                    value=by,
                )
            values = features[column].astype(object).where(features[column].notna(), "(none)")
            members = {str(v): (values == v).to_numpy() for v in values.unique()}
        for group, mask in members.items():
            if mask.any():
                sums[group] = sums.get(group, 0) + curves[mask].sum(axis=0)
                counts[group] = counts.get(group, 0) + int(mask.sum())
    rows = [
        {
            "group": group,
            "day": float(day),
            "survival": float(total[i] / counts[group]),
            "n": counts[group],
        }
        for group, total in sums.items()
        for i, day in enumerate(grid)
    ]
    return pd.DataFrame(rows, columns=["group", "day", "survival", "n"])
