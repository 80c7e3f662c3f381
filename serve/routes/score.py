"""POST /v1/score: one customer or many, by id or inline, in request order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from cxml.scoring import score_request
from serve import telemetry
from serve.deps import Service, churn_model, now, require, service
from serve.models import Loaded
from serve.schemas import Problem, ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1", tags=["score"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    response_model_exclude_none=True,
    summary="Churn probability, band, revenue at risk and reasons for each customer",
    responses={
        413: {"model": Problem},
        422: {"model": Problem},
        503: {"model": Problem, "description": "no churn model loaded"},
    },
)
def score(
    body: ScoreRequest,
    record: bool = Query(
        True, description="keep by-id scores in the store (the at-risk list reads them)"
    ),
    fresh: bool = Query(
        False,
        description="compute every score now, even when one stored today from the same data "
        "and model could be returned",
    ),
    key: dict[str, Any] = Depends(require("score")),
    state: Service = Depends(service),
    loaded: Loaded = Depends(churn_model),
) -> dict[str, Any]:
    limit = state.settings.api_max_batch
    if len(body.customers) > limit:
        raise HTTPException(
            413, f"customers: {len(body.customers):,} items; at most {limit:,} in one request"
        )
    assert loaded.churn is not None
    results = score_request(
        loaded.churn,
        state.store,
        [item.model_dump(exclude_none=True) for item in body.customers],
        now=now(),
        model_version=str(loaded.churn_version),
        text_pipeline=loaded.text,
        text_version=str(loaded.text_version),
        max_text_chars=state.settings.max_text_chars,
        future_tolerance_days=state.settings.future_tolerance_days,
        record=record,
        reuse=not fresh,
    )
    telemetry.SCORED.inc(sum(1 for r in results if "error" not in r))
    return {"results": results}
