"""Who is an active customer at an instant: one rule, in the three forms cxml reads customers in.

A customer is *active* as of an instant when they signed up on a day entirely before it, have
not churned by it (no churn date, or one on or after the instant's day cut), and are not an
anonymous survey respondent (nobody to retain: never scored, trained on or listed at risk).
Dates are midnights; ``day_cut`` turns the instant into the first day not entirely before it, so
"day D is before the instant" reads ``D < cut`` in every form.

- ``active_sql``: a condition on the ``customers`` table (history reads, counts, buckets);
- ``active_mask``: the same over a frame with ``customer_id``, ``signup_date``, ``churn_date``
  (customers described inline in a score request);
- ``active_spark``: the same as a Spark column (customers read from Parquet).

``tests/store/test_active.py`` checks that the three select the same customers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, and_, or_

from cxml.contract import ANONYMOUS_PREFIX
from cxml.store.tables import customers


def day_cut(as_of: pd.Timestamp) -> date:
    """The first day that is not entirely before ``as_of``: a date column D is before
    ``as_of`` exactly when D < day_cut (dates are midnights)."""
    midnight = as_of.normalize()
    return (midnight if as_of == midnight else midnight + pd.Timedelta(days=1)).date()


def active_sql(as_of: pd.Timestamp) -> ColumnElement[bool]:
    """The rule as a condition on the ``customers`` table."""
    cut = day_cut(as_of)
    return and_(
        customers.c.signup_date < cut,
        or_(customers.c.churn_date.is_(None), customers.c.churn_date >= cut),
        ~customers.c.customer_id.startswith(ANONYMOUS_PREFIX, autoescape=True),
    )


def active_mask(frame: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """The rule over a frame's ``customer_id``, ``signup_date`` and ``churn_date`` (dates,
    timestamps or text); a missing signup date is not active."""
    cut = pd.Timestamp(day_cut(as_of))
    signup = pd.to_datetime(frame["signup_date"], errors="coerce")
    churn = pd.to_datetime(frame["churn_date"], errors="coerce")
    anonymous = frame["customer_id"].astype(str).str.startswith(ANONYMOUS_PREFIX)
    active = (signup < cut) & (churn.isna() | (churn >= cut)) & ~anonymous
    return active.to_numpy(dtype=bool)


def active_spark(as_of: pd.Timestamp) -> Any:
    """The rule as a Spark column over ``customer_id``, ``signup_date`` and ``churn_date``."""
    from pyspark.sql import functions as F

    cut = F.lit(str(day_cut(as_of))).cast("date")
    return (
        (F.col("signup_date").cast("date") < cut)
        & (F.col("churn_date").isNull() | (F.col("churn_date").cast("date") >= cut))
        & ~F.col("customer_id").startswith(ANONYMOUS_PREFIX)
    )


__all__ = ["active_mask", "active_spark", "active_sql", "day_cut"]
