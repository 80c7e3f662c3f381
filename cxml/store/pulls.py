"""Worklist pulls as stored: the pull (who, when, model, seed, holdout share, horizon) and each
pulled customer's arm and pre-contact risk. The rules live in ``cxml.pulls``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select

from cxml.store.database import Store
from cxml.store.tables import customers, pull_assignments, worklist_pulls


def insert_pull(store: Store, pull: dict[str, Any], assignments: list[dict[str, Any]]) -> int:
    """Write a pull and its assignments in one transaction; returns the pull's id."""
    with store.begin() as connection:
        result = connection.execute(insert(worklist_pulls).values(**pull))
        assert result.inserted_primary_key is not None
        pull_id = int(result.inserted_primary_key[0])
        if assignments:
            connection.execute(
                insert(pull_assignments), [{**a, "pull_id": pull_id} for a in assignments]
            )
    return pull_id


def customers_in_open_pulls(store: Store, now: datetime) -> set[str]:
    """Customers assigned by a pull whose horizon has not passed (not pulled again)."""
    query = (
        select(pull_assignments.c.customer_id)
        .join(worklist_pulls, worklist_pulls.c.pull_id == pull_assignments.c.pull_id)
        .where(worklist_pulls.c.read_after > now)
    )
    with store.engine.connect() as connection:
        return set(connection.execute(query).scalars())


def open_control_pull(store: Store, customer_id: str, now: datetime) -> int | None:
    """The open pull that holds ``customer_id`` out as a control, if any."""
    query = (
        select(pull_assignments.c.pull_id)
        .join(worklist_pulls, worklist_pulls.c.pull_id == pull_assignments.c.pull_id)
        .where(
            (pull_assignments.c.customer_id == customer_id)
            & (pull_assignments.c.arm == "control")
            & (worklist_pulls.c.read_after > now)
        )
        .order_by(pull_assignments.c.pull_id.desc())
        .limit(1)
    )
    with store.engine.connect() as connection:
        found = connection.execute(query).scalar()
    return None if found is None else int(found)


def pull_rows(store: Store, pull_id: int | None = None) -> list[dict[str, Any]]:
    """Pulls, newest first (one, given its id)."""
    query = select(worklist_pulls).order_by(worklist_pulls.c.pull_id.desc())
    if pull_id is not None:
        query = query.where(worklist_pulls.c.pull_id == pull_id)
    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def assignments_frame(store: Store, pull_ids: list[int]) -> pd.DataFrame:
    """The assignments of ``pull_ids`` with each customer's churn date (the outcome)."""
    query = (
        select(
            pull_assignments,
            customers.c.churn_date,
        )
        .join(customers, customers.c.customer_id == pull_assignments.c.customer_id)
        .where(pull_assignments.c.pull_id.in_(pull_ids))
        .order_by(pull_assignments.c.pull_id, pull_assignments.c.position)
    )
    columns = [*(c.name for c in pull_assignments.columns), "churn_date"]
    with store.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=columns)
    frame["churn_date"] = pd.to_datetime(frame["churn_date"])
    return frame


def open_controls(store: Store, now: datetime) -> set[str]:
    """Customers held out as controls by pulls whose horizon has not passed."""
    query = (
        select(pull_assignments.c.customer_id)
        .join(worklist_pulls, worklist_pulls.c.pull_id == pull_assignments.c.pull_id)
        .where((worklist_pulls.c.read_after > now) & (pull_assignments.c.arm == "control"))
    )
    with store.engine.connect() as connection:
        return set(connection.execute(query).scalars())
