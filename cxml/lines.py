"""Plain-text lines for people: a customer's timeline, the most at-risk customers, training
grades. The CLI prints them; the demo walk-through and notebooks use the same ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd


def timeline_lines(customer: dict[str, Any], events: pd.DataFrame) -> Iterator[str]:
    """A customer's profile line, attributes, and one line per interaction (oldest first)."""
    customer_id = customer["customer_id"]
    status = f"churned {customer['churn_date']}" if customer["churn_date"] else "active"
    value = customer["monthly_value"]
    yield (
        f"{customer_id}: signed up {customer['signup_date']}, {status}"
        + (f", {value:,.2f}/month" if value is not None else "")
    )
    if customer["attributes"]:
        yield "  " + ", ".join(f"{k}={v}" for k, v in customer["attributes"].items())
    yield f"{len(events)} interaction(s)"
    for event in events.itertuples(index=False):
        scores = " ".join(
            f"{name.upper()} {int(value)}"
            for name, value in (("nps", event.nps), ("csat", event.csat), ("ces", event.ces))
            if not pd.isna(value)
        )
        text = (event.text or "").replace("\n", " ⏎ ")
        yield (
            f"{pd.Timestamp(event.created_at):%Y-%m-%d %H:%M}  {event.channel:<10} "
            f"{scores:<14} {text}"
        )


def at_risk_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Each scored customer on a line (probability, band, revenue at risk, reasons), with the
    customer's own words under it when a reason quotes them."""
    for row in rows:
        reasons = "; ".join(r["text"] for r in row["reasons"])
        quote = next((r["evidence"]["quote"] for r in row["reasons"] if "evidence" in r), None)
        revenue = row["revenue_at_risk"]
        at_risk = "-" if revenue is None or revenue != revenue else f"{revenue:,.2f}"
        expected = row.get("expected_days")
        timing = (
            ""
            if expected is None or expected != expected
            else f"  {row['survival_90']:.0%} still here in 90 days, ~{expected:.0f} days expected"
        )
        yield (
            f"  {row['customer_id']}  {row['probability']:.1%}  {row['band']:<6} "
            f"at risk {at_risk}{timing}  — {reasons}"
        )
        if quote:
            yield f"      «{quote}»"


def grade_lines(result: dict[str, Any]) -> Iterator[str]:
    """A churn training run: mode, rows, what it was graded on, each family's grades."""
    yield f"{result['mode']} mode, {result['rows']:,} rows; graded on {result['backtest']}"
    for name, g in result["grades"].items():
        yield (
            f"  {name:<9} ROC-AUC {g['roc_auc']:.4f}  PR-AUC {g['pr_auc']:.3f}  "
            f"Brier {g['brier']:.4f}  lift@10% {g['lift_top10']:.2f}"
        )
    for name, g in (result.get("survival_grades") or {}).items():
        yield (
            f"  time to churn, {name.replace('_', '-')}: concordance {g['concordance']:.3f}  "
            f"integrated Brier {g['integrated_brier']:.4f}"
        )
    yield (
        f"registered cxml-churn version {result['version']}; "
        f"champion is version {result['champion']}"
    )
