"""The wire models: the contract the CRM codes against (JSON in and out, versioned under /v1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cxml.at_risk import EmptyReason
from cxml.contract import (
    CHANNELS,
    CUSTOMER_REQUIRED,
    FEEDBACK_REQUIRED,
    MAX_ID_CHARS,
    MAX_MONTHLY_VALUE,
    MAX_TENURE_MONTHS,
    SCORE_RANGES,
)
from cxml.corrections import INTENTS
from cxml.followups import Status
from cxml.scoring import Band
from serve.schemas_reports import IngestItem

CustomerId = Field(min_length=1, max_length=255, pattern=r"^[^\x00]+$", examples=["C000123"])


class Problem(BaseModel):
    """An error: what is wrong, where, and its code (see docs/errors.md)."""

    detail: str = Field(examples=["customers: 1,500 items; at most 1,000 in one request"])
    field: str | None = Field(default=None, examples=["customers"])
    code: str | None = Field(default=None, examples=["CX101"])


class InlineFeedback(BaseModel):
    """A piece of feedback sent with a score request (not stored)."""

    model_config = ConfigDict(extra="forbid")

    feedback_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(examples=["2026-11-20T09:30:00Z"])
    channel: str | None = Field(default=None, max_length=100, examples=["email"])
    text: str | None = Field(default=None, examples=["I'm thinking about cancelling."])
    nps: int | None = Field(default=None, ge=0, le=10)
    csat: int | None = Field(default=None, ge=1, le=5)
    ces: int | None = Field(default=None, ge=1, le=7)
    language: str | None = Field(default=None, max_length=20)


class ScoreItem(BaseModel):
    """A customer to score: by id (the store's data), or with attributes and feedback inline."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = CustomerId
    attributes: dict[str, str | int | float | bool | None] | None = Field(
        default=None,
        examples=[{"signup_date": "2024-03-01", "monthly_value": 49.0, "plan": "premium"}],
    )
    feedback: list[InlineFeedback] | None = None


class ScoreRequest(BaseModel):
    customers: list[ScoreItem] = Field(
        min_length=1,
        examples=[
            [
                {"customer_id": "C000001"},
                {
                    "customer_id": "X9",
                    "attributes": {
                        "signup_date": "2025-01-15",
                        "monthly_value": 30,
                        "plan": "basic",
                    },
                    "feedback": [
                        {
                            "created_at": "2026-11-20T10:00:00Z",
                            "channel": "chat",
                            "text": "Third outage this month, I want to cancel.",
                            "nps": 2,
                        }
                    ],
                },
            ]
        ],
    )


class Evidence(BaseModel):
    feedback_id: str
    date: str
    quote: str | None = Field(
        default=None, description="the customer's words (redacted); none for a bare score"
    )
    kind: str | None = Field(
        default=None,
        description="for churn intent (leave): cancel_account, switch, stop_using, "
        "never_again, threat or already_left",
    )
    span: list[int] | None = Field(
        default=None,
        description="character offsets [start, end) of the quote in the redacted comment",
    )


class Reason(BaseModel):
    """One driver of the score: signed contribution in log-odds, in plain words."""

    feature: str
    value: str | int | float | None
    contribution: float
    text: str = Field(examples=["gave 2/10 in the latest NPS survey in March 2026"])
    theme_label: str | None = None
    evidence: Evidence | None = None


class ItemError(BaseModel):
    status: int = Field(examples=[404])
    field: str | None = None
    value: str | None = None
    reason: str
    errors: list[dict[str, Any]] | None = None


class ScoreResult(BaseModel):
    """A score, or an item-level error (the batch itself did not fail)."""

    customer_id: str
    probability: float | None = None
    band: Band | None = None
    revenue_at_risk: float | None = None
    reasons: list[Reason] = []
    attribution: str | None = None
    model_version: str | None = None
    as_of: date | None = None
    scored_at: datetime | None = None
    features_as_of: datetime | None = None
    survival_30: float | None = Field(
        default=None, description="probability of still being a customer 30 days on"
    )
    survival_60: float | None = None
    survival_90: float | None = None
    expected_days: float | None = Field(
        default=None, description="expected days to churn within a year (time-to-churn model)"
    )
    recorded: bool = False
    reused: bool = Field(
        default=False,
        description="a score stored today from the same data and model, returned as it is",
    )
    error: ItemError | None = None


class ScoreResponse(BaseModel):
    results: list[ScoreResult]


class TextItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=255)
    text: str
    language: str | None = Field(default=None, max_length=20)


class AnalyzeRequest(BaseModel):
    texts: list[str | TextItem] = Field(
        min_length=1,
        examples=[["The app keeps crashing since the update.", "スタッフがとても親切でした。"]],
    )


class AnalyzeResponse(BaseModel):
    results: list[dict[str, Any]]
    model_version: str


def _id_schema(what: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS, "description": what}


def _score_schema(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


# What an item should hold, for clients and generators. The route checks each item against the
# ingestion contract itself, so an item that breaks these rules is answered in ``results`` with
# its errors (field, value, reason), never by refusing the batch.
FEEDBACK_ITEM: dict[str, Any] = {
    "type": "object",
    "required": list(FEEDBACK_REQUIRED),
    "properties": {
        "feedback_id": _id_schema("your id of the comment or response (idempotency key)"),
        "customer_id": _id_schema("the customer it came from"),
        "created_at": {"type": "string", "format": "date-time", "description": "ISO 8601"},
        "channel": {"type": "string", "description": f"one of {', '.join(CHANNELS)} or a synonym"},
        "text": {"type": "string"},
        **{name: _score_schema(*bounds) for name, bounds in SCORE_RANGES.items()},
        "language": {"type": "string", "description": "ISO 639 (detected when absent)"},
    },
    "additionalProperties": True,
}
CUSTOMER_ITEM: dict[str, Any] = {
    "type": "object",
    "required": list(CUSTOMER_REQUIRED),
    "properties": {
        "customer_id": _id_schema("your id of the customer"),
        "signup_date": {"type": "string", "format": "date"},
        "churn_date": {"type": "string", "format": "date"},
        "monthly_value": {"type": "number", "minimum": 0, "maximum": MAX_MONTHLY_VALUE},
        "tenure_months": {"type": "integer", "minimum": 0, "maximum": MAX_TENURE_MONTHS},
    },
    "additionalProperties": True,
    "description": "contract columns, and any other key as a customer attribute",
}


class FeedbackRequest(BaseModel):
    """Feedback rows under the ingestion contract (feedback_id, customer_id, created_at, …)."""

    feedback: list[dict[str, Any]] = Field(
        min_length=1,
        json_schema_extra={"items": FEEDBACK_ITEM},
        examples=[
            [
                {
                    "feedback_id": "crm-88121",
                    "customer_id": "C000001",
                    "created_at": "2026-11-20T10:00:00Z",
                    "channel": "email",
                    "text": "Billing charged me twice again.",
                    "csat": 1,
                }
            ]
        ],
    )


class FeedbackResponse(BaseModel):
    """The ingest report of a feedback batch, and one result per item in request order."""

    read: int
    accepted: int
    updated: int
    unchanged: int
    rejected: int
    held: int
    analysed: int
    results: list[IngestItem]


class FollowUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(default=None, max_length=200, examples=["aiko@retention"])
    status: Status = Status.OPEN
    note: str | None = Field(default=None, max_length=10_000)
    outcome: str | None = Field(default=None, max_length=10_000)
    channel: str | None = Field(
        default=None, max_length=30, description="how the customer is reached", examples=["phone"]
    )
    override_holdout: bool = Field(
        default=False,
        description="contact a customer held out as a control by an open pull anyway "
        "(recorded; otherwise refused with 409 CX108)",
    )


class FollowUpPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(default=None, max_length=200)
    status: Status | None = None
    note: str | None = Field(default=None, max_length=10_000)
    outcome: str | None = Field(default=None, max_length=10_000, examples=["stayed: 20 % discount"])
    channel: str | None = Field(default=None, max_length=30, examples=["email"])


class FollowUp(BaseModel):
    follow_up_id: int
    customer_id: str
    owner: str | None
    status: str
    note: str | None
    outcome: str | None
    channel: str | None = None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    due_at: datetime | None = None
    escalated_at: datetime | None = None
    history: list[dict[str, Any]]


class OverdueFollowUp(BaseModel):
    follow_up_id: int
    customer_id: str
    owner: str | None
    status: str
    note: str | None
    created_at: datetime
    due_at: datetime
    escalated_at: datetime | None
    days_overdue: int


class OverdueList(BaseModel):
    items: list[OverdueFollowUp]


class AtRiskItem(BaseModel):
    customer_id: str
    probability: float
    band: str
    revenue_at_risk: float | None
    reasons: list[Reason]
    attribution: str
    model_version: str
    as_of: date
    scored_at: datetime
    survival_30: float | None = None
    survival_60: float | None = None
    survival_90: float | None = None
    expected_days: float | None = None
    monthly_value: float | None
    attributes: dict[str, Any]
    follow_up: dict[str, Any] | None
    expected_saved: float | None = Field(
        default=None,
        description="revenue at risk × the share of churn contact saves in this band (worklist)",
    )


class AtRiskPage(BaseModel):
    items: list[AtRiskItem]
    next: str | None = Field(description="pass as ?cursor= for the next page; null at the end")
    empty_reason: EmptyReason | None = Field(
        default=None,
        description="why the list is empty (null when it is not, and on pages after the "
        "first): no_customers (none in the store yet), no_churn_model (none scored, and no "
        "churn model to score with), no_scores (none scored yet), no_active_scores (every "
        "customer scored has left), no_match (nobody scored and active matches the filters)",
    )
    message: str | None = Field(
        default=None,
        description="the same in words, with what to do (the command to run); null when the "
        "list is not empty",
        examples=["no scores yet: run `cxml score` (or POST /v1/score with the customers' ids)"],
    )


class CustomerStory(BaseModel):
    customer_id: str
    signup_date: date
    churn_date: date | None
    monthly_value: float | None
    attributes: dict[str, Any]
    score: dict[str, Any] | None
    score_history: list[dict[str, Any]] = Field(
        default_factory=list, description="the customer's scores, latest as-of date first"
    )
    follow_ups: list[FollowUp]
    timeline: list[dict[str, Any]]


class Erasure(BaseModel):
    """What an erasure removed; a second call answers ``nothing_held``."""

    customer_hash: str = Field(description="the keyed hash the customer is remembered by")
    counts: dict[str, int] = Field(description="rows removed per table")
    model_versions: list[str] = Field(description="models that had read their data")
    nothing_held: bool
    artifact_rows: int = Field(description="rows removed from MLflow artifacts")
    unreachable: str = Field(description="what erasure cannot reach, and how it ages out")


class SubjectExport(BaseModel):
    """Everything held about one customer; ``about`` says what each part holds."""

    customer_id: str
    about: dict[str, str]
    exported_at: str
    customer: dict[str, Any] | None
    feedback: list[dict[str, Any]]
    analyses: list[dict[str, Any]]
    themes: list[dict[str, Any]]
    scores: list[dict[str, Any]]
    follow_ups: list[dict[str, Any]]
    held_or_refused_rows: list[dict[str, Any]]
    reads: list[dict[str, Any]]


class PullCreate(BaseModel):
    """A worklist pull: how many to contact, and the holdout (default: the server's setting)."""

    model_config = ConfigDict(extra="forbid")

    capacity: int = Field(ge=1, le=5000, description="how many the team will contact")
    holdout_share: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="share held out per band (default: setting)"
    )
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="for reproducibility")


class PulledCustomer(BaseModel):
    customer_id: str
    band: str
    arm: str = Field(description="contact, or control (held out: do not contact)")
    pre_contact_score: float = Field(description="churn probability when pulled")
    revenue_at_risk: float | None
    reasons: list[Reason]
    note: str | None


class Pull(BaseModel):
    """A recorded pull: who, when, the seed and share of the holdout, and every customer's arm."""

    pull_id: int | None = Field(description="null when nobody could be pulled (see message)")
    pulled_at: datetime
    pulled_by: str | None
    holdout_share: float
    seed: int
    horizon_days: int
    read_after: datetime
    model_version: str | None
    contact: int
    control: int
    skipped_in_open_pulls: int
    items: list[PulledCustomer]
    message: str | None = None


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, examples=["https://crm.example.com/hooks/cxml"])
    events: list[str] = Field(min_length=1, examples=[["customer.high_risk", "pull.readable"]])
    include_text: bool = Field(
        default=False, description="add feedback words to payloads that have them (off: never)"
    )


class WebhookEndpoint(BaseModel):
    endpoint_id: str
    url: str
    events: list[str]
    include_text: bool
    created_at: datetime
    created_by: str | None
    disabled_at: datetime | None


class WebhookCreated(WebhookEndpoint):
    secret: str = Field(
        description="signs every delivery (HMAC-SHA256 of 'timestamp.body'); shown only now"
    )


class WebhookList(BaseModel):
    items: list[WebhookEndpoint]


class WebhookDelivery(BaseModel):
    delivery_id: int
    endpoint_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    status: str = Field(description="pending, delivered or failed (after the retry limit)")
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


class WebhookDeliveries(BaseModel):
    items: list[WebhookDelivery]


class WebhookEvent(BaseModel):
    """What a receiver gets: the body of every delivery (signed; see the README)."""

    event_id: str = Field(description="the same on every retry: deduplicate by it")
    type: str = Field(examples=["pull.readable"])
    created_at: datetime
    payload: dict[str, Any]


class IntentCorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: str = Field(
        max_length=50,
        description="the intent corrected (required): leave (churn intent), competitor, "
        "effort or callback",
        json_schema_extra={"enum": list(INTENTS)},
        examples=["leave"],
    )
    verdict: str = Field(
        max_length=50,
        description="not (the intent is not there), or for leave the right kind "
        "(cancel_account, switch, stop_using, never_again, threat, already_left, or a "
        "taxonomy's), for the others yes",
        examples=["not", "switch"],
    )
    note: str | None = Field(default=None, max_length=2_000)


class IntentCorrection(BaseModel):
    correction_id: int
    feedback_id: str
    customer_id: str
    intent: str
    verdict: str
    language: str | None
    text: str = Field(description="the redacted comment the correction applies to")
    span_start: int | None = Field(description="the corrected clause in text, when one was read")
    span_end: int | None
    detected: str | None = Field(description="what the text pipeline had read (kind or intent)")
    model_version: str | None
    note: str | None
    created_by: str
    created_at: datetime
    superseded_at: datetime | None = None
    status: str | None = Field(
        default=None,
        description="recorded, replaced (an earlier verdict kept as history) or unchanged",
    )


class IntentCorrectionList(BaseModel):
    items: list[IntentCorrection]
    kinds: list[str] = Field(description="the churn-intent kinds a correction may name")
