"""Wire models of what contact did (GET /v1/follow-ups/impact): the randomised comparison of
the worklist pulls first, the observational comparison of follow-ups second, labelled."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ArmRead(BaseModel):
    """Contact vs control once the horizon has passed: retention of each arm, the effect in
    percentage points unadjusted and CUPED-adjusted (on the pre-contact score), saves and
    revenue saved from the adjusted effect, each with its 95 % interval, and the minimum
    detectable effect at this size (80 % power). Numbers are absent when a group has no
    comparison (verdict "no holdout")."""

    contact: int
    control: int
    verdict: str = Field(
        description="contact helps, contact hurts, no measurable effect, too few to tell, "
        "no holdout"
    )
    message: str
    retained_contact: float | None = None
    retained_control: float | None = None
    effect_pts: float | None = Field(None, description="unadjusted, band-stratified")
    interval_pts: list[float] | None = None
    adjusted_effect_pts: float | None = Field(None, description="CUPED-adjusted: read this one")
    adjusted_interval_pts: list[float] | None = None
    saves: float | None = Field(None, description="adjusted effect × contacted")
    saves_interval: list[float] | None = None
    revenue_saved: float | None = Field(None, description="over the horizon, contact arm")
    revenue_saved_interval: list[float] | None = None
    mde_pts: float | None = Field(None, description="minimum detectable effect at this size")


class SplitRow(ArmRead):
    group: str
    label: str


class Split(BaseModel):
    by: str = Field(description="band, theme, owner, channel, or the customer attribute asked")
    randomised: bool = Field(
        description="false: not a randomised comparison (only contacted customers have one)"
    )
    note: str
    rows: list[SplitRow]


class PullImpact(ArmRead):
    """One pull: its read, or "too early" with the date it can be read."""

    pull_id: int
    pulled_at: datetime
    pulled_by: str | None
    holdout_share: float
    horizon_days: int
    read_after: datetime


class OverallImpact(ArmRead):
    pulls: int = Field(description="pulls whose horizon has passed")
    by_band: dict[str, ArmRead]
    splits: list[Split]


class RandomisedImpact(BaseModel):
    kind: str = "randomised"
    pulls: list[PullImpact]
    overall: OverallImpact | None = Field(description="null until a pull's horizon has passed")
    next_read_on: datetime | None = Field(description="when the next open pull can be read")
    message: str | None


class ObservationalEffect(BaseModel):
    model_config = ConfigDict(extra="allow")  # a split's row also has group and label

    contacted: int
    comparable: int
    unmatched_contacted: int
    contacted_retention: float | None
    comparable_retention: float | None
    effect_pts: float | None
    ci_low_pts: float | None
    ci_high_pts: float | None
    relative_churn_reduction: float | None
    verdict: str
    message: str | None = None


class ObservationalImpact(BaseModel):
    kind: str = "observational"
    label: str
    horizon_days: int
    contact_window_days: int
    score_runs: list[str]
    excluded: dict[str, int]
    overall: ObservationalEffect
    by: dict[str, list[ObservationalEffect]]


class ContactImpact(BaseModel):
    """What contact did: read ``randomised`` first; ``observational`` is second and labelled."""

    read_first: str = "randomised"
    message: str
    randomised: RandomisedImpact
    observational: ObservationalImpact
