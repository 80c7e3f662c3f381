"""Scores as stored: one writer, and "a customer's score" means the one with the latest as-of."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from cxml.settings import Settings
from cxml.store import Store
from cxml.store.scores import at_risk, latest_score, score_history, write_scores
from tests.conftest import load_world


def scores_frame(customer: str, as_of: date, version: str, p: float, at: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [customer],
            "as_of": [as_of],
            "model_version": [version],
            "probability": [p],
            "band": ["high" if p > 0.5 else "low"],
            "revenue_at_risk": [None],
            "reasons": [[{"feature": "x", "value": 1, "contribution": 0.1, "text": "x = 1"}]],
            "attribution": ["exact TreeSHAP"],
            "scored_at": [at],
            "features_as_of": [pd.Timestamp(as_of).to_pydatetime()],
        }
    )


def test_a_backdated_run_is_history_not_the_latest(
    store: Store, settings: Settings, world: object, tmp_path: object
) -> None:
    load_world(store, settings, world, tmp_path, analyse=False)  # type: ignore[arg-type]
    customer = "C000001"
    write_scores(store, scores_frame(customer, date(2025, 6, 30), "1", 0.2, datetime(2025, 6, 30)))
    # computed later, but as of an earlier date: January's score must not shadow June's
    write_scores(store, scores_frame(customer, date(2025, 1, 1), "1", 0.9, datetime(2025, 7, 1)))
    assert latest_score(store, customer)["probability"] == 0.2
    assert [h["as_of"] for h in score_history(store, customer)] == [
        date(2025, 6, 30),
        date(2025, 1, 1),
    ]
    listed = {r["customer_id"]: r for r in at_risk(store, today=datetime(2025, 7, 1), limit=500)}
    assert listed[customer]["probability"] == 0.2
    # the same key again replaces, it does not add
    write_scores(store, scores_frame(customer, date(2025, 6, 30), "1", 0.3, datetime(2025, 7, 2)))
    assert latest_score(store, customer)["probability"] == 0.3
    assert len(score_history(store, customer)) == 2
