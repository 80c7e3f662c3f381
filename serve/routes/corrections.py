"""People correct the intents the text pipeline read: "not a churn intent", "churn intent:
switch". `cxml train text` learns from them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from cxml.corrections import INTENTS, list_corrections, record_correction
from cxml.text.corrections import pipeline_kinds
from serve.deps import Service, now, require, service
from serve.schemas import IntentCorrection, IntentCorrectionCreate, IntentCorrectionList, Problem

router = APIRouter(prefix="/v1", tags=["intent corrections"])


def _kinds(state: Service) -> tuple[str, ...]:
    """The churn-intent kinds of the served text model (its taxonomy's too)."""
    return pipeline_kinds(state.models.current.text)


@router.post(
    "/feedback/{feedback_id:path}/intent-corrections",
    response_model=IntentCorrection,
    status_code=201,
    summary="Correct an intent read in a comment (not there, or the right kind); who and when "
    "are kept, a new verdict supersedes the old one",
    responses={404: {"model": Problem}, 422: {"model": Problem}},
)
def correct_intent(
    body: IntentCorrectionCreate,
    feedback_id: str = Path(min_length=1, max_length=255, description="the comment's id"),
    key: dict[str, Any] = Depends(require("act")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return record_correction(
        state.store,
        feedback_id,
        body.intent,
        body.verdict,
        note=body.note,
        actor=str(key.get("name") or key["key_id"]),
        now=now(),
        kinds=_kinds(state),
        intents=INTENTS,
    )


@router.get(
    "/intent-corrections",
    response_model=IntentCorrectionList,
    summary="Intent corrections, newest first, with who made them and when",
    responses={422: {"model": Problem}},
)
def intent_corrections(
    intent: str | None = Query(
        None,
        max_length=50,
        description="only corrections of this intent: leave, competitor, effort or callback "
        "(another value is a 422)",
    ),
    feedback_id: str | None = Query(None, max_length=255),
    customer_id: str | None = Query(None, max_length=255),
    history: bool = Query(False, description="also the verdicts that were superseded"),
    limit: int = Query(500, ge=1, le=5000),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    items = list_corrections(
        state.store,
        intent=intent,
        feedback_id=feedback_id,
        customer_id=customer_id,
        with_superseded=history,
        limit=limit,
    )
    return {"items": items, "kinds": list(_kinds(state))}
