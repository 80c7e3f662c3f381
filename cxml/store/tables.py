"""The store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")
ID = String(255)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", ID, primary_key=True),
    Column("signup_date", Date, nullable=False),
    Column("churn_date", Date, nullable=True),
    Column("monthly_value", Float, nullable=True),
    Column("attributes", JSONType, nullable=False),
    Column("content_hash", BigInteger, nullable=False),
    Column("source", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", ID, primary_key=True),
    Column("customer_id", ID, ForeignKey("customers.customer_id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("channel_original", Text, nullable=True),
    Column("text", Text, nullable=True),
    Column("nps", SmallInteger, nullable=True),
    Column("csat", SmallInteger, nullable=True),
    Column("ces", SmallInteger, nullable=True),
    Column("language", String(20), nullable=True),
    # The respondent at this response: the file's columns outside the contract (NULL: none).
    Column("attributes", JSONType, nullable=True),
    Column("content_hash", BigInteger, nullable=False),
    Column("source", Text, nullable=True),
    Column("ingested_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # When a retention policy replaced the raw text by its redacted form (NULL: raw as sent).
    Column("text_expired_at", DateTime, nullable=True),
    Index("ix_feedback_customer_created", "customer_id", "created_at"),
    Index("ix_feedback_created", "created_at"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("counts", JSONType, nullable=True),
)

rejects = Table(
    "rejects",
    metadata,
    Column("reject_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("ingest_runs.run_id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("row", Integer, nullable=False),
    Column("field", Text, nullable=True),
    Column("value", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("errors", JSONType, nullable=False),
    Column("raw", JSONType, nullable=False),
    # Feedback held until its customer arrives: the normalised row, ready to store.
    Column("held", Boolean, nullable=False, default=False),
    Column("customer_id", ID, nullable=True),
    Column("normalized", JSONType, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_rejects_source", "kind", "source"),
    Index("ix_rejects_held_customer", "held", "customer_id"),
)

# What the text pipeline read in each comment (written by `cxml analyze --store`).
feedback_analysis = Table(
    "feedback_analysis",
    metadata,
    Column("feedback_id", ID, ForeignKey("feedback.feedback_id"), primary_key=True),
    Column("language", String(20), nullable=True),
    Column("sentiment_label", String(10), nullable=True),
    Column("sentiment_score", Float, nullable=True),
    Column("intents", JSONType, nullable=False),
    Column("model_version", String(50), nullable=False),
    Column("analysed_at", DateTime, nullable=False),
)

feedback_themes = Table(
    "feedback_themes",
    metadata,
    Column("feedback_id", ID, ForeignKey("feedback.feedback_id"), primary_key=True),
    Column("theme_id", String(100), primary_key=True),
    Column("theme_label", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("sentiment_score", Float, nullable=True),
    # The evidence: character offsets in the comment's redacted text (None for ``other``).
    Column("span_start", Integer, nullable=True),
    Column("span_end", Integer, nullable=True),
    Index("ix_feedback_themes_theme", "theme_id"),
)


def _score_columns(key: tuple[str, ...]) -> list[Column[Any]]:
    """A score's columns; ``key`` names those of the primary key."""
    return [
        Column("customer_id", ID, ForeignKey("customers.customer_id"), primary_key=True),
        Column("as_of", Date, primary_key="as_of" in key, nullable=False),
        Column("model_version", String(50), primary_key="model_version" in key, nullable=False),
        Column("probability", Float, nullable=False),
        # The model's full score on the probability scale, unrounded: the at-risk list's order
        # (the calibrated probability has plateaus). Scores from before it: the probability.
        Column("ranking_score", Float, nullable=True),
        Column("band", String(10), nullable=False),
        Column("revenue_at_risk", Float, nullable=True),
        Column("reasons", JSONType, nullable=False),
        Column("attribution", String(30), nullable=False),
        Column("scored_at", DateTime, nullable=False),
        # The instant the features were cut at (nothing on or after it was read); older: NULL.
        Column("features_as_of", DateTime, nullable=True),
        # Time to churn, when the model has a survival companion: still a customer 30/60/90
        # days on, and the expected days to churn within a year.
        Column("survival_30", Float, nullable=True),
        Column("survival_60", Float, nullable=True),
        Column("survival_90", Float, nullable=True),
        Column("expected_days", Float, nullable=True),
    ]


# Churn scores, one row per customer, as-of date and model version (the history).
scores = Table(
    "scores",
    metadata,
    *_score_columns(key=("customer_id", "as_of", "model_version")),
    Index("ix_scores_as_of_ranking", "as_of", "ranking_score"),
    Index("ix_scores_customer_scored", "customer_id", "scored_at"),
)

# Each customer's score with the latest as-of date (ties: latest features_as_of, then
# scored_at), kept by every write to ``scores`` in the same transaction: the at-risk list,
# its summary and the worklist read one row per customer instead of ranking the whole history.
latest_scores = Table(
    "latest_scores",
    metadata,
    *_score_columns(key=("customer_id",)),
)
# The at-risk list's two sorts, each with its tie-breaks, so a page reads its rows in index
# order: by ranking score (ties: revenue at risk), and by revenue at risk (customers without a
# monthly value last; ties: ranking score); the customer id last only makes the order total
# for the page cursor. Revenue is written as the query writes it: a constant, not a bound
# parameter, or SQLite would not match it.
Index(
    "ix_latest_scores_ranking",
    latest_scores.c.ranking_score,
    func.coalesce(latest_scores.c.revenue_at_risk, literal_column("-1.0")),
    latest_scores.c.customer_id,
)
Index(
    "ix_latest_scores_revenue",
    func.coalesce(latest_scores.c.revenue_at_risk, literal_column("-1.0")),
    latest_scores.c.ranking_score,
    latest_scores.c.customer_id,
)

# API keys: only a hash of the secret is kept; the key is shown once when created.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSONType, nullable=False),
    Column("name", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
)

# Closing the loop with at-risk customers and detractors; every change is kept as an event.
follow_ups = Table(
    "follow_ups",
    metadata,
    Column("follow_up_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", ID, ForeignKey("customers.customer_id"), nullable=False),
    Column("owner", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("note", Text, nullable=True),
    Column("outcome", Text, nullable=True),
    Column("channel", String(30), nullable=True),  # how the customer was reached: phone, email …
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("created_by", String(32), nullable=True),
    # When it should be done, from the customer's band (NULL: opened before due dates), and
    # when it was handed to a second owner for being overdue.
    Column("due_at", DateTime, nullable=True),
    Column("escalated_at", DateTime, nullable=True),
    Index("ix_follow_ups_customer", "customer_id", "updated_at"),
    Index("ix_follow_ups_due", "status", "due_at"),
)

follow_up_events = Table(
    "follow_up_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("follow_up_id", Integer, ForeignKey("follow_ups.follow_up_id"), nullable=False),
    Column("changed_at", DateTime, nullable=False),
    Column("changed_by", String(32), nullable=True),
    Column("changes", JSONType, nullable=False),
    Index("ix_follow_up_events_follow_up", "follow_up_id"),
)

# Who did what, when: keys made and revoked, models promoted and reloaded (follow-up changes
# have their own trail in follow_up_events).
audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("target", Text, nullable=True),
    Column("detail", JSONType, nullable=False),
    Index("ix_audit_log_at", "at"),
)

# Drift checks (`cxml drift`): the whole report as JSON, newest served by GET /v1/drift.
drift_reports = Table(
    "drift_reports",
    metadata,
    Column("report_id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    Column("reference", String(50), nullable=False),
    Column("current", String(50), nullable=False),
    Column("alerts", Integer, nullable=False),
    Column("report", JSONType, nullable=False),
    Index("ix_drift_reports_created", "created_at"),
)


# Customers erased on request (privacy operations): only a keyed hash of the id, so an old file
# that holds them cannot bring them back silently; no personal data.
suppressed_customers = Table(
    "suppressed_customers",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("erased_at", DateTime, nullable=False),
    Column("erased_by", String(100), nullable=False),
    Column("counts", JSONType, nullable=False),
    # The model versions that had read the customer's data (replaced at the next retrain).
    Column("model_versions", JSONType, nullable=False),
)

# The store's own secrets: the key of the suppression hash when CXML_PRIVACY_KEY is not set.
store_secrets = Table(
    "store_secrets",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# Worklist pulls (issue #27): a list pulled for action, with a randomised holdout decided then.
worklist_pulls = Table(
    "worklist_pulls",
    metadata,
    Column("pull_id", Integer, primary_key=True, autoincrement=True),
    Column("pulled_at", DateTime, nullable=False),
    Column("pulled_by", String(100), nullable=True),
    Column("capacity", Integer, nullable=False),
    Column("holdout_share", Float, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("model_version", String(50), nullable=True),
    Column("horizon_days", Integer, nullable=False),
    # The pull's outcome can be read once its horizon has passed.
    Column("read_after", DateTime, nullable=False),
    # When subscribers were told the pull can be read (webhook pull.readable).
    Column("readable_announced_at", DateTime, nullable=True),
    Index("ix_worklist_pulls_read_after", "read_after"),
)

# Each pulled customer's arm (contact or control) and risk at the pull (the adjustment's
# covariate), in the list's order.
pull_assignments = Table(
    "pull_assignments",
    metadata,
    Column("pull_id", Integer, ForeignKey("worklist_pulls.pull_id"), primary_key=True),
    Column("customer_id", ID, ForeignKey("customers.customer_id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("band", String(10), nullable=False),
    Column("arm", String(10), nullable=False),
    Column("pre_contact_score", Float, nullable=False),
    Column("revenue_at_risk", Float, nullable=True),
    Column("monthly_value", Float, nullable=True),
    Index("ix_pull_assignments_customer", "customer_id"),
)


# Webhooks (issue #27 §5): endpoints admins registered, and the outbox of deliveries, written in
# the transaction of the event itself and delivered at least once by the server's worker.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("endpoint_id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", JSONType, nullable=False),
    # The signing secret: shown once when registered; kept to sign (it cannot be hashed).
    Column("secret", String(128), nullable=False),
    Column("include_text", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(100), nullable=True),
    Column("disabled_at", DateTime, nullable=True),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(32), ForeignKey("webhook_endpoints.endpoint_id"), nullable=False),
    Column("event_id", String(32), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(10), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_attempt_at", DateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", DateTime, nullable=True),
    Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
    Index("ix_webhook_outbox_endpoint", "endpoint_id", "delivery_id"),
    # An event reaches an endpoint once: events with a deterministic id (a theme emerging in a
    # period, a customer entering the high band on a day) are not queued again by a rerun.
    Index("ux_webhook_outbox_event", "endpoint_id", "event_id", unique=True),
)

# People correcting an intent the text pipeline read (or missed) in a comment: who, when, on
# which text. A later correction of the same (feedback, intent) supersedes the earlier one,
# which is kept with ``superseded_at`` set (the history). `cxml train text` learns from them.
intent_corrections = Table(
    "intent_corrections",
    metadata,
    Column("correction_id", Integer, primary_key=True, autoincrement=True),
    Column("feedback_id", ID, ForeignKey("feedback.feedback_id"), nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("intent", String(50), nullable=False),
    Column("verdict", String(50), nullable=False),  # ``not``, or the right kind (leave), ``yes``
    Column("language", String(20), nullable=True),
    # The redacted comment and, when the correction is about one clause, its offsets there.
    Column("text", Text, nullable=False),
    Column("span_start", Integer, nullable=True),
    Column("span_end", Integer, nullable=True),
    Column("detected", String(50), nullable=True),  # what the pipeline had said (kind / intent)
    Column("model_version", String(50), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("superseded_at", DateTime, nullable=True),
    Index("ix_intent_corrections_item", "feedback_id", "intent"),
    Index("ix_intent_corrections_created", "created_at"),
)
