"""Wire models of the report, ingest, model and admin answers, and of the webhook payloads:
the rest of the contract the CRM codes against (see ``serve/schemas.py`` for the first part).

The routes answer dicts the library builds; these models name and document their keys so a
generated client has real types. Rows whose keys vary with the request (a metric split by
channel or plan, a driver table for NPS or churn) allow extra keys, and their routes answer
with ``response_model_exclude_unset=True``: a key the library did not put in is not added, so
the JSON is the same as before the models existed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """A documented object that may carry more keys than it names (kept as they are)."""

    model_config = ConfigDict(extra="allow")


# --- health and config ---------------------------------------------------------------------


class Liveness(BaseModel):
    status: Literal["ok"] = Field(examples=["ok"])


class Readiness(BaseModel):
    """Whether both models are loaded (503 otherwise), and what is missing."""

    ready: bool
    churn_model: str | None = Field(description="the churn model's version; null: none loaded")
    text_model: str | None
    problems: list[str] = Field(description="why a model did not load")


class ServiceConfig(BaseModel):
    """What a client needs to present cxml's numbers."""

    currency: str = Field(examples=["USD"], description="of every money amount")
    languages: list[str] = Field(description="languages reasons can be written in (?lang=)")
    segments: list[str] = Field(description="customer attributes to filter and group by")
    response_segments: list[str] = Field(
        description="columns kept with each survey response (NPS, CSAT, CES group by them)"
    )
    horizon_days: int | None = Field(description="the churn model's horizon; null: no model")
    scopes: list[str] = Field(description="the calling key's scopes")
    version: str


# --- ingest -------------------------------------------------------------------------------


class IngestError(Open):
    field: str | None = None
    value: Any = None
    reason: str


class IngestItem(Open):
    """One sent row's fate: its id and status (accepted, updated, unchanged, rejected, held),
    with the errors of a refused row."""

    feedback_id: str | None = Field(default=None, description="for feedback rows")
    customer_id: str | None = Field(default=None, description="for customer rows")
    status: str = Field(examples=["accepted"])
    errors: list[IngestError] | None = None


class CustomersSent(BaseModel):
    """The ingest report of a customers batch, and one result per row in request order."""

    kind: str = Field(examples=["customers"])
    source: str = Field(description="the batch's name: the same batch sent again is the same")
    run_id: int
    read: int
    accepted: int
    updated: int
    unchanged: int
    rejected: int
    held: int
    released: int = Field(description="held feedback released by these customers")
    seconds: float
    rejects_file: str | None
    results: list[IngestItem]


# --- at-risk summary, metrics, drivers, alerts ---------------------------------------------


class BandTotals(BaseModel):
    band: str
    customers: int
    revenue_at_risk: float
    mean_probability: float


class UnscoredCustomers(BaseModel):
    """Active customers without a score, by why (the three add up to ``unscored_customers``)."""

    joined_after_snapshot: int = Field(
        description="signed up on or after `scored_as_of`: no scoring run saw them yet"
    )
    loaded_after_scoring: int = Field(
        description="signed up before `scored_as_of`, loaded into the store after the latest "
        "scoring run"
    )
    never_scored: int = Field(
        description="the rest: every active customer before the first score; later, those "
        "the runs left out (e.g. when only some were scored one by one through the API)"
    )


class AtRiskSummary(BaseModel):
    """Active customers per band by their latest score; the totals leave the low band out.

    The bands count scored customers only: ``scored_customers`` of ``active_customers`` (the
    rest, ``unscored_customers``, are in no band; ``unscored`` says why)."""

    churn_data: bool = Field(description="false when the store holds no churn yet")
    message: str | None = Field(description="what to do when there is no churn data")
    bands: list[BandTotals]
    customers: int = Field(description="active customers with a score: those in the bands")
    at_risk_customers: int = Field(description="customers outside the low band")
    revenue_at_risk: float = Field(description="outside the low band, in `currency`")
    currency: str
    store_customers: int = Field(
        description="customers the store holds, churned included (anonymous survey "
        "respondents are not customers)"
    )
    active_customers: int = Field(description="of them, those who have not churned by today")
    scored_customers: int = Field(
        description="active customers with a score (the same as `customers`)"
    )
    unscored_customers: int = Field(description="active customers without a score yet")
    unscored: UnscoredCustomers
    scored_as_of: date | None = Field(
        description="the latest as-of date of the scores (null: nothing scored yet)"
    )


class MetricRow(Open):
    """One group's figure. Its keys: the groups asked for (``period``, ``channel``, a theme or
    attribute name), the metric's own column (``nps``, ``csat``, ``ces``, ``churn_rate``,
    ``retention_rate``) and its companions, the 95 % interval, ``n`` and ``small``."""

    ci_low: float | None = Field(default=None, description="95 % interval, low end")
    ci_high: float | None = None
    n: int | None = Field(default=None, description="responses (or customers) counted")
    small: bool | None = Field(default=None, description="too few to trust (n below 30)")


class MetricTable(BaseModel):
    """A metric per group; for churn figures ``churn_data`` and, without data, a message; for a
    survey metric nobody answered (in the days asked), no rows and a message saying why."""

    metric: str = Field(examples=["nps"])
    rows: list[MetricRow]
    churn_data: bool | None = None
    message: str | None = None


class DriverRow(Open):
    """A theme's impact: on NPS (``impact`` in points, with its interval) or on churn
    (``excess_churn_comparable`` in points, with its interval)."""

    theme: str | None = None
    theme_label: str | None = None


class DriverTable(BaseModel):
    target: str = Field(examples=["nps"])
    rows: list[DriverRow]
    churn_data: bool | None = None
    message: str | None = None


class AlertRow(Open):
    """A theme's share in the latest period against its baseline periods (z-test)."""

    period: str
    baseline: str = Field(description="the baseline periods, first..last")
    theme: str
    theme_label: str | None = None
    count: int
    share_pct: float | None = None
    baseline_share_pct: float | None = None
    share_change_pts: float | None = None
    z: float | None = None
    sentiment: float | None = None
    baseline_sentiment: float | None = None
    sentiment_change: float | None = None
    alert: bool


class AlertTable(BaseModel):
    rows: list[AlertRow]


# --- models --------------------------------------------------------------------------------


class ServingChurnModel(Open):
    version: str | None
    source: str | None = Field(description="registry:<name>@champion:<version>, or a bundle")
    horizon_days: int | None = None


class ServingTextModel(Open):
    version: str | None
    source: str | None


class ServingModels(BaseModel):
    """The models serving in this worker, and why one is missing."""

    churn: ServingChurnModel | None
    text: ServingTextModel
    loaded_at: float | None = Field(description="Unix time the models were loaded")
    problems: list[str]


class ReloadedModels(ServingModels):
    note: str = Field(description="how soon the other workers follow")


class ModelVersion(Open):
    """A registered version, its grades on its own yardstick and the champion's on the same."""

    version: str
    run_id: str | None = None
    champion: bool
    yardstick: str | None = None
    grades: dict[str, float | None] = Field(default_factory=dict)
    champion_version_compared: str | None = None
    champion_grades: dict[str, float | None] = Field(default_factory=dict)


class ModelVersions(BaseModel):
    model: str = Field(examples=["churn"])
    versions: list[ModelVersion] = Field(description="oldest first")


class Promotion(BaseModel):
    """The gate's decision: a refusal is an answer too (``promoted`` false, and why)."""

    promoted: bool
    reason: str
    challenger: str
    champion: str | None
    challenger_score: float | None
    champion_score: float | None
    model: str = Field(examples=["cxml-churn"])
    comparison: list[str] = Field(description="one line per grade compared")
    lineage: list[str] = Field(description="what the challenger does to the champion's themes")


# --- admin ---------------------------------------------------------------------------------


class AuditEntry(BaseModel):
    audit_id: int
    at: datetime
    actor: str | None
    action: str = Field(examples=["model.promoted"])
    target: str | None
    detail: dict[str, Any] | None


class AuditLog(BaseModel):
    items: list[AuditEntry] = Field(description="newest first")


class Redelivery(BaseModel):
    delivery_id: int
    status: Literal["pending"]


# --- drift and survival --------------------------------------------------------------------


class DriftPeriod(Open):
    label: str
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")


class MixShare(Open):
    value: str
    label: str | None = None
    reference_n: int
    current_n: int
    reference_share: float
    current_share: float


class MixDrift(Open):
    """How one mix (themes, sentiment, languages, channels) moved: PSI and a chi-square test."""

    psi: float | None = None
    band: str | None = Field(default=None, description="stable, moderate or significant")
    drifted: bool | None = None
    rows: list[MixShare] = Field(default_factory=list)


class FeatureDrift(Open):
    feature: str
    psi: float | None = None
    band: str | None = None


class DriftCheckAlert(Open):
    check: str
    band: str | None = None
    message: str


class DriftReport(Open):
    """Two periods compared: mixes, churn features, the churn model's realised performance,
    and the alerts raised."""

    reference: DriftPeriod
    current: DriftPeriod
    model_version: str | None = None
    mixes: dict[str, MixDrift] = Field(default_factory=dict)
    features: list[FeatureDrift] = Field(default_factory=list)
    performance: dict[str, Any] | None = None
    alerts: list[DriftCheckAlert] = Field(default_factory=list)


class SurvivalCurve(BaseModel):
    group: str
    customers: int
    days: list[int]
    survival: list[float] = Field(description="share still customers on each of `days`")


class SurvivalCurves(BaseModel):
    by: str
    as_of: date
    model_version: str | None
    groups: list[SurvivalCurve] = Field(description="soonest to leave first")


# --- themes --------------------------------------------------------------------------------


class ThemeTrendPoint(Open):
    period: str
    count: int


class ThemeOverview(Open):
    """A theme: volume, sentiment, impact on NPS and churn (95 % intervals), at-risk
    customers and revenue, monthly trend and the emerging alert."""

    theme_id: str
    label: str
    comments: int | None = None
    customers: int | None = None
    at_risk_customers: int | None = None
    revenue_at_risk: float | None = None
    alert: bool | None = None
    trend: list[ThemeTrendPoint] | None = None


class ThemeList(BaseModel):
    themes: list[ThemeOverview]
    currency: str
    message: str | None = Field(description="what to do when no themes are read yet")


class ThemeComment(Open):
    feedback_id: str
    customer_id: str
    created_at: datetime
    channel: str | None = None
    text: str | None = Field(default=None, description="redacted unless the key has pii")
    language: str | None = None
    span: list[int] | None = Field(
        default=None, description="the evidence: offsets [start, end) in the redacted text"
    )


class ThemeComments(BaseModel):
    theme_id: str
    items: list[ThemeComment]
    next: str | None = Field(description="pass as ?cursor= for the next page; null at the end")


# --- webhook payloads ----------------------------------------------------------------------


class CustomerHighRisk(BaseModel):
    """customer.high_risk: a customer entered the high band at a score run."""

    customer_id: str
    probability: float
    band: str = Field(examples=["high"])
    previous_band: str | None = Field(description="null: not scored before")
    revenue_at_risk: float | None
    model_version: str
    as_of: date


class FollowUpOverdue(BaseModel):
    """follow_up.overdue: an open follow-up passed its due date (sent once when it does), or
    was escalated to a second owner (sent again, ``escalated`` true)."""

    follow_up_id: int
    customer_id: str
    due_at: datetime
    previous_owner: str | None = Field(description="the owner before an escalation, else null")
    owner: str | None = Field(description="who owns it now (after an escalation: whom to)")
    escalated: bool = Field(description="false: it just passed its due date; true: handed on")


class ModelPromoted(BaseModel):
    """model.promoted: a model version became champion."""

    model: str = Field(examples=["cxml-churn"])
    version: str
    reason: str


class DriftAlert(BaseModel):
    """drift.alert: a kept drift check raised alerts (read them at GET /v1/drift)."""

    reference: str = Field(description="the reference period's label")
    current: str
    alerts: int = Field(description="how many alerts")


class ThemeEmerging(BaseModel):
    """theme.emerging: a theme is growing faster than usual."""

    theme_id: str
    label: str
    language: str | None
    period: str
    count: int = Field(description="comments raising it in `period`")
    baseline: float | None = Field(
        description="its share of comments in the baseline periods, % (null: none then)"
    )
    growth: float | None = Field(description="change of its share since, percentage points")


class PullReadable(BaseModel):
    """pull.readable: a worklist pull's horizon has passed; read it at GET /v1/worklist/pulls."""

    pull_id: int
    read_after: datetime


class _Event(BaseModel):
    """The envelope of every delivery: the event's id, type, time and payload."""

    event_id: str = Field(description="the same on every retry: deduplicate by it")
    created_at: datetime


class CustomerHighRiskEvent(_Event):
    """customer.high_risk: a customer entered the high band at a score run."""

    type: Literal["customer.high_risk"]
    payload: CustomerHighRisk


class FollowUpOverdueEvent(_Event):
    """follow_up.overdue: an open follow-up passed its due date, or was escalated."""

    type: Literal["follow_up.overdue"]
    payload: FollowUpOverdue


class ModelPromotedEvent(_Event):
    """model.promoted: a model version became champion."""

    type: Literal["model.promoted"]
    payload: ModelPromoted


class DriftAlertEvent(_Event):
    """drift.alert: a kept drift check raised alerts."""

    type: Literal["drift.alert"]
    payload: DriftAlert


class ThemeEmergingEvent(_Event):
    """theme.emerging: a theme is growing faster than usual."""

    type: Literal["theme.emerging"]
    payload: ThemeEmerging


class PullReadableEvent(_Event):
    """pull.readable: a worklist pull's horizon has passed."""

    type: Literal["pull.readable"]
    payload: PullReadable


#: Each event type and the body a receiver gets for it (signed; see the README).
EVENT_BODIES: dict[str, type[_Event]] = {
    "customer.high_risk": CustomerHighRiskEvent,
    "follow_up.overdue": FollowUpOverdueEvent,
    "model.promoted": ModelPromotedEvent,
    "drift.alert": DriftAlertEvent,
    "theme.emerging": ThemeEmergingEvent,
    "pull.readable": PullReadableEvent,
}
