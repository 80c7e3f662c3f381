"""Response models of the worklist ranked by who is moved by a call (uplift, issue #27)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from serve.schemas import AtRiskItem


class SegmentRetention(BaseModel):
    """Observed retention of a band's contacted vs held-out customers in past pulls."""

    retained_contact: float | None
    retained_control: float | None
    contact: int
    control: int


class UpliftEstimate(BaseModel):
    """How much a call changes this customer's chance to stay (retention with a call minus
    without), with an 80 % interval over the model's bootstrap fits."""

    estimate: float = Field(examples=[0.08])
    low: float
    high: float
    push_away: bool = Field(description="the estimate is negative: a call may push them away")
    note: str | None = Field(
        description="in the language asked (lang)", examples=["a call may push them away"]
    )
    segment: SegmentRetention | None = Field(
        description="the band's observed contact vs control retention in past pulls"
    )


class WorklistItem(AtRiskItem):
    uplift: UpliftEstimate | None = Field(
        default=None, description="present when the list is ranked by uplift"
    )


class UpliftStatus(BaseModel):
    """Whether the list is ranked by uplift or by risk, and why."""

    ranked_by: Literal["uplift", "risk"]
    reason: str = Field(
        description="in the language asked (lang)",
        examples=[
            "ranked by risk: 120 randomised outcomes (60 contacted, 60 held out), 200 per arm needed"
        ],
    )
    outcomes: int = Field(description="randomised outcomes: pulled customers past the horizon")
    contact: int
    control: int
    min_per_arm: int
    model_version: str | None
    grades: dict[str, Any] | None = Field(
        description="the model's held-out grades: Qini of uplift vs risk ranking (random: 0)"
    )
    push_away: int = Field(description="listed customers a call may push away")
    by_band: dict[str, SegmentRetention]


class Worklist(BaseModel):
    """The week's worklist: who to contact first, how it was ranked and why."""

    capacity: int
    ranked_by: Literal["uplift", "expected_saved", "revenue_at_risk"] = Field(
        description="uplift: estimated uplift × value; expected_saved: revenue at risk × the "
        "share follow-ups saved; revenue_at_risk: risk"
    )
    ranking_note: str = Field(description="how the list is ranked, in the language asked (lang)")
    uplift: UpliftStatus | None
    saved_share: dict[str, float]
    effect: dict[str, Any] | None = Field(
        description="the overall effect of past follow-ups; its message in the language asked"
    )
    handled_days: int
    held_out: int
    items: list[WorklistItem]
    revenue_at_risk: float
    expected_saved: float | None
    currency: str
