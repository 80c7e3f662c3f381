"""The CX reads: what the store holds (``stats``), one customer's timeline, the CX metrics,
theme drivers and emerging themes. Each is a job the CLI and the HTTP routes both call: a
typed request in, a typed result out; they render it, the job neither prints nor parses.

The computations live in the library (``cxml.store.records``, ``cxml.reporting``); a job
picks what to compute from its request, and for the timeline also redacts and records the
read in the audit log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from cxml.reporting import (
    Report,
    alert_table,
    dimensions,
    driver_report,
    metric_report,
    no_feedback_message,
)
from cxml.store import Store

# --- what the store holds -------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Counts of customers and feedback (by channel, by language) and of rejects; an empty
    store counts zeros and has no first or last feedback. Customers have a known id: anonymous
    survey respondents are only counted in ``anonymous_responses``."""

    customers: int
    customers_active: int
    customers_churned: int
    feedback: int
    feedback_with_text: int
    anonymous_responses: int  # feedback of anonymous survey respondents: no customers
    feedback_by_channel: dict[str, int]
    feedback_by_language: dict[str, int]
    feedback_first: str | None  # ISO date-time of the oldest feedback
    feedback_last: str | None
    rejects: int
    rejects_held: int  # held for customers the store does not know yet

    def as_dict(self) -> dict[str, Any]:
        """The counts as one JSON object, in this order."""
        return asdict(self)

    @property
    def message(self) -> str | None:
        """Without feedback, what to say instead of empty counts (and what to run); else None."""
        if self.feedback:
            return None
        return no_feedback_message(self.customers, self.rejects_held)


def run_stats(store: Store) -> Stats:
    """What the store holds (``cxml.store.records.stats``)."""
    from cxml.store.records import stats

    return Stats(**stats(store))


# --- one customer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRequest:
    """Whose timeline, and whether to show the raw words."""

    customer_id: str
    pii: bool = False  # False: e-mail addresses, phone and card numbers in texts are redacted


@dataclass(frozen=True, eq=False)
class Timeline:
    """A customer's stored row and every feedback of theirs across channels, oldest first."""

    customer: dict[str, Any]
    events: pd.DataFrame  # one row per feedback; ``text`` redacted unless asked for raw words

    @property
    def records(self) -> list[dict[str, Any]]:
        """The events as dicts, missing values as None."""
        events = self.events
        return events.astype(object).where(events.notna(), None).to_dict(orient="records")


def run_timeline(store: Store, request: TimelineRequest, *, actor: str, now: datetime) -> Timeline:
    """One customer's timeline; the read is recorded in the audit log as ``actor``'s.

    Raises:
        NotFoundError: no customer ``request.customer_id`` (nothing is recorded).
    """
    from cxml.jobs.privacy import audit_read
    from cxml.store.records import customer, timeline
    from cxml.story import redacted_column

    row = customer(store, request.customer_id)
    events = timeline(store, request.customer_id)
    audit_read(
        store, actor=actor, what="customer", now=now, customers=1, target=request.customer_id
    )
    if not request.pii:
        events["text"] = redacted_column(events["text"])
    return Timeline(row, events)


# --- metrics, drivers, emerging themes ------------------------------------------------------


@dataclass(frozen=True)
class MetricRequest:
    """Which metric, split how, over which days."""

    metric: str  # one of cxml.reporting.METRICS
    by: tuple[str, ...] = ()  # as given: repeatable, each may hold several separated by commas
    period: str | None = None  # group by period too (default: months, not a column)
    start: datetime | None = None  # first day included
    end: datetime | None = None  # first day excluded
    level: str = "response"  # survey metrics: per response, or per customer


def run_metric(store: Store, request: MetricRequest) -> Report:
    """The metric per group with its 95 % interval and counts; a churn figure on a store
    without churn data has no rows and says why (``Report.message``)."""
    return metric_report(
        store,
        request.metric,
        by=dimensions(request.by),
        period=request.period,
        start=request.start,
        end=request.end,
        level=request.level,
    )


@dataclass(frozen=True)
class DriverRequest:
    """What themes are ranked by their impact on."""

    target: str = "nps"  # one of cxml.reporting.DRIVER_TARGETS


def run_drivers(store: Store, request: DriverRequest, *, as_of: datetime) -> Report:
    """Themes ranked by their impact on NPS or churn (active customers' tenure counted to
    ``as_of``); churn drivers on a store with too few churners have no rows and say why.

    Raises:
        ConfigError: no analysed themes in the store yet.
    """
    return driver_report(store, request.target, as_of=as_of)


@dataclass(frozen=True)
class AlertRequest:
    """Over which periods emerging themes are looked for, and which are shown."""

    period: str = "month"  # one of cxml.reporting.ALERT_PERIODS
    segment: str | None = None  # a customer attribute to split by
    baseline_periods: int = 3
    min_count: int = 10  # fewest mentions in the latest period to alert
    show_all: bool = False  # every theme, not only those that raise an alert


def run_alerts(store: Store, request: AlertRequest) -> Report:
    """Emerging themes: each theme's share in the latest period against the baseline periods
    (z-test), alerts first.

    Raises:
        ConfigError: no analysed themes in the store yet.
    """
    return Report(
        alert_table(
            store,
            period=request.period,
            segment=request.segment,
            baseline_periods=request.baseline_periods,
            min_count=request.min_count,
            only_alerts=not request.show_all,
        )
    )
