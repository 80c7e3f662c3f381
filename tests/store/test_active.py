"""One "active customer" rule (issue #26): its SQL and pandas forms select the same customers on
the same data, at a midnight and in the middle of a day (the Spark form: tests/spark)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import insert, select

from cxml.store import Store
from cxml.store.active import active_mask, active_sql, day_cut
from cxml.store.tables import customers

AT = datetime(2025, 3, 1, 9, 0)
INSTANTS = [pd.Timestamp("2025-03-10"), pd.Timestamp("2025-03-10 14:30")]
# signup and churn around both instants' cuts (2025-03-10 and 2025-03-11), and the anonymous
PEOPLE = [
    ("signed-before", "2025-03-01", None),
    ("signed-on-the-day", "2025-03-10", None),
    ("signed-the-day-after", "2025-03-11", None),
    ("churned-before", "2025-01-01", "2025-03-09"),
    ("churned-on-the-day", "2025-01-01", "2025-03-10"),
    ("churned-the-day-after", "2025-01-01", "2025-03-11"),
    ("churned-later", "2025-01-01", "2025-06-01"),
    ("anonymous:F1", "2025-01-01", None),
]
FRAME = pd.DataFrame(PEOPLE, columns=["customer_id", "signup_date", "churn_date"])


def _expected(instant: pd.Timestamp) -> set[str]:
    """The rule written out by hand: a day D is before the instant when D < its cut."""
    cut = day_cut(instant).isoformat()
    return {
        c
        for c, signed, churned in PEOPLE
        if signed < cut and (churned is None or churned >= cut) and not c.startswith("anonymous:")
    }


@pytest.fixture
def filled(store: Store) -> Store:
    rows = [
        {
            "customer_id": c,
            "signup_date": pd.Timestamp(signed).date(),
            "churn_date": None if churned is None else pd.Timestamp(churned).date(),
            "attributes": {},
            "content_hash": i,
            "created_at": AT,
            "updated_at": AT,
        }
        for i, (c, signed, churned) in enumerate(PEOPLE)
    ]
    with store.begin() as connection:
        connection.execute(insert(customers), rows)
    return store


@pytest.mark.parametrize("instant", INSTANTS, ids=["midnight", "afternoon"])
def test_the_sql_and_pandas_forms_select_the_same_customers(
    filled: Store, instant: pd.Timestamp
) -> None:
    with filled.engine.connect() as connection:
        in_sql = set(
            connection.execute(select(customers.c.customer_id).where(active_sql(instant))).scalars()
        )
    in_pandas = set(FRAME.loc[active_mask(FRAME, instant), "customer_id"])
    assert in_sql == in_pandas == _expected(instant)
    # a day not over yet is not before the instant: signing up that day counts from the next
    assert ("signed-on-the-day" in in_sql) is (instant.hour > 0)
