"""The store: one database for every channel; the only place that writes SQL.

Modules, named for what they hold: ``database`` (the ``Store`` handle, staging),
``records`` (customers, feedback, ingestion runs, rejects), ``analysis`` (what the text
pipeline read), ``history`` (point-in-time reads for churn), ``scores``, ``keys``,
``followups``, ``metrics`` (CX metric aggregations); ``tables`` and ``migrations`` hold the
schema.
"""

from cxml.store import tables
from cxml.store.database import Store, content_hash

__all__ = ["Store", "content_hash", "tables"]
