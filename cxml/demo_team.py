"""The demo world's retention team: the worklist pulls and follow-ups of the last few months,
with an effect the world plants, so that "what did contact do?" has a true answer to recover.

At each past score run the team pulls the customers the churn model rated high or medium risk
with a randomised holdout (``holdout_share`` per band held out as controls, as ``cxml worklist
pull`` records it) and calls the contact arm. A call's planted effect varies by plan: it keeps
a share of the basic and standard customers who would otherwise have churned within the
horizon, and drives away a share of the premium customers who would have stayed (they find
the call intrusive). Every pulled customer's outcome with and without a call is drawn, so the
truth is known for both arms; only the contact arm's is applied to the store (and to the
world's customers file). The truth — overall and by plan — is written beside the world.
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
SEGMENT = "plan"
#: Per plan, the share of would-be churners a call keeps (positive) or, negative, the share of
#: would-be stayers a call drives away. Plans not named: no effect.
CONTACT_EFFECT = {"basic": 0.8, "standard": 0.5, "premium": -0.08}
HOLDOUT_SHARE = 0.2


def plant_follow_ups(
    store: Store,
    settings: Settings,
    predictor: Any,
    *,
    model_version: str,
    today: datetime,
    folder: Path,
    seed: int,
    days_ago: Sequence[int] = (210, 120),
    holdout_share: float = HOLDOUT_SHARE,
    effect: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Score the store as of each run ``days_ago`` (kept like any score run), pull its high and
    medium band with a ``holdout_share`` holdout (recorded as a worklist pull), open and close
    follow-ups for the contact arm, apply the planted ``effect`` by plan (``CONTACT_EFFECT``)
    to the contacted, and write ``truth_follow_ups.json`` in ``folder``. Returns the truth."""
    from cxml.batch import score_store
    from cxml.experiments import CONTACT, assign
    from cxml.followups import open_follow_up, update_follow_up
    from cxml.store.metrics import customer_table
    from cxml.store.pulls import insert_pull
    from cxml.store.scores import scored_on

    effect = CONTACT_EFFECT if effect is None else effect
    rng = np.random.default_rng(seed)
    horizon = pd.Timedelta(days=int(predictor.horizon_days))
    table = customer_table(store, [SEGMENT]).set_index("customer_id")
    churn, plans = table["churn_date"], table[SEGMENT].fillna("(none)").astype(str)
    values = table["monthly_value"]
    pulled_before: dict[str, pd.Timestamp] = {}
    saved: list[str] = []
    driven_away: dict[str, str] = {}
    runs = []
    units = []  # every pulled customer: plan, arm, retained without and with a call
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
        free = np.array(
            [
                c not in pulled_before or run - pulled_before[c] > horizon
                for c in at_risk["customer_id"]
            ],
            dtype=bool,
        )  # an empty list would select no columns
        at_risk = at_risk[free].sort_values(["band", "customer_id"], ignore_index=True)
        pulled_at = run + pd.Timedelta(hours=8)
        arms = assign(
            at_risk["band"].to_numpy(dtype=object), holdout_share, int(rng.integers(2**31))
        )
        assignments = [
            {
                "customer_id": row.customer_id,
                "position": position,
                "band": row.band,
                "arm": str(arm),
                "pre_contact_score": float(row.probability),
                "revenue_at_risk": row.revenue_at_risk,
                "monthly_value": float(values.get(row.customer_id, 0.0) or 0.0),
            }
            for position, (row, arm) in enumerate(
                zip(at_risk.itertuples(index=False), arms, strict=True)
            )
        ]
        if not assignments:
            continue
        insert_pull(
            store,
            {
                "pulled_at": pulled_at.to_pydatetime(),
                "pulled_by": "demo",
                "capacity": int((arms == CONTACT).sum()),
                "holdout_share": holdout_share,
                "seed": seed,
                "model_version": model_version,
                "horizon_days": int(predictor.horizon_days),
                "read_after": (pulled_at + horizon).to_pydatetime(),
            },
            assignments,
        )
        outcomes = {"pulled": len(assignments), "contacted": 0, "saved": 0, "driven_away": 0}
        outcomes["held_out"] = len(assignments) - int((arms == CONTACT).sum())
        for unit in assignments:
            customer_id, plan = unit["customer_id"], plans.get(unit["customer_id"], "(none)")
            pulled_before[customer_id] = run
            churned = churn.get(customer_id)
            would_churn = bool(pd.notna(churned) and run < churned <= run + horizon)
            size = effect.get(plan, 0.0)
            draw = rng.random()
            kept = would_churn and size > 0 and draw < size
            lost = not would_churn and size < 0 and draw < -size
            with_call = (not would_churn or kept) and not lost
            units.append(
                {
                    "plan": plan,
                    "arm": unit["arm"],
                    "retained_without_call": float(not would_churn),
                    "retained_with_call": float(with_call),
                }
            )
            if unit["arm"] != CONTACT:
                continue
            outcomes["contacted"] += 1
            opened = run + pd.Timedelta(days=int(rng.integers(1, 11)), hours=10)
            if kept:
                saved.append(customer_id)
                outcomes["saved"] += 1
            if lost:
                left = opened + pd.Timedelta(days=int(rng.integers(14, max(15, horizon.days - 10))))
                driven_away[customer_id] = left.date().isoformat()
                outcomes["driven_away"] += 1
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
            closed = "resolved" if with_call else "lost"
            update_follow_up(
                store,
                customer_id,
                int(made["follow_up_id"]),
                {"status": closed, "outcome": SAVED_OUTCOME if with_call else LOST_OUTCOME},
                actor="demo",
                now=(opened + pd.Timedelta(days=8)).to_pydatetime(),
            )
        runs.append({"as_of": run.date().isoformat(), "at_risk": len(at_risk), **outcomes})
        # Applied before the next run: a customer a call drove away is gone by then.
        changed = [{"customer_id": c, "churn_date": None} for c in saved] + [
            {"customer_id": c, "churn_date": d} for c, d in driven_away.items()
        ]
        _apply(store, settings, folder, changed, now=today, run=run)
        churn = churn.copy()
        for row in changed:
            churn[row["customer_id"]] = (
                pd.Timestamp(row["churn_date"]) if row["churn_date"] else pd.NaT
            )
        saved, driven_away = [], {}
    truth = _truth(runs, pd.DataFrame(units), effect, holdout_share)
    (folder / "truth_follow_ups.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth


def _apply(
    store: Store,
    settings: Settings,
    folder: Path,
    changed: list[dict[str, Any]],
    *,
    now: datetime,
    run: pd.Timestamp,
) -> None:
    """What the calls did, in the store and the world's customers file: churn undone for
    the customers kept, a churn date for those driven away."""
    from cxml.ingest import ingest_records

    if not changed:
        return
    ingest_records(
        store,
        "customers",
        changed,
        settings=settings,
        now=now,
        source=f"demo: customers the retention team's calls of {run:%Y-%m-%d} kept or drove away",
    )
    path = folder / "customers.csv"
    if path.is_file():
        world = pd.read_csv(path, dtype=str, keep_default_na=False)
        for row in changed:
            world.loc[world["customer_id"] == row["customer_id"], "churn_date"] = (
                row["churn_date"] or ""
            )
        world.to_csv(path, index=False)


def _truth(
    runs: list[dict[str, Any]], units: pd.DataFrame, effect: dict[str, float], share: float
) -> dict[str, Any]:
    """What contact truly did: on the contacted (what a matched comparison recovers) and over
    every pulled customer, both arms (what the randomised comparison recovers), overall and by
    plan, in retention percentage points."""
    contacted = sum(r["contacted"] for r in runs)
    saved = sum(r["saved"] for r in runs)
    driven_away = sum(r["driven_away"] for r in runs)
    if units.empty:
        units = pd.DataFrame(columns=["plan", "arm", "retained_without_call", "retained_with_call"])
    difference = units["retained_with_call"] - units["retained_without_call"]
    by_plan = {
        str(plan): {
            "pulled": len(part),
            "effect_pts": round(100 * float(part.mean()), 2),
        }
        for plan, part in difference.groupby(units["plan"])
    }
    return {
        "runs": runs,
        "contacted": contacted,
        "saved": saved,
        "driven_away": driven_away,
        "effect_pts": 100 * (saved - driven_away) / contacted if contacted else None,
        "note": "effect_pts is the net share of contacted customers whom contact kept (kept "
        "minus driven away): the retention difference a matched comparison should recover",
        "randomised": {
            "segment": SEGMENT,
            "holdout_share": share,
            "planted_by_plan": effect,
            "pulled": len(units),
            "effect_pts": round(100 * float(difference.mean()), 2) if len(units) else None,
            "by_plan": by_plan,
            "note": "effect_pts: the mean over every pulled customer (both arms) of retention "
            "with a call minus without (both drawn for everyone): the effect the randomised "
            "comparison of contact and control estimates; planted_by_plan: the share of "
            "would-be churners a call keeps (negative: of would-be stayers it drives away)",
        },
    }
