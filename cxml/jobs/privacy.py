"""Privacy jobs: erase one customer, expire raw text under the retention policy, export
everything held about one customer. Each returns a typed result; none prints.

What erasure cannot reach is said with its result (``UNREACHABLE``): copies outside the
store and the MLflow runs of models already trained on the customer's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxml.settings import Settings
from cxml.store import Store
from cxml.store.audit import record_action
from cxml.store.privacy import allow_back, erase_customer, expire_text, subject_record
from cxml.store.records import customer

UNREACHABLE = (
    "not reached: database backups and copies made outside cxml (they age out with your "
    "backup retention), files exported earlier (at-risk lists, subject exports), and what "
    "models already trained learned from this customer's redacted words (listed; replaced "
    "at the next retrain)"
)


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure removed (rows per table), the keyed hash the customer is remembered
    by, and the model versions that had read their data."""

    customer_hash: str
    counts: dict[str, int]
    model_versions: tuple[str, ...]
    nothing_held: bool
    artifacts: int = 0  # rows removed from MLflow artifacts
    unreachable: str = UNREACHABLE

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_hash": self.customer_hash,
            "counts": self.counts,
            "model_versions": list(self.model_versions),
            "nothing_held": self.nothing_held,
            "artifact_rows": self.artifacts,
            "unreachable": self.unreachable,
        }


def erase(
    store: Store, settings: Settings, customer_id: str, *, actor: str, now: datetime
) -> ErasureResult:
    """Erase ``customer_id`` everywhere: first the rows of cxml's MLflow artifacts that hold
    them (held-out comments, annotated samples; while their words are still known), then every
    row in the store, unrecoverably, keeping them erased (``cxml.store.privacy``). A second
    call answers that nothing is held. MLflow unreachable: nothing is erased (retry)."""
    from cxml.store.records import feedback_frame
    from cxml.text.redact import redact
    from cxml.tracking import scrub_artifacts

    theirs = feedback_frame(store, customer_ids=[customer_id])
    texts = [t for t in theirs["text"].dropna().astype(str) if t.strip()]
    artifacts = scrub_artifacts(
        settings,
        ids=[customer_id, *theirs["feedback_id"].astype(str)],
        words=[*texts, *(redact(t)[0] for t in texts)],
    )
    done = erase_customer(store, customer_id, actor=actor, now=now, key=settings.privacy_key)
    return ErasureResult(
        done.customer_hash,
        done.counts,
        done.model_versions,
        done.nothing_held and not artifacts,
        artifacts=sum(artifacts.values()),
    )


@dataclass(frozen=True)
class RetentionResult:
    """Comments whose raw text expired now, per channel, and the policy applied."""

    expired: dict[str, int]
    policy: dict[str, int]


def apply_retention(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    policy: dict[str, int] | None = None,
    empty: bool = False,
) -> RetentionResult:
    """Replace raw text older than its channel's retention (``policy``, by default the
    ``text_retention_days`` setting) by its redacted form (``empty``: by nothing)."""
    from cxml.text.redact import redact

    chosen = dict(settings.text_retention_days if policy is None else policy)
    expired = expire_text(
        store, chosen, now=now, rewrite=(lambda _: "") if empty else (lambda t: redact(t)[0])
    )
    return RetentionResult(expired, chosen)


def export_subject(store: Store, customer_id: str, *, actor: str, now: datetime) -> dict[str, Any]:
    """Everything held about ``customer_id``, one document (the export itself is audited)."""
    customer(store, customer_id)  # NotFoundError for a customer not held
    record = subject_record(store, customer_id)
    record_action(
        store,
        actor=actor,
        action="export.subject",
        target=customer_id,
        at=now,
        detail={"customers": 1},
    )
    record["exported_at"] = now.isoformat()
    return record


def audit_read(
    store: Store, *, actor: str, what: str, now: datetime, customers: int, target: str | None = None
) -> None:
    """Record a read of personal data: which key, what, when, how many customers (never the
    words, e-mail addresses or phone numbers read)."""
    record_action(
        store,
        actor=actor,
        action=f"read.{what}",
        target=target,
        at=now,
        detail={"customers": customers},
    )


def take_back(
    store: Store, settings: Settings, customer_id: str, *, actor: str, now: datetime
) -> bool:
    """Take an erased customer who comes back on purpose off the suppression list (recorded);
    False when they were not on it."""
    return allow_back(store, customer_id, actor=actor, now=now, key=settings.privacy_key)
