"""One customer's whole story, and the follow-ups that close the loop with them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from cxml.at_risk import model_theme_labels
from cxml.churn.explain import Language, in_language
from cxml.followups import open_follow_up, update_follow_up
from cxml.jobs.privacy import audit_read
from cxml.story import customer_story
from serve import links
from serve.deps import Service, now, require, service
from serve.schemas import CustomerStory, FollowUp, FollowUpCreate, FollowUpPatch, Problem

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerPath = Path(min_length=1, max_length=255, description="the customer's id")


@router.get(
    "/{customer_id:path}",
    response_model=CustomerStory,
    summary="Profile, latest score and reasons, follow-ups, and the cross-channel timeline",
    responses={404: {"model": Problem}},
)
def customer(
    customer_id: str = CustomerPath,
    timeline_limit: int = Query(200, ge=1, le=5000, description="newest feedback first"),
    lang: Language = Query("en", description="language of the reasons' text"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    # raw words only for a key granted the pii scope; unknown customer → 404
    story = customer_story(state.store, customer_id, timeline_limit, pii="pii" in key["scopes"])
    audit_read(
        state.store,
        actor=key["key_id"],
        what="customer",
        now=now(),
        customers=1,
        target=customer_id,
    )
    if story["score"] is not None:
        labels = model_theme_labels(state.models.current.text, lang)
        story["score"]["reasons"] = in_language(story["score"]["reasons"], lang, labels)
    return story


@router.post(
    "/{customer_id:path}/follow-ups",
    response_model=FollowUp,
    status_code=201,
    summary="Open a follow-up (owner, status, note, outcome); the change is kept in its history",
    responses={
        **links.responses(links.FOLLOW_UP_OPENED, 201),
        404: {"model": Problem},
        409: {"model": Problem, "description": "a control of an open pull (CX108)"},
    },
)
def create_follow_up(
    body: FollowUpCreate,
    customer_id: str = CustomerPath,
    key: dict[str, Any] = Depends(require("act")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return open_follow_up(
        state.store,
        customer_id,
        body.model_dump(exclude={"override_holdout"}),
        actor=key["key_id"],
        now=now(),
        override_holdout=body.override_holdout,
        due_days=state.settings.follow_up_due_days,
    )


@router.patch(
    "/{customer_id:path}/follow-ups/{follow_up_id}",
    response_model=FollowUp,
    summary="Change a follow-up; every change is kept (who, when, old and new values)",
    responses={404: {"model": Problem}},
)
def change_follow_up(
    body: FollowUpPatch,
    customer_id: str = CustomerPath,
    follow_up_id: int = Path(ge=1, le=2_147_483_647),
    key: dict[str, Any] = Depends(require("act")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return update_follow_up(
        state.store,
        customer_id,
        follow_up_id,
        body.model_dump(exclude_unset=True),
        actor=key["key_id"],
        now=now(),
    )
