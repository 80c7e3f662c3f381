"""The demo world's retention team: the follow-ups of the last few months, with an effect the
world plants, so that "did the follow-ups work?" has a true answer to recover.

At each past score run the team works the customers the churn model rated high or medium
risk; it has capacity for about half of them and picks that half at random (within the team's
capacity, nothing else decides who is called — the one assumption the impact estimate makes).
Contact saves a planted share of the contacted customers who would otherwise have churned
within the horizon: their churn is undone in the store (and in the world's customers file).
The truth — how many were contacted, how many saved — is written beside the world.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxml.settings import Settings
from cxml.store import Store

OWNERS = ("Aiko Tanaka", "Ben Okafor", "Carla Ruiz")
CHANNELS = ("phone", "email")
SAVED_OUTCOME = "stayed: plan reviewed and the problem fixed"
LOST_OUTCOME = "left anyway"


def plant_follow_ups(
    store: Store,
    settings: Settings,
    predictor: Any,
    *,
    model_version: str,
    today: datetime,
    folder: Path,
    seed: int,
    days_ago: Sequence[int] = (150, 120),
    contact_share: float = 0.5,
    save_rate: float = 0.5,
) -> dict[str, Any]:
    """Score the store as of each run ``days_ago`` (kept like any score run), open and close
    follow-ups for a random ``contact_share`` of the high and medium band, save ``save_rate``
    of the contacted who churned within the horizon, and write ``truth_follow_ups.json`` in
    ``folder``. Returns the truth."""
    from cxml.batch import score_store
    from cxml.followups import open_follow_up, update_follow_up
    from cxml.ingest import ingest_records
    from cxml.store.metrics import customer_table
    from cxml.store.scores import scored_on

    rng = np.random.default_rng(seed)
    horizon = pd.Timedelta(days=int(predictor.horizon_days))
    churn = customer_table(store).set_index("customer_id")["churn_date"]
    contacted_before: dict[str, pd.Timestamp] = {}
    saved: list[str] = []
    runs = []
    for ago in sorted(days_ago, reverse=True):
        run = pd.Timestamp(today).normalize() - pd.Timedelta(days=ago)
        score_store(
            store,
            predictor,
            model_version=model_version,
            as_of=run,
            scored_at=(run + pd.Timedelta(hours=6)).to_pydatetime(),
            bucket_customers=settings.bucket_customers,
            top=0,
        )
        at_risk = scored_on(store, [run.date()], bands=("high", "medium"))
        fresh = [
            c
            for c in sorted(at_risk["customer_id"])
            if c not in contacted_before or run - contacted_before[c] > pd.Timedelta(days=90)
        ]
        chosen = [c for c in fresh if rng.random() < contact_share]
        outcomes = {"contacted": len(chosen), "saved": 0, "churned_anyway": 0}
        for customer_id in chosen:
            opened = run + pd.Timedelta(days=int(rng.integers(1, 11)), hours=10)
            churned = churn.get(customer_id)
            would_churn = bool(pd.notna(churned) and run < churned <= run + horizon)
            if would_churn and rng.random() < save_rate:
                saved.append(customer_id)
                outcomes["saved"] += 1
                would_churn = False
            elif would_churn:
                outcomes["churned_anyway"] += 1
            owner, channel = str(rng.choice(OWNERS)), str(rng.choice(CHANNELS))
            made = open_follow_up(
                store,
                customer_id,
                {"owner": owner, "channel": channel, "note": "at risk in this week's list"},
                actor="demo",
                now=opened.to_pydatetime(),
            )
            update_follow_up(
                store,
                customer_id,
                int(made["follow_up_id"]),
                {"status": "contacted"},
                actor="demo",
                now=(opened + pd.Timedelta(days=1)).to_pydatetime(),
            )
            closed = "lost" if would_churn else "resolved"
            update_follow_up(
                store,
                customer_id,
                int(made["follow_up_id"]),
                {"status": closed, "outcome": LOST_OUTCOME if would_churn else SAVED_OUTCOME},
                actor="demo",
                now=(opened + pd.Timedelta(days=8)).to_pydatetime(),
            )
            contacted_before[customer_id] = run
        runs.append({"as_of": run.date().isoformat(), "at_risk": len(at_risk), **outcomes})
    if saved:  # contact kept them: their churn never happened
        ingest_records(
            store,
            "customers",
            [{"customer_id": c, "churn_date": None} for c in saved],
            settings=settings,
            now=today,
            source="demo: customers the retention team kept",
        )
        path = folder / "customers.csv"
        if path.is_file():
            world = pd.read_csv(path, dtype=str, keep_default_na=False)
            world.loc[world["customer_id"].isin(saved), "churn_date"] = ""
            world.to_csv(path, index=False)
    contacted = sum(r["contacted"] for r in runs)
    truth = {
        "runs": runs,
        "contacted": contacted,
        "saved": len(saved),
        "save_rate": save_rate,
        "effect_pts": 100 * len(saved) / contacted if contacted else None,
        "note": "effect_pts is the share of contacted customers whom contact kept: the "
        "retention difference a matched comparison should recover",
    }
    (folder / "truth_follow_ups.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth
