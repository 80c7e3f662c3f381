"""Pulling the worklist for action with a randomised holdout, and reading what contact did.

Agents choose whom to call, so comparing contacted with uncontacted customers (what
``cxml.followups`` reports) can show a "save" that is only selection. A pull decides at random,
when the list is pulled and stratified by risk band, who is contacted and who is held out as
a control; after the churn horizon the two arms' retention is compared (``cxml.experiments``).

- A customer held in a pull whose horizon has not passed is not pulled again.
- Controls are not work: the worklist leaves them out, and recording a follow-up on one is
  refused unless overridden (the override is recorded with the follow-up).
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from cxml.errors import ConfigError, NotFoundError
from cxml.experiments import CONTACT, CONTROL, assign, effect_of_contact
from cxml.store import Store
from cxml.store import pulls as stored
from cxml.worklist import worklist

DEFAULT_HOLDOUT = 0.10
MIN_PER_ARM = 20  # fewer controls (or contacts) than this: the comparison cannot say much


def pull_worklist(
    store: Store,
    *,
    today: datetime,
    capacity: int,
    actor: str | None,
    holdout_share: float = DEFAULT_HOLDOUT,
    seed: int | None = None,
    horizon_days: int = 90,
    **filters: Any,
) -> dict[str, Any]:
    """Pull the worklist's top customers for action: ``capacity`` to contact plus the
    holdout's controls (``holdout_share`` of the pull, per risk band, at random from
    ``seed``), none already held by an open pull. Recorded with who, when and the model."""
    if capacity < 1:
        raise ConfigError(f"capacity={capacity}: expected at least 1", field="capacity")
    if not 0.0 <= holdout_share < 1.0:
        raise ConfigError(
            f"holdout_share={holdout_share}: expected 0 (no holdout) up to below 1",
            field="holdout_share",
        )
    if horizon_days < 1:
        raise ConfigError(f"horizon_days={horizon_days}: expected at least 1", field="horizon_days")
    busy = stored.customers_in_open_pulls(store, today)
    wanted = math.ceil(capacity / (1.0 - holdout_share))
    listed = worklist(store, today=today, capacity=wanted + len(busy), **filters)
    items = [i for i in listed["items"] if i["customer_id"] not in busy][:wanted]
    seed = secrets.randbits(31) if seed is None else int(seed)
    read_after = today + timedelta(days=horizon_days)
    answer: dict[str, Any] = {
        "pull_id": None,
        "pulled_at": today,
        "pulled_by": actor,
        "holdout_share": holdout_share,
        "seed": seed,
        "horizon_days": horizon_days,
        "read_after": read_after,
        "model_version": None,
        "contact": 0,
        "control": 0,
        "skipped_in_open_pulls": len(busy),
        "items": [],
    }
    if not items:
        answer["message"] = (
            "nobody to pull: no scored customer at risk is free (score the store with "
            "`cxml score`, or wait for open pulls to pass their horizon)"
        )
        return answer
    arms = assign(
        np.array([i["band"] for i in items], dtype=object),
        holdout_share,
        seed,
        controls=max(len(items) - capacity, 0) if holdout_share else 0,
    )
    versions = Counter(str(i["model_version"]) for i in items if i.get("model_version"))
    model_version = versions.most_common(1)[0][0] if versions else None
    assignments = [
        {
            "customer_id": item["customer_id"],
            "position": position,
            "band": item["band"],
            "arm": str(arm),
            "pre_contact_score": float(item["probability"]),
            "revenue_at_risk": item["revenue_at_risk"],
            "monthly_value": item.get("monthly_value"),
        }
        for position, (item, arm) in enumerate(zip(items, arms, strict=True))
    ]
    pull_id = stored.insert_pull(
        store,
        {
            "pulled_at": today,
            "pulled_by": (actor or "")[:100] or None,
            "capacity": capacity,
            "holdout_share": holdout_share,
            "seed": seed,
            "model_version": model_version,
            "horizon_days": horizon_days,
            "read_after": read_after,
        },
        assignments,
    )
    by_id = {i["customer_id"]: i for i in items}
    answer.update(
        pull_id=pull_id,
        model_version=model_version,
        contact=int((arms == CONTACT).sum()),
        control=int((arms == CONTROL).sum()),
        items=[
            {
                **{k: a[k] for k in ("customer_id", "band", "arm", "pre_contact_score")},
                "revenue_at_risk": a["revenue_at_risk"],
                "reasons": by_id[a["customer_id"]]["reasons"],
                "note": "control — do not contact" if a["arm"] == CONTROL else None,
            }
            for a in assignments
        ],
    )
    return answer


def held_out(store: Store, customer_id: str, now: datetime) -> int | None:
    """The open pull holding ``customer_id`` out as a control, if any."""
    return stored.open_control_pull(store, customer_id, now)


NOT_RANDOMISED = (
    "not a randomised comparison: only contacted customers have an {split}, so each {split}'s "
    "contacted customers are compared with all controls (who that {split} reached was not "
    "chosen at random)"
)
RANDOMISED_SPLIT = (
    "randomised: the {split} was known before the pull, so within it contact and control were "
    "assigned at random"
)
THEME_DAYS = 90


def _read(frame: pd.DataFrame, horizon_days: float, *, group: bool = False) -> dict[str, Any]:
    """The randomised comparison of one group of assignments already past their horizon."""
    contact = int((frame["arm"] == CONTACT).sum())
    control = int((frame["arm"] == CONTROL).sum())
    out: dict[str, Any] = {"contact": contact, "control": control}
    if contact == 0 or control == 0:
        out.update(
            verdict="no holdout",
            message=(
                f"no comparison in this group: {contact} contacted, {control} held out"
                if group
                else "nobody was held out (holdout share 0): no randomised comparison"
            ),
        )
        return out
    retained = (frame["churn_date"].isna() | (frame["churn_date"] > frame["read_after"])).astype(
        float
    )
    strata = frame["pull_id"].astype(str) + ":" + frame["band"].astype(str)
    effect = effect_of_contact(
        retained.to_numpy(),
        frame["arm"].to_numpy(),
        strata.to_numpy(dtype=object),
        frame["pre_contact_score"].to_numpy(dtype=float),
    )
    value = frame.loc[frame["arm"] == CONTACT, "monthly_value"].astype(float)
    value_months = float(value.fillna(0).sum()) * horizon_days / (365.25 / 12)
    out.update(
        retained_contact=round(effect.retained_contact, 4),
        retained_control=round(effect.retained_control, 4),
        effect_pts=round(100 * effect.effect, 2),
        interval_pts=[round(100 * effect.low, 2), round(100 * effect.high, 2)],
        adjusted_effect_pts=round(100 * effect.adjusted, 2),
        adjusted_interval_pts=[
            round(100 * effect.adjusted_low, 2),
            round(100 * effect.adjusted_high, 2),
        ],
        saves=round(effect.adjusted * contact, 1),
        saves_interval=[
            round(effect.adjusted_low * contact, 1),
            round(effect.adjusted_high * contact, 1),
        ],
        revenue_saved=round(effect.adjusted * value_months, 2),
        revenue_saved_interval=[
            round(effect.adjusted_low * value_months, 2),
            round(effect.adjusted_high * value_months, 2),
        ],
        mde_pts=round(100 * effect.mde, 2),
    )
    if min(contact, control) < MIN_PER_ARM:
        verdict = "too few to tell"
    elif effect.adjusted_low > 0:
        verdict = "contact helps"
    elif effect.adjusted_high < 0:
        verdict = "contact hurts"
    else:
        verdict = "no measurable effect"
    out["verdict"] = verdict
    out["message"] = _sentence(out)
    return out


def _sentence(read: dict[str, Any]) -> str:
    low, high = read["adjusted_interval_pts"]
    said = (
        f"contact vs control retention {read['adjusted_effect_pts']:+.1f} pts "
        f"(95 % interval {low:+.1f} to {high:+.1f}; {read['contact']} contacted, "
        f"{read['control']} held out)"
    )
    if read["verdict"] == "too few to tell":
        said = (
            f"too few customers to tell ({read['contact']} contacted, {read['control']} held "
            f"out; at least {MIN_PER_ARM} of each are needed): {said}"
        )
    if read["verdict"] in ("too few to tell", "no measurable effect"):
        said += (
            f"; at this size only an effect of about {read['mde_pts']:.1f} pts or more can be "
            "told from chance (the minimum detectable effect)"
        )
    return said


def _split(
    frame: pd.DataFrame,
    by: str,
    groups: pd.Series,
    days: float,
    *,
    randomised: bool,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One split of the overall read: a row per group. A randomised split compares contact
    and control inside the group; one that is not (owner, channel: only the contacted have
    one) compares the group's contacted customers with every control."""
    rows = []
    if randomised:
        for value in sorted(groups.dropna().unique()):
            part = frame[(groups == value).to_numpy()]
            rows.append({"group": str(value), **_read(part, days, group=True)})
    else:
        is_control = (frame["arm"] == CONTROL).to_numpy()
        for value in sorted(groups[~is_control].fillna("(none)").unique()):
            part = frame[is_control | (groups.fillna("(none)") == value).to_numpy()]
            rows.append({"group": str(value), **_read(part, days, group=True)})
    for row in rows:
        row["label"] = (labels or {}).get(row["group"], row["group"])
    rows.sort(key=lambda r: -r["contact"])
    note = RANDOMISED_SPLIT if randomised else NOT_RANDOMISED
    return {"by": by, "randomised": randomised, "note": note.format(split=by), "rows": rows}


def _splits(
    store: Store, frame: pd.DataFrame, days: float, segment: str | None
) -> list[dict[str, Any]]:
    """The overall read split by band, theme raised before the pull, a customer attribute
    (randomised), and by the follow-ups' owner and channel (not randomised)."""
    from cxml.store.analysis import theme_mentions
    from cxml.store.followups import contact_log
    from cxml.store.metrics import customer_table

    splits = [_split(frame, "band", frame["band"], days, randomised=True)]
    ids = sorted(frame["customer_id"].unique().tolist())
    mentions = theme_mentions(store, ids).merge(
        frame[["pull_id", "customer_id", "pulled_at"]], on="customer_id"
    )
    recent = mentions[
        (mentions["created_at"] < mentions["pulled_at"])
        & (mentions["created_at"] >= mentions["pulled_at"] - pd.Timedelta(days=THEME_DAYS))
    ]
    themes = {"by": "theme", "randomised": True, "note": "", "rows": []}
    labels = recent.groupby("theme_id")["theme_label"].agg(lambda s: s.mode().iloc[0]).to_dict()
    keys = list(zip(frame["pull_id"], frame["customer_id"], strict=True))
    rows = []
    for theme_id, raised in recent.groupby("theme_id"):
        inside = set(zip(raised["pull_id"], raised["customer_id"], strict=True))
        part = frame[np.array([k in inside for k in keys], dtype=bool)]
        rows.append({"group": str(theme_id), **_read(part, days, group=True)})
        rows[-1]["label"] = str(labels[theme_id])
    rows.sort(key=lambda r: -r["contact"])
    themes.update(
        rows=rows,
        note=RANDOMISED_SPLIT.format(split="theme")
        + f" (customers who raised it in the {THEME_DAYS} days before the pull)",
    )
    splits.append(themes)
    if segment:
        values = customer_table(store, [segment]).set_index("customer_id")[segment]
        segments = frame["customer_id"].map(values).fillna("(none)").astype(str)
        splits.append(_split(frame, segment, segments, days, randomised=True))
    log = contact_log(store)
    log = log[log["customer_id"].isin(ids)].sort_values("created_at")
    reached = log.merge(frame[["pull_id", "customer_id", "pulled_at", "read_after"]])
    reached = reached[
        (reached["created_at"] >= reached["pulled_at"])
        & (reached["created_at"] < reached["read_after"])
    ].drop_duplicates(["pull_id", "customer_id"], keep="first")
    for column in ("owner", "channel"):
        given = reached.set_index(["pull_id", "customer_id"])[column].fillna("(none)")
        groups = pd.Series(
            [given.get(k, "(no follow-up)") for k in keys], index=frame.index, dtype=object
        )
        groups[(frame["arm"] == CONTROL).to_numpy()] = None
        splits.append(_split(frame, column, groups, days, randomised=False))
    return splits


def pull_impact(
    store: Store, *, today: datetime, pull_id: int | None = None, segment: str | None = None
) -> dict[str, Any]:
    """Per pull, and over every pull whose horizon has passed: retention of contact vs
    control, saves and revenue saved, each with a 95 % interval (CUPED-adjusted on the
    pre-contact risk, the unadjusted beside it), the overall read split by band, theme,
    owner and channel (and the customer attribute ``segment``). A pull still inside its
    horizon says when it can be read."""
    pulls = stored.pull_rows(store, pull_id)
    if pull_id is not None and not pulls:
        raise NotFoundError("pull", str(pull_id))
    ready = [p for p in pulls if p["read_after"] <= today]
    every = stored.assignments_frame(store, [p["pull_id"] for p in pulls])
    frame = every[every["pull_id"].isin([p["pull_id"] for p in ready])].reset_index(drop=True)
    horizon = {p["pull_id"]: p["horizon_days"] for p in pulls}
    if not frame.empty:
        frame["read_after"] = pd.to_datetime(
            frame["pull_id"].map({p["pull_id"]: p["read_after"] for p in ready})
        )
        frame["pulled_at"] = pd.to_datetime(
            frame["pull_id"].map({p["pull_id"]: p["pulled_at"] for p in ready})
        )
    mine_contact = every["arm"] == CONTACT
    answers = []
    for pull in pulls:
        base = {
            k: pull[k] for k in ("pull_id", "pulled_at", "pulled_by", "holdout_share", "read_after")
        }
        base["horizon_days"] = pull["horizon_days"]
        if pull["read_after"] > today:
            answers.append(
                {
                    **base,
                    "contact": int(((every["pull_id"] == pull["pull_id"]) & mine_contact).sum()),
                    "control": int(((every["pull_id"] == pull["pull_id"]) & ~mine_contact).sum()),
                    "verdict": "too early",
                    "message": f"too early — read on {pull['read_after']:%Y-%m-%d}",
                }
            )
            continue
        own = frame[frame["pull_id"] == pull["pull_id"]]
        answers.append({**base, **_read(own, horizon[pull["pull_id"]])})
    overall: dict[str, Any] | None = None
    if not frame.empty:
        days = float(np.mean([horizon[p["pull_id"]] for p in ready]))
        overall = {"pulls": len(ready), **_read(frame, days)}
        overall["by_band"] = {
            band: _read(part, days) for band, part in frame.groupby("band", sort=True)
        }
        overall["splits"] = _splits(store, frame, days, segment)
    waiting = sorted(p["read_after"] for p in pulls if p["read_after"] > today)
    if not pulls:
        message = (
            "no pulls yet: pull the worklist with a holdout (`cxml worklist pull`) to measure "
            "what contact does"
        )
    elif overall is None:
        message = f"too early — read on {waiting[0]:%Y-%m-%d}"
    else:
        message = None
    return {
        "kind": "randomised",
        "pulls": answers,
        "overall": overall,
        "next_read_on": waiting[0] if waiting else None,
        "message": message,
    }


OBSERVATIONAL_LABEL = (
    "observational: contacted customers against comparable ones nobody chose to call (same "
    "score run and band); who was called was chosen by people, so this can show a save that "
    "is only selection — read the randomised comparison first"
)


def contact_impact(randomised: dict[str, Any], observational: dict[str, Any]) -> dict[str, Any]:
    """What contact did, the randomised comparison first and the observational second
    (labelled): one answer for the API, the command line and the page."""
    overall = randomised["overall"]
    if overall is not None:
        headline = f"randomised: {overall['message']}"
    else:
        headline = f"randomised: {randomised['message']}"
    return {
        "read_first": "randomised",
        "message": headline,
        "randomised": randomised,
        "observational": {"kind": "observational", "label": OBSERVATIONAL_LABEL, **observational},
    }
