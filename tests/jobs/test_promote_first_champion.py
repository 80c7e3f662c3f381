"""The promote job's record of a first champion (``cxml.jobs.promote``)."""

from __future__ import annotations

from datetime import datetime

from cxml.jobs.promote import announce_first_champion
from cxml.store import Store
from cxml.store.audit import audit_rows

AT = datetime(2026, 3, 1, 9, 30)


def test_a_first_champion_is_in_the_audit_log_once_with_who_and_why(store: Store) -> None:
    announce_first_champion(store, "cxml-churn", "1", now=AT, actor="cli:ana")
    announce_first_champion(store, "cxml-churn", "1", now=AT, actor="cli:ana")  # a rerun
    announce_first_champion(store, "cxml-text", "1", now=AT)

    rows = audit_rows(store, action="model.promoted")
    assert sorted(r["target"] for r in rows) == ["cxml-churn/1", "cxml-text/1"]
    churn = next(r for r in rows if r["target"] == "cxml-churn/1")
    assert churn["actor"] == "cli:ana" and churn["at"] == AT
    assert churn["detail"]["reason"] == "the first version: there was no champion"
    assert next(r for r in rows if r["target"] == "cxml-text/1")["actor"] == "cxml"
    assert audit_rows(store, kind="read") == []  # an admin action, not a read of personal data
