"""POST /v1/feedback and /v1/customers: ingest a batch under the file contract, one result per item."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cxml.errors import TooLargeError
from cxml.ingest import IngestReport
from serve import links
from serve.coalesce import Same
from serve.deps import Service, require, service
from serve.schemas import CUSTOMER_ITEM, FeedbackRequest, FeedbackResponse, Problem
from serve.schemas_reports import CustomersSent

router = APIRouter(prefix="/v1", tags=["ingest"])


def _source(kind: str, items: list[Any]) -> str:
    """The batch's name: the same batch sent again is the same source (idempotent retries)."""
    digest = hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()
    return f"api:{kind}:{digest[:24]}"


def _check_size(state: Service, field: str, items: list[Any]) -> None:
    if len(items) > state.settings.api_max_batch:
        raise TooLargeError(
            f"{field}: {len(items):,} items; at most {state.settings.api_max_batch:,} in one request",
            field=field,
        )


async def _ingested(
    state: Service, kind: str, items: list[Any]
) -> tuple[IngestReport, list[dict[str, Any]]]:
    """Stored in the worker's next ingest batch, with other requests waiting for one: one
    contract check for all of them, then each request as its own run under its own source."""
    [answer] = await state.ingest.submit(kind, [(items, _source(kind, items))])
    if isinstance(answer, Exception):
        raise answer
    report, results = answer
    return report, results


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    response_model_exclude_unset=True,
    summary="Ingest feedback as it arrives; idempotent on feedback_id; comments are analysed at once",
    responses={
        **links.responses(links.FEEDBACK_SENT),
        413: {"model": Problem},
        422: {"model": Problem},
    },
)
async def post_feedback(
    body: FeedbackRequest,
    key: dict[str, Any] = Depends(require("ingest")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    _check_size(state, "feedback", body.feedback)
    report, items = await _ingested(state, "feedback", body.feedback)
    stored = [str(i["feedback_id"]) for i in items if i["status"] in ("accepted", "updated")]
    loaded = state.models.current
    # The comments are read in the worker's next analysis batch, with other requests' comments.
    analysed = (
        sum(await state.analysis.submit(Same(loaded), stored))
        if stored and loaded.text is not None
        else 0
    )
    return {
        "read": report.read,
        "accepted": report.accepted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "held": report.held,
        "analysed": analysed,
        "results": items,
    }


class CustomersRequest(BaseModel):
    customers: list[dict[str, Any]] = Field(
        min_length=1,
        json_schema_extra={"items": CUSTOMER_ITEM},
        examples=[
            [
                {
                    "customer_id": "C900001",
                    "signup_date": "2025-02-01",
                    "monthly_value": 39.0,
                    "plan": "basic",
                }
            ]
        ],
    )


@router.post(
    "/customers",
    response_model=CustomersSent,
    response_model_exclude_unset=True,
    summary="Create or update customers (contract columns and any attributes); releases held feedback",
    responses={
        **links.responses(links.CUSTOMERS_CREATED),
        413: {"model": Problem},
        422: {"model": Problem},
    },
)
async def post_customers(
    body: CustomersRequest,
    key: dict[str, Any] = Depends(require("ingest")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    _check_size(state, "customers", body.customers)
    report, items = await _ingested(state, "customers", body.customers)
    return {**report.to_dict(), "results": items}
