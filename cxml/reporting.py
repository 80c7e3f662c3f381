"""Metrics, drivers and alerts from the store: queries (store.queries) + formulas (metrics, drivers).

The library behind the read jobs (``cxml.jobs.reads``): `cxml metrics`, `cxml drivers`,
`cxml alerts` and the HTTP metrics routes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from cxml import drivers, metrics
from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store import metrics as queries


class Metric(StrEnum):
    """The CX metrics cxml computes (see cxml.metrics for their definitions)."""

    NPS = "nps"
    CSAT = "csat"
    CES = "ces"
    CHURN_RATE = "churn-rate"
    RETENTION = "retention"


class DriverTarget(StrEnum):
    """What theme drivers are measured against."""

    NPS = "nps"
    CHURN = "churn"


class AlertPeriod(StrEnum):
    """Periods emerging themes are compared over."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


METRICS = tuple(m.value for m in Metric)
DRIVER_TARGETS = tuple(t.value for t in DriverTarget)
ALERT_PERIODS = tuple(p.value for p in AlertPeriod)


def dimensions(by: Iterable[str]) -> list[str]:
    """Group-by dimensions as given on the command line or in a URL: repeatable, each may hold
    several separated by commas; blanks dropped, a dimension named twice counts once."""
    return list(dict.fromkeys(part.strip() for b in by for part in b.split(",") if part.strip()))


def _check_dimensions(store: Store, by: Sequence[str], *, survey: bool = False) -> None:
    """Every dimension is built in or an attribute some customer has (or, for a survey metric,
    some response): a name that is neither is a typing error, answered as such rather than
    with a column of nulls."""
    other = [d for d in by if d not in queries.BUILTIN_DIMENSIONS]
    if not other:
        return
    from cxml.store.history import attribute_names

    known = attribute_names(store)
    if survey:
        known = sorted({*known, *queries.feedback_attribute_names(store)})
    unknown = [d for d in other if d not in known]
    if unknown:
        shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") if known else "none"
        raise ConfigError(
            f"cannot group by {unknown[0]!r}: expected {', '.join(queries.BUILTIN_DIMENSIONS)} or a "
            f"customer attribute (the store's: {shown})",
            field="by",
            value=unknown[0],
        )


def churn_status(store: Store, *, minimum: int = 1) -> dict[str, Any]:
    """Whether the store has churn data (``minimum`` churners or more), the counts and the
    message to show instead of a 0 % churn rate (see ``metrics.churn_data``)."""
    return metrics.churn_data(*queries.churn_counts(store), minimum=minimum)


@dataclass(frozen=True, eq=False)
class Report:
    """A metric or driver table and, for a churn figure, whether the store has churn data.

    ``churn_data`` is None for a figure that is not about churn and True when the store has
    enough churners; False when it has not: then ``rows`` is empty and ``message`` says why,
    to be shown instead of a 0 % churn rate. A survey metric nobody answered (no feedback in
    the store, or none with that score in the days asked) has no rows either, and ``message``
    says which, to be shown instead of a row of undefined numbers."""

    rows: pd.DataFrame
    churn_data: bool | None = None
    message: str | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (see ``records``)."""
        return records(self.rows)

    @property
    def has_no_churn_data(self) -> bool:
        """A churn figure on a store without (enough) churners: say ``message``, not 0 %."""
        return self.churn_data is False

    def answer_fields(self) -> dict[str, Any]:
        """What the API answers beside the rows: for a churn figure ``churn_data``, and without
        churn data the message; for a survey figure, the message when nobody answered it."""
        if self.churn_data is None:  # a survey figure: why it has no rows, if it has none
            return {"message": self.message} if self.message else {}
        if self.churn_data is False:
            return {"churn_data": False, "message": self.message}
        return {"churn_data": True}


def _no_churn_data(status: dict[str, Any]) -> Report:
    """No rows, and why."""
    return Report(pd.DataFrame(), churn_data=False, message=status["message"])


def metric_table(
    store: Store,
    metric: str,
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    level: str = "response",
) -> pd.DataFrame:
    """One row per group: its keys, the metric under its own name, ci_low, ci_high, n, small.

    A dimension named twice counts once. A churn figure on a store without churn data has no
    rows; ``metric_report`` also says why."""
    return metric_report(
        store, metric, by=by, period=period, start=start, end=end, level=level
    ).rows


def metric_report(
    store: Store,
    metric: str,
    *,
    by: Sequence[str] = (),
    period: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    level: str = "response",
) -> Report:
    """The metric table (see ``metric_table``) and, for churn-rate and retention, whether the
    store has churn data."""
    by = list(dict.fromkeys(by))
    _check_dimensions(store, by, survey=metric in ("nps", "csat", "ces"))
    if period and "period" not in by:
        by.insert(0, "period")
    period = period or "month"
    if metric in ("nps", "csat", "ces"):
        sums = queries.survey_aggregates(
            store, metric, by=by, period=period, start=start, end=end, level=level
        )
        if metric == "nps":
            values = metrics.nps_from_counts(
                sums["promoters"], sums["passives"], sums["detractors"]
            )
        elif metric == "csat":
            values = metrics.csat_from_sums(
                sums["satisfied"], sums["total"], sums["total_sq"], sums["n"]
            )
        else:
            values = metrics.ces_from_sums(
                sums["low_effort"], sums["total"], sums["total_sq"], sums["n"]
            )
        keys = sums.drop(columns=[c for c in sums.columns if c not in by and c != "theme"])
        table = metrics.flag_small(pd.concat([keys.reset_index(drop=True), values], axis=1))
        # Without groups the query answers one row, n = 0, when nobody answered: no figure.
        answered = table[table["n"] > 0].reset_index(drop=True)
        if answered.empty:
            return Report(answered, message=_no_answers(store, metric, by, start, end, level))
        return Report(answered)
    if metric in ("churn-rate", "retention"):
        unsupported = [d for d in by if d in ("channel", "language", "theme")]
        if unsupported:
            raise ConfigError(
                f"{metric} is a customer metric: it cannot be split by {', '.join(unsupported)}"
            )
        status = churn_status(store)
        if not status["churn_data"]:
            return _no_churn_data(status)
        segments = [d for d in by if d != "period"]
        table = queries.customer_table(store, segments)
        if table.empty:
            return Report(pd.DataFrame(), churn_data=True)
        first = pd.Timestamp(start) if start else table["signup_date"].min()
        last = (
            pd.Timestamp(end)
            if end
            else max(table["signup_date"].max(), table["churn_date"].max()) + pd.Timedelta(days=1)
        )
        bounds = metrics.period_bounds(first, last, period)
        rates = metrics.churn_and_retention(table, bounds, segments)
        name, low, high = (
            ("churn_rate", "churn_ci_low", "churn_ci_high")
            if metric == "churn-rate"
            else ("retention_rate", "retention_ci_low", "retention_ci_high")
        )
        out = rates[
            [*segments, "period", name, low, high, "n", "at_start", "churned", "new", "at_end"]
        ]
        out = out.rename(columns={low: "ci_low", high: "ci_high"})
        return Report(metrics.flag_small(out.reset_index(drop=True)), churn_data=True)
    raise ConfigError(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")


def _no_answers(
    store: Store,
    metric: str,
    by: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    level: str,
) -> str:
    """Why a survey metric has no rows: no feedback in the store at all (and what to load),
    answers but no analysed themes to group them by, or no answer with this score (in the days
    asked)."""
    from cxml.store.records import stats

    held = stats(store)
    if not held["feedback"]:
        return no_feedback_message(held["customers"], held["rejects_held"])
    name = metric.upper()
    if "theme" in by:
        overall = queries.survey_aggregates(store, metric, start=start, end=end, level=level)
        answers = int(overall["n"].sum())
        if answers:
            counted = f"{name} answer" if answers == 1 else f"{answers:,} {name} answers"
            return (
                f"no analysed themes to group the {counted} by: run `cxml train text` then "
                "`cxml analyze --store`"
            )
    if start is None and end is None:
        rows = "feedback row carries" if held["feedback"] == 1 else "feedback rows carry"
        return (
            f"no {name} answers in the store yet: its {held['feedback']:,} {rows} no {metric} "
            f"score (load survey answers with `cxml ingest feedback FILE`, the score in a "
            f"{metric} column or mapped to one with --map)"
        )
    days = []
    if start is not None:
        days.append(f"from {_day(start)}")
    if end is not None:
        days.append(f"{'to' if start is not None else 'before'} {_day(end)}")
    else:
        days.append("on")
    return f"no {name} answers {' '.join(days)} (widen --from / --to)"


def _day(value: datetime) -> str:
    """A day as given on the command line (with its time only when it has one)."""
    return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")


def _no_themes(store: Store) -> str:
    """Why there are no themes to rank or watch, and what to run: train and analyse, or first
    load the feedback to analyse."""
    from cxml.store.records import stats

    held = stats(store)
    if held["feedback"]:
        return NO_THEMES_YET
    load = no_feedback_message(held["customers"], held["rejects_held"])
    return (
        f"no analysed themes in the store yet, and {load}; then run `cxml train text` and "
        "`cxml analyze --store`"
    )


def driver_table(store: Store, target: str, *, as_of: datetime | None = None) -> pd.DataFrame:
    """Themes ranked by their impact on ``target`` ('nps' or 'churn'); for churn without
    enough churners in the store, no rows (``driver_report`` also says why). Active customers'
    tenure counts to ``as_of`` (default: the latest date in the store)."""
    return driver_report(store, target, as_of=as_of).rows


def driver_report(store: Store, target: str, *, as_of: datetime | None = None) -> Report:
    """The driver table (see ``driver_table``) and, for churn, whether the store has enough
    churners to rank themes by."""
    if target == "churn":
        status = churn_status(store, minimum=metrics.MIN_CHURNERS_FOR_DRIVERS)
        if not status["churn_data"]:
            return _no_churn_data(status)
    responses = queries.response_themes(store)
    if responses["theme"].isna().all():
        raise ConfigError(_no_themes(store))
    if target == "nps":
        return Report(drivers.nps_drivers(responses))
    if target == "churn":
        customers = queries.customer_table(store)
        return Report(drivers.churn_drivers(responses, customers, as_of=as_of), churn_data=True)
    raise ConfigError(f"unknown target {target!r}: expected nps or churn")


def alert_table(
    store: Store,
    *,
    period: str = "month",
    segment: str | None = None,
    baseline_periods: int = 3,
    min_count: int = 10,
    only_alerts: bool = False,
) -> pd.DataFrame:
    """Emerging themes: latest period against the baseline, per theme (and segment); with
    ``only_alerts`` only the themes that raise an alert."""
    counts = queries.theme_period_counts(store, period, segment)
    if counts.empty:
        raise ConfigError(_no_themes(store))
    table = drivers.emerging_themes(counts, baseline_periods=baseline_periods, min_count=min_count)
    if only_alerts and not table.empty:
        table = table[table["alert"]].reset_index(drop=True)
    return table


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready rows: NaN → None, numpy scalars → Python, floats rounded to 4 places."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, float | np.floating):
                clean[key] = None if np.isnan(value) else round(float(value), 4)
            elif isinstance(value, np.integer):
                clean[key] = int(value)
            elif isinstance(value, np.bool_):
                clean[key] = bool(value)
            else:
                clean[key] = value
        out.append(clean)
    return out


NO_THEMES_YET = (
    "no analysed themes in the store yet: run `cxml train text` then `cxml analyze --store`"
)
NO_FEEDBACK_YET = "the store holds no feedback yet"


def no_feedback_message(customers: int, held: int = 0) -> str:
    """What to say, and to run, instead of counts or figures when the store holds no feedback:
    ``customers`` in the store, ``held`` feedback rows waiting for theirs (released when they
    are ingested)."""
    if held:
        waiting = "1 row waits for its customer" if held == 1 else f"{held:,} rows wait for theirs"
        return (
            f"{NO_FEEDBACK_YET}: {waiting}; load the customers with `cxml ingest customers FILE` "
            "and the held rows follow"
        )
    if customers:
        return f"{NO_FEEDBACK_YET}: load some with `cxml ingest feedback FILE`"
    return (
        f"{NO_FEEDBACK_YET}: load some with `cxml ingest customers FILE`, then "
        "`cxml ingest feedback FILE` (or `cxml ingest feedback FILE --anonymous` for survey "
        "answers without customers)"
    )


def theme_overview(
    store: Store, *, today: datetime, months: int = 6, theme_days: int = 90
) -> list[dict[str, Any]]:
    """Every theme with what a retention lead asks of it, most mentioned first: volume
    (comments, customers), sentiment (mean, share negative), impact on NPS and excess churn of
    comparable customers (each with its 95 % interval, when there is enough data), the at-risk
    customers who raised it in the last ``theme_days`` and their revenue at risk, mentions per
    month over the last ``months``, and whether it is emerging (alert) this month."""
    from cxml.store.analysis import theme_summary
    from cxml.store.scores import at_risk_by_theme

    summary = theme_summary(store, examples=0)
    if summary.empty:  # a state, not an error: nothing analysed yet (see NO_THEMES_YET)
        return []
    summary = summary[summary["theme_id"] != "other"]

    def indexed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
        if frame.empty or "theme" not in frame.columns:
            return pd.DataFrame(columns=list(columns.values()))
        return frame.set_index("theme")[list(columns)].rename(columns=columns)

    nps = indexed(
        driver_table(store, "nps"),
        {
            "impact": "nps_impact",
            "impact_ci_low": "nps_impact_ci_low",
            "impact_ci_high": "nps_impact_ci_high",
        },
    )
    churn = indexed(
        driver_table(store, "churn", as_of=today),
        {
            "excess_churn_comparable": "excess_churn_pts",
            "excess_ci_low": "excess_churn_ci_low",
            "excess_ci_high": "excess_churn_ci_high",
        },
    )
    alerts = indexed(
        alert_table(store, period="month"),
        {"share_change_pts": "share_change_pts", "z": "alert_z", "alert": "alert"},
    )
    counts = queries.theme_period_counts(store, "month")
    open_month = f"{today:%Y-%m}"  # the month still running is not a trend point yet
    periods = sorted(p for p in counts["period"].unique() if p < open_month)[-months:]
    monthly = (
        counts[counts["period"].isin(periods)]
        .pivot_table(index="theme", columns="period", values="count", aggfunc="sum", fill_value=0)
        .reindex(columns=periods, fill_value=0)
    )
    at_risk = at_risk_by_theme(store, today=today, theme_days=theme_days)
    table = summary.set_index("theme_id").join(nps).join(churn).join(alerts)
    out = []
    for theme_id, row in zip(table.index, records(table.reset_index(drop=True)), strict=True):
        trend = monthly.loc[theme_id] if theme_id in monthly.index else None
        risk = at_risk.get(str(theme_id), {"customers": 0, "revenue": 0.0})
        out.append(
            {
                "theme_id": str(theme_id),
                **row,
                "alert": bool(row.get("alert") or False),
                "at_risk_customers": risk["customers"],
                "revenue_at_risk": round(risk["revenue"], 2),
                "trend": [
                    {"period": str(p), "count": int(trend[p]) if trend is not None else 0}
                    for p in periods
                ],
            }
        )
    return out
