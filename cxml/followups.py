"""Follow-ups: closing the loop with an at-risk customer or a detractor.

A follow-up has an owner, a status (open → contacted → resolved or lost; any status may be set
again), a note and an outcome. Every change is kept as an event with who made it and the old
and new values, so the audit trail is complete.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.explain import Language
from cxml.errors import ConfigError, HeldOutError, NotFoundError
from cxml.store import Store
from cxml.store import followups as stored
from cxml.store.analysis import theme_mentions
from cxml.store.pulls import open_control_pull
from cxml.store.records import customer
from cxml.store.scores import latest_score


class Status(StrEnum):
    """Where a follow-up stands."""

    OPEN = "open"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    LOST = "lost"


class StatusFilter(StrEnum):
    """What the at-risk list can filter on: the status of the latest follow-up, or ``none``."""

    NONE = "none"
    OPEN = "open"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    LOST = "lost"


STATUSES = tuple(s.value for s in Status)
#: Days to do a follow-up, by the customer's band when it is opened (setting
#: ``follow_up_due_days`` overrides).
DUE_DAYS = {"high": 2, "medium": 7, "low": 14}
STATUS_FILTERS = tuple(s.value for s in StatusFilter)
MAX_TEXT = 10_000


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(stored.FOLLOW_UP_FIELDS))
    if unknown:
        raise ConfigError(
            f"follow-up field(s) {', '.join(unknown)} unknown: expected {', '.join(stored.FOLLOW_UP_FIELDS)}"
        )
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status={status!r} is not one of {', '.join(STATUSES)}")
    for field in ("owner", "note", "outcome"):
        value = values.get(field)
        if value is not None and len(str(value)) > MAX_TEXT:
            raise ConfigError(f"{field} is {len(str(value)):,} characters; at most {MAX_TEXT:,}")
    return values


def open_follow_up(
    store: Store,
    customer_id: str,
    values: dict[str, Any],
    *,
    actor: str | None,
    now: datetime,
    override_holdout: bool = False,
    due_days: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Create a follow-up for a stored customer (status defaults to ``open``), due in the days
    ``due_days`` gives the customer's band (``DUE_DAYS`` by default; not scored: medium's).
    A customer held out as a control by an open worklist pull is refused (``HeldOutError``)
    unless ``override_holdout``, which is recorded in the follow-up's first event."""
    customer(store, customer_id)  # NotFoundError for an unknown customer
    values = _checked({"status": "open", **{k: v for k, v in values.items() if v is not None}})
    pull_id = open_control_pull(store, customer_id, now)
    if pull_id is not None and not override_holdout:
        raise HeldOutError(
            f"customer {customer_id} is a control of worklist pull {pull_id}: contacting them "
            "now would spoil the measurement of what contact does; leave them until the pull "
            "can be read, or override on purpose (override_holdout, recorded)",
            field="customer_id",
            value=customer_id,
        )
    extra = {"holdout_override": [None, pull_id]} if pull_id is not None else None
    days = {**DUE_DAYS, **(due_days or {})}
    scored = latest_score(store, customer_id)
    band = scored["band"] if scored is not None and scored["band"] in days else "medium"
    due_at = now + timedelta(days=days.get(band, DUE_DAYS["medium"]))
    return stored.insert_follow_up(
        store, customer_id, values, actor, now, extra=extra, due_at=due_at
    )


def overdue_follow_ups(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Open follow-ups past their due date, most overdue first, with how many days."""
    out = []
    for row in stored.overdue(store, now):
        out.append({**row, "days_overdue": (now - row["due_at"]).days})
    return out


def escalate_overdue(
    store: Store, *, now: datetime, after_days: int, owner: str, actor: str | None
) -> list[dict[str, Any]]:
    """Hand every open follow-up more than ``after_days`` past due, not yet escalated, to
    ``owner`` (recorded in its history); returns those escalated."""
    done = []
    from cxml.webhooks import emit

    for row in stored.overdue(store, now - timedelta(days=after_days), escalated=False):
        event = {
            "follow_up_id": int(row["follow_up_id"]),
            "customer_id": row["customer_id"],
            "due_at": row["due_at"].isoformat(),
            "previous_owner": row["owner"],
            "owner": owner,
            "escalated": True,
        }
        stored.escalate(
            store,
            int(row["follow_up_id"]),
            owner,
            actor=actor,
            now=now,
            also=functools.partial(emit, event_type="follow_up.overdue", payload=event, now=now),
        )
        done.append({**row, "owner": owner, "previous_owner": row["owner"], "escalated_at": now})
    return done


def update_follow_up(
    store: Store,
    customer_id: str,
    follow_up_id: int,
    values: dict[str, Any],
    *,
    actor: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Change some fields; only real changes are recorded. Returns the follow-up with its history."""
    current = stored.follow_up(store, follow_up_id)
    if current is None or current["customer_id"] != customer_id:
        raise NotFoundError(f"follow-up of customer {customer_id}", follow_up_id)
    values = _checked(values)
    if "status" in values and values["status"] is None:
        raise ConfigError("status cannot be empty: give one of " + ", ".join(STATUSES))
    changes = {k: [current[k], v] for k, v in values.items() if current[k] != v}
    if changes:
        stored.change_follow_up(store, follow_up_id, changes, actor, now)
    found = stored.follow_up(store, follow_up_id)
    assert found is not None
    return found


# --- did the follow-ups work? ----------------------------------------------------------------

MIN_UNITS = 30  # fewer contacted (or comparable) customers than this: too little data to say
Z95 = 1.959964


class ImpactBy(StrEnum):
    """How the follow-up effect can be split."""

    OWNER = "owner"
    CHANNEL = "channel"
    THEME = "theme"
    BAND = "band"


def _stratified(units: pd.DataFrame) -> dict[str, Any]:
    """The effect of contact on retention among the contacted units, matched on (score run,
    band): per stratum the contacted customers' retention minus the comparable uncontacted
    ones', averaged with the contacted counts as weights (the effect on those contacted).
    Strata without comparable customers are left out and counted."""
    is_treated = units["treated"].astype(bool).to_numpy()  # typed even when empty
    treated = units[is_treated]
    controls = units[~is_treated]
    grouped_t = treated.groupby(["as_of", "band"])["retained"].agg(["sum", "size"])
    grouped_c = controls.groupby(["as_of", "band"])["retained"].agg(["sum", "size"])
    strata = grouped_t.add_suffix("_t").join(grouped_c.add_suffix("_c"), how="left")
    unmatched = int(strata.loc[strata["size_c"].isna(), "size_t"].sum())
    strata = strata.dropna()
    n1 = int(strata["size_t"].sum())
    n0 = int(strata["size_c"].sum())
    out: dict[str, Any] = {
        "contacted": n1,
        "comparable": n0,
        "unmatched_contacted": unmatched,
        "contacted_retention": None,
        "comparable_retention": None,
        "effect_pts": None,
        "ci_low_pts": None,
        "ci_high_pts": None,
        "relative_churn_reduction": None,
    }
    if n1 == 0 or n0 == 0:
        out["verdict"] = "too little data"
        return out
    r1 = strata["sum_t"] / strata["size_t"]
    r0 = strata["sum_c"] / strata["size_c"]
    weights = strata["size_t"] / n1
    effect = float((weights * (r1 - r0)).sum())
    # Binomial variances, floored at one event in each arm so a stratum of all-retained is not
    # certain.
    v1 = np.maximum(r1 * (1 - r1), 1 / (strata["size_t"] + 1)) / strata["size_t"]
    v0 = np.maximum(r0 * (1 - r0), 1 / (strata["size_c"] + 1)) / strata["size_c"]
    se = float(np.sqrt((weights**2 * (v1 + v0)).sum()))
    contacted_retention = float((weights * r1).sum())
    comparable_retention = float((weights * r0).sum())
    out.update(
        contacted_retention=contacted_retention,
        comparable_retention=comparable_retention,
        effect_pts=100 * effect,
        ci_low_pts=100 * (effect - Z95 * se),
        ci_high_pts=100 * (effect + Z95 * se),
        relative_churn_reduction=(effect / (1 - comparable_retention))
        if comparable_retention < 1
        else None,
    )
    if n1 < MIN_UNITS or n0 < MIN_UNITS:
        out["verdict"] = "too little data"
    elif out["ci_low_pts"] > 0:
        out["verdict"] = "helps"
    elif out["ci_high_pts"] < 0:
        out["verdict"] = "hurts"
    else:
        out["verdict"] = "no measurable effect"
    return out


NONE_RECORDED = "none recorded yet"


def _nothing_recorded(
    horizon_days: int, contact_window_days: int, by: Sequence[ImpactBy]
) -> dict[str, Any]:
    """The impact of zero follow-ups: a state (n = 0), not an error."""
    overall = _stratified(
        pd.DataFrame({"as_of": [], "band": [], "retained": [], "treated": []}).astype(
            {"retained": bool, "treated": bool}
        )
    )
    overall["verdict"] = NONE_RECORDED
    overall["message"] = impact_sentence(overall)
    return {
        "horizon_days": horizon_days,
        "contact_window_days": contact_window_days,
        "score_runs": [],
        "excluded": {"not_reached": 0, "no_matured_score_run": 0, "low_risk": 0},
        "overall": overall,
        "by": {str(split.value): [] for split in by},
    }


#: The verdicts of ``follow_up_impact`` in Japanese.
VERDICTS_JA = {
    NONE_RECORDED: "まだ記録なし",
    "too little data": "データ不足",
    "helps": "効果あり",
    "hurts": "逆効果",
    "no measurable effect": "はっきりした効果なし",
}


def impact_sentence(result: dict[str, Any], language: Language = "en") -> str:
    """The effect in words, honest about uncertainty, in ``language``."""
    if language == "ja":
        return _impact_sentence_ja(result)
    n1, n0 = result["contacted"], result["comparable"]
    if result["verdict"] == NONE_RECORDED:
        return (
            "no follow-ups recorded yet: record one from a customer's page, and their effect "
            "is measured once the churn horizon has passed"
        )
    if result["effect_pts"] is None or result["verdict"] == "too little data":
        return (
            f"too little data to say: {n1} contacted and {n0} comparable customers with known "
            f"outcomes; at least {MIN_UNITS} of each are needed"
        )
    span = f"95 % interval {result['ci_low_pts']:+.1f} to {result['ci_high_pts']:+.1f} points"
    if result["verdict"] == "helps":
        return (
            f"follow-ups raised retention by {result['effect_pts']:.1f} points ({span}): "
            f"{result['contacted_retention']:.0%} of {n1} contacted customers stayed against "
            f"{result['comparable_retention']:.0%} of {n0} comparable ones"
        )
    if result["verdict"] == "hurts":
        return (
            f"contacted customers stayed less often, by {-result['effect_pts']:.1f} points "
            f"({span}; {n1} contacted, {n0} comparable)"
        )
    return (
        f"no measurable effect: {result['effect_pts']:+.1f} points ({span}; {n1} contacted, "
        f"{n0} comparable customers)"
    )


def _impact_sentence_ja(result: dict[str, Any]) -> str:
    """``impact_sentence`` in Japanese (the retention page's words)."""
    n1, n0 = result["contacted"], result["comparable"]
    if result["verdict"] == NONE_RECORDED:
        return (
            "フォローアップはまだ記録されていません：顧客のページから記録してください。効果は"
            "解約の判定期間が過ぎてから測定されます"
        )
    if result["effect_pts"] is None or result["verdict"] == "too little data":
        return (
            f"判断するにはデータが足りません：結果の分かっている連絡済み{n1}人、比較対象{n0}人。"
            f"それぞれ{MIN_UNITS}人以上必要です"
        )
    span = f"95 %区間 {result['ci_low_pts']:+.1f}〜{result['ci_high_pts']:+.1f}ポイント"
    if result["verdict"] == "helps":
        return (
            f"フォローアップで継続率が{result['effect_pts']:.1f}ポイント上がりました（{span}）："
            f"連絡した{n1}人のうち{result['contacted_retention']:.0%}が継続、比較対象{n0}人では"
            f"{result['comparable_retention']:.0%}"
        )
    if result["verdict"] == "hurts":
        return (
            f"連絡した顧客の方が継続率が{-result['effect_pts']:.1f}ポイント低くなりました"
            f"（{span}、連絡{n1}人、比較{n0}人）"
        )
    return (
        f"はっきりした効果は見られません：{result['effect_pts']:+.1f}ポイント（{span}、"
        f"連絡{n1}人、比較{n0}人）"
    )


def follow_up_impact(
    store: Store,
    *,
    today: datetime,
    horizon_days: int = 90,
    contact_window_days: int = 14,
    by: Sequence[ImpactBy] = (),
    theme_days: int = 90,
) -> dict[str, Any]:
    """Did contacting at-risk customers keep them? Retention of the contacted against
    comparable customers who were not contacted.

    Units are (score run, customer) for runs whose outcome window has closed (as-of + horizon
    on or before ``today``) and customers in band high or medium there. A unit is *contacted*
    when a follow-up that reached the customer (status contacted, resolved or lost, now or
    ever) was opened within ``contact_window_days`` after the run; it is *comparable* when the
    customer had no follow-up from 90 days before the run to the end of that window (a later
    follow-up does not matter: excluding it would keep only the customers who stayed long
    enough to be called, and bias the comparison).
    Retained: no churn within the horizon after the run. Contacted and comparable units are
    matched on (run, band); the effect is the contacted-weighted difference in retention (on
    the contacted), with a 95 % normal interval. It assumes that within a band and run, who was
    contacted does not depend on anything else that drives churn (a random pick within the team's
    capacity does that; picking by hand may not).

    ``by``: the same estimate per owner, contact channel, theme raised in the ``theme_days``
    before the run (contacted and comparable customers who raised it), or band.
    """
    from cxml.store.followups import contact_log
    from cxml.store.metrics import customer_table
    from cxml.store.scores import score_dates, scored_on

    today_ts = pd.Timestamp(today)
    horizon = pd.Timedelta(days=horizon_days)
    log = contact_log(store)
    if log.empty:  # the first day of every installation: nothing to compare yet
        return _nothing_recorded(horizon_days, contact_window_days, by)
    matured = [pd.Timestamp(d) for d in score_dates(store, until=(today_ts - horizon).date())]
    reached = log[log["reached"]].copy()
    excluded = {
        "not_reached": int((~log["reached"]).sum()),
        "no_matured_score_run": 0,
        "low_risk": 0,
    }
    # Each reached follow-up belongs to the latest matured run before it (within the window).
    runs = np.array([d.to_datetime64() for d in matured], dtype="datetime64[ns]")
    created = reached["created_at"].to_numpy(dtype="datetime64[ns]")
    if len(runs):
        position = np.searchsorted(runs, created, side="right") - 1
        run = runs[np.clip(position, 0, None)]
        inside = (position >= 0) & (created - run < np.timedelta64(contact_window_days, "D"))
    else:
        run, inside = created, np.zeros(len(created), dtype=bool)
    reached["as_of"] = pd.to_datetime(run)
    excluded["no_matured_score_run"] = int((~inside).sum())
    reached = reached[inside].drop_duplicates(["as_of", "customer_id"], keep="first")
    used_runs = sorted(reached["as_of"].unique())
    units = scored_on(store, [pd.Timestamp(d).date() for d in used_runs], bands=("high", "medium"))
    units["as_of"] = pd.to_datetime(units["as_of"])  # typed even when no run has matured
    treated_keys = set(zip(reached["as_of"], reached["customer_id"], strict=True))
    excluded["low_risk"] = len(treated_keys) - int(
        sum(
            (a, c) in treated_keys
            for a, c in zip(units["as_of"], units["customer_id"], strict=True)
        )
    )
    units["treated"] = np.array(
        [(a, c) in treated_keys for a, c in zip(units["as_of"], units["customer_id"], strict=True)],
        dtype=bool,
    )
    # Customers with a follow-up from 90 days before a run to the end of its contact window are
    # no comparison for it. A follow-up after the window does not exclude them: only customers
    # still there could be contacted later, so dropping them would leave churners behind.
    touched = log[["customer_id", "created_at"]].merge(
        units.loc[~units["treated"], ["customer_id", "as_of"]], on="customer_id"
    )
    near = (touched["created_at"] >= touched["as_of"] - pd.Timedelta(days=90)) & (
        touched["created_at"] < touched["as_of"] + pd.Timedelta(days=contact_window_days)
    )
    attended = set(zip(touched.loc[near, "as_of"], touched.loc[near, "customer_id"], strict=True))
    keep = [
        t or (a, c) not in attended
        for t, a, c in zip(units["treated"], units["as_of"], units["customer_id"], strict=True)
    ]
    units = units[np.array(keep, dtype=bool)].copy()  # an empty list would select no columns
    churn = customer_table(store).set_index("customer_id")["churn_date"]
    churned_at = units["customer_id"].map(churn)
    units["retained"] = ~(
        churned_at.notna()
        & (churned_at > units["as_of"])
        & (churned_at <= units["as_of"] + horizon)
    )
    units = units.merge(
        reached[["as_of", "customer_id", "owner", "channel"]],
        on=["as_of", "customer_id"],
        how="left",
    )
    result: dict[str, Any] = {
        "horizon_days": horizon_days,
        "contact_window_days": contact_window_days,
        "score_runs": [pd.Timestamp(d).date().isoformat() for d in used_runs],
        "excluded": excluded,
        "overall": _stratified(units),
        "by": {},
    }
    result["overall"]["message"] = impact_sentence(result["overall"])
    for split in by:
        rows = []
        if split == ImpactBy.THEME:
            mentions = theme_mentions(store, sorted(units["customer_id"].unique().tolist()))
            joined = mentions.merge(
                units[["customer_id", "as_of"]].drop_duplicates(), on="customer_id"
            )
            recent = joined[
                (joined["created_at"] < joined["as_of"])
                & (joined["created_at"] >= joined["as_of"] - pd.Timedelta(days=theme_days))
            ]
            if recent.empty:  # nobody in the comparison raised a theme in the window
                result["by"][str(split.value)] = []
                continue
            labels = recent.groupby("theme_id")["theme_label"].agg(lambda s: s.mode().iloc[0])
            raised = recent.groupby("theme_id").apply(
                lambda g: set(zip(g["as_of"], g["customer_id"], strict=True)), include_groups=False
            )
            for theme_id, keys in raised.items():
                subset = units[
                    [
                        (a, c) in keys
                        for a, c in zip(units["as_of"], units["customer_id"], strict=True)
                    ]
                ]
                rows.append(
                    {"group": str(theme_id), "label": str(labels[theme_id]), **_stratified(subset)}
                )
        elif split == ImpactBy.BAND:
            for band, subset in units.groupby("band"):
                rows.append({"group": str(band), "label": str(band), **_stratified(subset)})
        else:
            column = str(split.value)
            values = units.loc[units["treated"], column].fillna("(none)")
            for value in sorted(values.unique()):
                mask = ~units["treated"] | (units[column].fillna("(none)") == value)
                rows.append({"group": str(value), "label": str(value), **_stratified(units[mask])})
        for row in rows:
            row["message"] = impact_sentence(row)
        rows.sort(key=lambda r: -r["contacted"])
        result["by"][str(split.value)] = rows
    return result
