"""POST /v1/score: one customer or many, by id or inline, in request order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from cxml.errors import TooLargeError
from serve import links, telemetry
from serve.coalesce import Same
from serve.deps import Service, churn_model, fast_json, now, require, service
from serve.schemas import Problem, ScoreRequest, ScoreResponse, ScoreResult
from serve.scoring import reused_scores
from serve.serving_models import Loaded

router = APIRouter(prefix="/v1", tags=["score"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    response_model_exclude_none=True,
    summary="Churn probability, band, revenue at risk and reasons for each customer",
    responses={
        **links.responses(links.SCORED),
        413: {"model": Problem},
        422: {"model": Problem},
        503: {"model": Problem, "description": "no churn model loaded"},
    },
)
async def score(
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
) -> Response:
    limit = state.settings.api_max_batch
    if len(body.customers) > limit:
        raise TooLargeError(
            f"customers: {len(body.customers):,} items; at most {limit:,} in one request",
            field="customers",
        )
    assert loaded.churn is not None
    items = [item.model_dump(exclude_none=True) for item in body.customers]
    when = now()
    version = str(loaded.churn_version)
    # The usual case, today's stored scores still true, is one indexed query: answered here;
    # anything to compute (features, model, reasons) runs in the thread pool, in the worker's
    # next batch together with other requests waiting for one (serve/coalesce.py).
    reused: list[dict[str, Any] | None] = (
        reused_scores(state.store, items, now=when, model_version=version)
        if not fresh
        else [None] * len(items)
    )
    todo = [p for p, r in enumerate(reused) if r is None]
    computed = (
        await state.scoring.submit((Same(loaded), record), [items[p] for p in todo]) if todo else []
    )
    answers = dict(zip(todo, computed, strict=True))
    results = [r if r is not None else answers[p] for p, r in enumerate(reused)]
    telemetry.SCORED.inc(sum(1 for r in results if "error" not in r))
    return fast_json({"results": [_trimmed(r) for r in results]})


def _trimmed(result: dict[str, Any]) -> dict[str, Any]:
    """The wire fields of a result (see ScoreResult), without internal columns or empty ones."""
    return {k: v for k, v in result.items() if k in RESULT_FIELDS and v is not None}


RESULT_FIELDS = frozenset(ScoreResult.model_fields)
