"""A customer described inline gets the features and the score a bulk run gives the same
customer from the store: one set of rules for both (cxml/inline.py, cxml/batch.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from cxml.batch import score_store
from cxml.inline import inline_history
from cxml.scoring import score_history
from cxml.store.history import Selection, read_history
from tests.conftest import Trained

AS_OF = pd.Timestamp("2025-06-30 15:30")
INLINE = "inline-"  # described under new ids, so nothing stored merges in


def described(trained: Trained, dialect: str, customer_ids: list[str]) -> list[dict[str, Any]]:
    """The customers as the files the store was loaded from describe them, as request items:
    every customer column as an attribute, every feedback row dated before ``AS_OF``."""
    folder = trained.folder / dialect
    customers = pd.read_csv(folder / "customers.csv", dtype=str, keep_default_na=False)
    feedback = pd.read_csv(folder / "feedback.csv", dtype=str, keep_default_na=False)
    feedback = feedback[pd.to_datetime(feedback["created_at"], format="ISO8601") < AS_OF]
    rows = customers.set_index("customer_id")
    return [
        {
            "customer_id": INLINE + customer_id,
            "attributes": rows.loc[customer_id].to_dict(),
            "feedback": feedback[feedback["customer_id"] == customer_id]
            .drop(columns="customer_id")
            .to_dict(orient="records"),
        }
        for customer_id in customer_ids
    ]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_customers_described_inline_get_the_bulk_runs_features_and_probabilities(
    trained: Trained, dialect: str
) -> None:
    store, predictor = trained.stores[dialect], trained.predictor
    parts: list[pd.DataFrame] = []
    score_store(
        store,
        predictor,
        model_version=trained.version,
        as_of=AS_OF,
        scored_at=AS_OF,
        bucket_customers=64,
        attribution="exact",
        record=False,
        sink=parts.append,
    )
    bulk = pd.concat(parts).set_index("customer_id")
    chosen = sorted(bulk.index)[::7]  # every seventh: some with feedback, some without
    stored = read_history(store, AS_OF, Selection.of(chosen))
    assert len(chosen) > 20 and stored.feedback["text"].notna().sum() > 20

    inline = inline_history(
        store,
        described(trained, dialect, chosen),
        as_of=AS_OF,
        text_pipeline=trained.text_pipeline,
        text_version="test",
        max_text_chars=trained.settings[dialect].max_text_chars,
        future_tolerance_days=trained.settings[dialect].future_tolerance_days,
    )

    assert inline.errors == {}
    features = predictor.features(inline.history).rename(index=lambda i: i.removeprefix(INLINE))
    pd.testing.assert_frame_equal(
        features.sort_index(), predictor.features(stored).sort_index(), check_names=False
    )
    scored = score_history(
        predictor, inline.history, scored_at=AS_OF, model_version=trained.version
    ).set_index("customer_id")
    scored.index = scored.index.str.removeprefix(INLINE)
    assert sorted(scored.index) == chosen
    assert scored["probability"].to_dict() == bulk.loc[chosen, "probability"].to_dict()
    assert scored["band"].to_dict() == bulk.loc[chosen, "band"].to_dict()
