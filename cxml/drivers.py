"""What moves NPS and churn: theme impact, relative importance, emerging themes. Pure functions.

- NPS impact of a theme = overall NPS − NPS of the responses that do not mention it
  (negative: the theme drags NPS down), with a bootstrap 95 % interval.
- Relative importance: Pratt's measure from a linear regression of the 0–10 score on
  theme indicators (β_j · r_j, shares of R² that add up to 100 %).
- Churn: churn rate of customers who raised a theme against comparable customers who did
  not — comparable meaning the same tenure band and contact-volume band (a standardised
  difference over those strata) — and the monthly revenue of the active customers who
  raised it, weighted by that excess risk.
- Emerging: a theme's share of responses in the latest period against a baseline of the
  periods before, a two-proportion z-test, and the change in its mean sentiment.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from cxml.metrics import Z95, nps_from_counts

OTHER = "other"


def _nps_of(values: np.ndarray) -> float:
    if values.size == 0:
        return float("nan")
    return float(((values >= 9).mean() - (values <= 6).mean()) * 100)


def nps_drivers(
    responses: pd.DataFrame, *, n_boot: int = 300, min_mentions: int = 20, random_state: int = 0
) -> pd.DataFrame:
    """Per theme: its NPS impact with a bootstrap interval, Pratt importance, mentions and NPS.

    ``responses`` has one row per (feedback_id, theme) with ``nps`` (0–10; rows without a
    score are ignored) and ``theme`` (None for a response without analysed themes).
    Ranked by impact (most negative first), not by volume.
    """
    scored = responses.dropna(subset=["nps"])
    if scored.empty:
        return pd.DataFrame()
    wide = (
        scored.dropna(subset=["theme"])
        .assign(one=1)
        .pivot_table(
            index="feedback_id", columns="theme", values="one", aggfunc="max", fill_value=0
        )
    )
    scores = scored.groupby("feedback_id")["nps"].first()
    wide = wide.reindex(scores.index, fill_value=0).drop(columns=[OTHER], errors="ignore")
    labels = scored.dropna(subset=["theme"]).groupby("theme")["theme_label"].first()
    mentions = wide.sum()
    themes = [t for t in wide.columns if mentions[t] >= min_mentions]
    values = scores.to_numpy(dtype=float)
    matrix = wide[themes].to_numpy(dtype=bool)
    overall = _nps_of(values)
    rng = np.random.default_rng(random_state)
    samples = rng.integers(0, len(values), size=(n_boot, len(values)))
    promoter = values >= 9
    detractor = values <= 6
    rows = []
    importance = _pratt(values, matrix.astype(float))
    for j, theme in enumerate(themes):
        mention = matrix[:, j]
        without = _nps_of(values[~mention])
        impact = overall - without
        boot = []
        for sample in samples:
            m = mention[sample]
            keep = ~m
            if keep.sum() == 0:
                continue
            total = (promoter[sample].mean() - detractor[sample].mean()) * 100
            rest = (promoter[sample][keep].mean() - detractor[sample][keep].mean()) * 100
            boot.append(total - rest)
        low, high = np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan)
        rows.append(
            {
                "theme": theme,
                "theme_label": labels.get(theme, theme),
                "mentions": int(mention.sum()),
                "nps_when_mentioned": _nps_of(values[mention]),
                "nps_without": without,
                "impact": impact,
                "impact_ci_low": float(low),
                "impact_ci_high": float(high),
                "relative_importance_pct": importance[j],
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame.insert(0, "overall_nps", overall)
    return frame.sort_values("impact").reset_index(drop=True)


def _pratt(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pratt's relative importance (% of R²) of each column of x for y; NaN if degenerate."""
    if x.shape[1] == 0:
        return np.array([])
    std_x = x.std(axis=0)
    usable = std_x > 0
    out = np.full(x.shape[1], np.nan)
    if not usable.any() or y.std() == 0:
        return out
    zx = (x[:, usable] - x[:, usable].mean(axis=0)) / std_x[usable]
    zy = (y - y.mean()) / y.std()
    beta, *_ = np.linalg.lstsq(zx, zy, rcond=None)
    r = zx.T @ zy / len(zy)
    contribution = beta * r
    total = contribution.sum()
    out[usable] = contribution / total * 100 if total else np.nan
    return out


def churn_drivers(
    mentions: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    as_of: datetime | None = None,
    min_customers: int = 20,
) -> pd.DataFrame:
    """Per theme: churn of customers who raised it vs comparable customers who did not.

    ``mentions``: feedback rows with customer_id and theme; ``customers``: customer_id,
    signup_date, churn_date (NaT = active), monthly_value. Active customers' tenure counts to
    ``as_of`` (default: the latest date seen). Customers without feedback are left out of
    both arms.
    """
    cut = pd.Timestamp(
        as_of or pd.concat([customers["signup_date"], customers["churn_date"]]).max()
    )
    frame = customers.copy()
    # one unit on both sides (a datetime64[s] column refuses a nanosecond fill in pandas 4)
    end = frame["churn_date"].astype("datetime64[ns]").fillna(cut.as_unit("ns"))
    frame["tenure_band"] = pd.cut(
        (end - frame["signup_date"]).dt.days, [-1, 180, 365, 730, 10**6], labels=False
    )
    contacts = mentions.groupby("customer_id")["feedback_id"].nunique()
    frame = frame[frame["customer_id"].isin(contacts.index)].copy()
    frame["contacts"] = frame["customer_id"].map(contacts)
    frame["activity_band"] = pd.qcut(
        frame["contacts"].rank(method="first"), 4, labels=False, duplicates="drop"
    )
    frame["churned"] = frame["churn_date"].notna()
    frame["stratum"] = frame["tenure_band"].astype(str) + "/" + frame["activity_band"].astype(str)
    raised = mentions.dropna(subset=["theme"]).groupby("theme")["customer_id"].unique()
    labels = mentions.dropna(subset=["theme"]).groupby("theme")["theme_label"].first()
    rows = []
    for theme, ids in raised.items():
        if theme == OTHER:
            continue
        exposed = frame["customer_id"].isin(set(ids)).to_numpy()
        if exposed.sum() < min_customers or (~exposed).sum() < min_customers:
            continue
        strata = (
            frame.assign(exposed=exposed)
            .groupby(["stratum", "exposed"])["churned"]
            .agg(["mean", "size"])
            .unstack("exposed")
        )
        strata = strata.dropna()
        if strata.empty:
            continue
        weights = strata[("size", True)]
        difference = strata[("mean", True)] - strata[("mean", False)]
        excess = float((difference * weights).sum() / weights.sum())
        rate_exposed = float(frame.loc[exposed, "churned"].mean())
        rate_other = float(frame.loc[~exposed, "churned"].mean())
        n1, n0 = exposed.sum(), (~exposed).sum()
        se = np.sqrt(rate_exposed * (1 - rate_exposed) / n1 + rate_other * (1 - rate_other) / n0)
        active = exposed & ~frame["churned"].to_numpy()
        revenue = float(frame.loc[active, "monthly_value"].fillna(0).sum() * max(excess, 0))
        rows.append(
            {
                "theme": theme,
                "theme_label": labels.get(theme, theme),
                "customers_raised": int(n1),
                "churn_rate_raised": rate_exposed * 100,
                "churn_rate_others": rate_other * 100,
                "excess_churn_comparable": excess * 100,
                "excess_ci_low": (excess - Z95 * se) * 100,
                "excess_ci_high": (excess + Z95 * se) * 100,
                "active_customers_raised": int(active.sum()),
                "monthly_revenue_at_risk": revenue,
            }
        )
    out = pd.DataFrame(rows)
    return (
        out.sort_values("excess_churn_comparable", ascending=False).reset_index(drop=True)
        if len(out)
        else out
    )


def emerging_themes(
    counts: pd.DataFrame,
    *,
    baseline_periods: int = 3,
    min_count: int = 10,
    z_threshold: float = 2.58,
) -> pd.DataFrame:
    """Themes whose share of responses rose in the latest period against the baseline.

    ``counts`` has period (sortable labels), theme, count, responses, sentiment_sum,
    sentiment_sq and optionally segment. The latest period is compared with the
    ``baseline_periods`` before it. ``alert`` is True where the share rose with
    z ≥ ``z_threshold`` (≈ p < 0.01) and the latest count is at least ``min_count``.
    """
    if counts.empty:
        return pd.DataFrame()
    keys = ["segment"] if "segment" in counts.columns else []
    periods = sorted(counts["period"].unique())
    latest = periods[-1]
    baseline = periods[-1 - baseline_periods : -1]
    now = (
        counts[counts["period"] == latest]
        .groupby([*keys, "theme"])
        .agg(
            theme_label=("theme_label", "first"),
            count=("count", "sum"),
            responses=("responses", "first"),
            sentiment_sum=("sentiment_sum", "sum"),
            sentiment_sq=("sentiment_sq", "sum"),
        )
    )
    base_rows = counts[counts["period"].isin(baseline)]
    base_totals = (
        base_rows.drop_duplicates([*keys, "period"]).groupby(keys)["responses"].sum()
        if keys
        else base_rows.drop_duplicates("period")["responses"].sum()
    )
    base = base_rows.groupby([*keys, "theme"]).agg(
        base_count=("count", "sum"),
        base_sentiment_sum=("sentiment_sum", "sum"),
        base_sentiment_sq=("sentiment_sq", "sum"),
    )
    frame = (
        now.join(base, how="left")
        .fillna({"base_count": 0, "base_sentiment_sum": 0.0, "base_sentiment_sq": 0.0})
        .reset_index()
    )
    if keys:
        frame["base_responses"] = frame["segment"].map(base_totals).fillna(0)
    else:
        frame["base_responses"] = base_totals
    frame = frame[frame["theme"] != OTHER]
    share = frame["count"] / frame["responses"]
    base_share = frame["base_count"] / frame["base_responses"].replace(0, np.nan)
    pooled = (frame["count"] + frame["base_count"]) / (frame["responses"] + frame["base_responses"])
    se = np.sqrt(
        pooled
        * (1 - pooled)
        * (1 / frame["responses"] + 1 / frame["base_responses"].replace(0, np.nan))
    )
    frame["share_pct"] = share * 100
    frame["baseline_share_pct"] = base_share * 100
    frame["share_change_pts"] = (share - base_share) * 100
    frame["z"] = (share - base_share) / se.replace(0, np.nan)
    mean = frame["sentiment_sum"] / frame["count"]
    base_mean = frame["base_sentiment_sum"] / frame["base_count"].replace(0, np.nan)
    frame["sentiment"] = mean
    frame["baseline_sentiment"] = base_mean
    frame["sentiment_change"] = mean - base_mean
    frame["period"] = latest
    frame["baseline"] = f"{baseline[0]}..{baseline[-1]}" if baseline else ""
    frame["alert"] = (frame["z"] >= z_threshold) & (frame["count"] >= min_count)
    columns = [
        *keys,
        "period",
        "baseline",
        "theme",
        "theme_label",
        "count",
        "share_pct",
        "baseline_share_pct",
        "share_change_pts",
        "z",
        "sentiment",
        "baseline_sentiment",
        "sentiment_change",
        "alert",
    ]
    return (
        frame[columns].sort_values(["alert", "z"], ascending=[False, False]).reset_index(drop=True)
    )


__all__ = ["churn_drivers", "emerging_themes", "nps_drivers", "nps_from_counts"]
