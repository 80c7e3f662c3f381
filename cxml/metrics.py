"""CX metrics exactly as the field defines them, with confidence intervals. Pure functions.

- NPS = % promoters (9–10) − % detractors (0–6) of all respondents; passives (7–8) count
  in the denominator. Range −100 to 100. Its standard error treats promoters and
  detractors as one multinomial draw: var = (p_P + p_D − (p_P − p_D)²) / n.
- CSAT = share of 4–5 answers on the 1–5 scale (Wilson interval), and the mean.
- CES = mean on the 1–7 scale, where cxml's convention is 1 = very low effort and
  7 = very high effort ("How much effort did you have to put in?"); low-effort share =
  answers 1–3 (Wilson interval).
- Churn rate = customers who churned during the period / customers active at its start.
- Retention rate = (customers at the end − new customers acquired during the period) /
  customers at the start, where "new" counts the customers acquired during the period who
  are still there at its end (one who joined and left within the period is in neither term).
Cells with fewer than ``SMALL_CELL`` respondents are flagged ``small``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import pandas as pd
from scipy import stats


class Period(StrEnum):
    """Calendar periods metrics are grouped by (weeks start on Monday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Level(StrEnum):
    """Every response counts, or each customer's latest response per period."""

    RESPONSE = "response"
    CUSTOMER = "customer"


PERIODS = tuple(p.value for p in Period)
LEVELS = tuple(level.value for level in Level)
SMALL_CELL = 30

#: What every churn figure says instead of 0 % when the store has no churn dates.
NO_CHURN_DATA = "no churn data yet — load churn dates or a cancellation export"
#: Fewest churners for theme-by-theme churn comparisons (drivers): below it, nothing to compare.
MIN_CHURNERS_FOR_DRIVERS = 10


def churn_data(customers: int, churners: int, *, minimum: int = 1) -> dict[str, object]:
    """Whether the store has churn data to show (``minimum`` churners or more), with the
    counts, and the message to show instead of a 0 % churn rate or a $0 revenue at risk."""
    enough = churners >= minimum
    if enough:
        message = None
    elif customers == 0:
        message = (
            f"{NO_CHURN_DATA} (no customers loaded yet — anonymous survey respondents are not "
            "counted; `cxml ingest customers` with a churn_date column)"
        )
    elif churners == 0:
        message = (
            f"{NO_CHURN_DATA} (none of the {customers:,} customers has a churn_date; "
            "`cxml ingest customers` with a churn_date column)"
        )
    else:
        message = (
            f"{NO_CHURN_DATA} (only {churners:,} of {customers:,} customers have a churn_date; "
            f"at least {minimum:,} are needed)"
        )
    return {"churn_data": enough, "customers": customers, "churners": churners, "message": message}


Z95 = 1.959963984540054


def wilson(
    successes: np.ndarray | float, n: np.ndarray | float, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, as (low, high) in [0, 1]; NaN where n = 0."""
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / total
        denominator = 1 + z**2 / total
        centre = (p + z**2 / (2 * total)) / denominator
        half = z * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denominator
    return centre - half, centre + half


def nps_from_counts(
    promoters: np.ndarray, passives: np.ndarray, detractors: np.ndarray
) -> pd.DataFrame:
    """NPS (−100…100) with a 95 % interval, from counts per group."""
    p = np.asarray(promoters, dtype=float)
    d = np.asarray(detractors, dtype=float)
    n = p + np.asarray(passives, dtype=float) + d
    with np.errstate(invalid="ignore", divide="ignore"):
        share_p, share_d = p / n, d / n
        value = (share_p - share_d) * 100
        se = np.sqrt((share_p + share_d - (share_p - share_d) ** 2) / n) * 100
    return pd.DataFrame(
        {
            "nps": value,
            "ci_low": np.maximum(value - Z95 * se, -100),
            "ci_high": np.minimum(value + Z95 * se, 100),
            "promoters_pct": share_p * 100,
            "passives_pct": (1 - share_p - share_d) * 100,
            "detractors_pct": share_d * 100,
            "n": n.astype(int),
        }
    )


def nps(scores: Sequence[float] | pd.Series) -> dict[str, float]:
    """NPS of raw 0–10 answers (missing answers ignored)."""
    values = pd.to_numeric(pd.Series(scores), errors="coerce").dropna()
    row = nps_from_counts(
        np.array([(values >= 9).sum()]),
        np.array([values.between(7, 8).sum()]),
        np.array([(values <= 6).sum()]),
    ).iloc[0]
    return {k: (int(v) if k == "n" else float(v)) for k, v in row.items()}


def _mean_interval(
    total: np.ndarray, total_sq: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    total, total_sq, n = (np.asarray(x, dtype=float) for x in (total, total_sq, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        variance = np.maximum(total_sq - n * mean**2, 0) / (n - 1)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * np.sqrt(variance / n)
    return mean, mean - half, mean + half


def csat_from_sums(
    satisfied: np.ndarray, total: np.ndarray, total_sq: np.ndarray, n: np.ndarray
) -> pd.DataFrame:
    """CSAT % (share of 4–5) with a Wilson interval, and the mean with a t interval."""
    low, high = wilson(satisfied, n)
    mean, mean_low, mean_high = _mean_interval(total, total_sq, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.asarray(satisfied, dtype=float) / np.asarray(n, dtype=float)
    return pd.DataFrame(
        {
            "csat": share * 100,
            "ci_low": low * 100,
            "ci_high": high * 100,
            "mean": mean,
            "mean_ci_low": mean_low,
            "mean_ci_high": mean_high,
            "n": np.asarray(n).astype(int),
        }
    )


def ces_from_sums(
    low_effort: np.ndarray, total: np.ndarray, total_sq: np.ndarray, n: np.ndarray
) -> pd.DataFrame:
    """CES mean (1–7, 1 = very low effort) with a t interval, and the low-effort share (1–3)."""
    mean, low, high = _mean_interval(total, total_sq, n)
    share_low, share_high = wilson(low_effort, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.asarray(low_effort, dtype=float) / np.asarray(n, dtype=float)
    return pd.DataFrame(
        {
            "ces": mean,
            "ci_low": low,
            "ci_high": high,
            "low_effort_pct": share * 100,
            "low_effort_ci_low": share_low * 100,
            "low_effort_ci_high": share_high * 100,
            "n": np.asarray(n).astype(int),
        }
    )


def period_bounds(start: pd.Timestamp, end: pd.Timestamp, period: str) -> pd.DataFrame:
    """Consecutive periods covering [start, end): label, start, end (weeks start on Monday)."""
    frequency = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}[period]
    first = {
        "day": start.normalize(),
        "week": (start - pd.Timedelta(days=start.weekday())).normalize(),
        "month": start.normalize().replace(day=1),
        "quarter": pd.Timestamp(year=start.year, month=3 * ((start.month - 1) // 3) + 1, day=1),
        "year": pd.Timestamp(year=start.year, month=1, day=1),
    }[period]
    starts = pd.date_range(first, end, freq=frequency, inclusive="left")
    if len(starts) == 0 or starts[0] != first:
        starts = pd.DatetimeIndex([first]).append(starts).unique()
    ends = starts[1:].append(
        pd.DatetimeIndex([starts[-1] + pd.tseries.frequencies.to_offset(frequency)])
    )
    labels = {
        "day": starts.strftime("%Y-%m-%d"),
        "week": starts.strftime("%Y-%m-%d"),
        "month": starts.strftime("%Y-%m"),
        "quarter": [f"{s.year}-Q{(s.month - 1) // 3 + 1}" for s in starts],
        "year": starts.strftime("%Y"),
    }[period]
    return pd.DataFrame({"period": list(labels), "start": starts, "end": ends})


def churn_and_retention(
    customers: pd.DataFrame, periods: pd.DataFrame, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Churn and retention rates per period (and group), with Wilson intervals.

    ``customers`` needs signup_date and churn_date (NaT = active). Per period [start, end):
    at_start = signed up before start and not churned before start; churned = of those,
    churned before end; new = signed up within the period and still there at its end;
    at_end = signed up before end and not churned before end.
    """
    signup = customers["signup_date"].to_numpy(dtype="datetime64[ns]")
    churn = customers["churn_date"].to_numpy(dtype="datetime64[ns]")
    never = np.isnat(churn)
    groups = [((), np.ones(len(customers), dtype=bool))]
    if by:
        keys = customers[list(by)].astype(object).where(customers[list(by)].notna(), "unknown")
        groups = [
            (
                key if isinstance(key, tuple) else (key,),
                (
                    keys[list(by)].apply(tuple, axis=1)
                    == (key if isinstance(key, tuple) else (key,))
                ).to_numpy(),
            )
            for key in sorted(set(keys[list(by)].apply(tuple, axis=1)), key=str)
        ]
    rows = []
    for key, member in groups:
        for period in periods.itertuples(index=False):
            start = np.datetime64(period.start, "ns")
            end = np.datetime64(period.end, "ns")
            at_start = member & (signup < start) & (never | (churn >= start))
            churned = at_start & ~never & (churn < end)
            new = member & (signup >= start) & (signup < end) & (never | (churn >= end))
            at_end = member & (signup < end) & (never | (churn >= end))
            n_start, n_churned, n_new, n_end = (
                int(x.sum()) for x in (at_start, churned, new, at_end)
            )
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "period": period.period,
                    "at_start": n_start,
                    "churned": n_churned,
                    "new": n_new,
                    "at_end": n_end,
                }
            )
    frame = pd.DataFrame(rows)
    low, high = wilson(frame["churned"], frame["at_start"])
    retained = frame["at_end"] - frame["new"]
    r_low, r_high = wilson(retained, frame["at_start"])
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["churn_rate"] = frame["churned"] / frame["at_start"] * 100
        frame["retention_rate"] = retained / frame["at_start"] * 100
    frame["churn_ci_low"], frame["churn_ci_high"] = low * 100, high * 100
    frame["retention_ci_low"], frame["retention_ci_high"] = r_low * 100, r_high * 100
    frame["n"] = frame["at_start"]
    return frame


def flag_small(frame: pd.DataFrame, threshold: int = SMALL_CELL) -> pd.DataFrame:
    """Add ``small``: True where fewer than ``threshold`` respondents back the number."""
    out = frame.copy()
    out["small"] = out["n"] < threshold
    return out
