"""Webhooks (admin): register endpoints for events, read their delivery log, redeliver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response

from cxml.webhooks import EVENTS, deliveries, disable, endpoints, redeliver, register
from serve.deps import Service, now, require, service
from serve.schemas import (
    Problem,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveries,
    WebhookEvent,
    WebhookList,
)
from serve.schemas_reports import EVENT_BODIES, Redelivery

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
EndpointPath = Path(min_length=1, max_length=32)


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    summary="Register an endpoint for events ("
    + ", ".join(EVENTS)
    + "); the answer holds its signing secret, shown once",
    responses={422: {"model": Problem}},
    callbacks=None,
)
def create_webhook(
    body: WebhookCreate,
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return register(
        state.store,
        body.url,
        body.events,
        actor=key["key_id"],
        now=now(),
        include_text=body.include_text,
        allow_private=state.settings.webhook_allow_private,
    )


@router.get("", response_model=WebhookList, summary="Registered endpoints (no secrets)")
def list_webhooks(
    key: dict[str, Any] = Depends(require("admin")), state: Service = Depends(service)
) -> dict[str, Any]:
    return {"items": endpoints(state.store)}


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Stop sending to an endpoint",
    responses={404: {"model": Problem}},
)
def delete_webhook(
    endpoint_id: str = EndpointPath,
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> Response:
    disable(state.store, endpoint_id, now=now())
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=WebhookDeliveries,
    summary="An endpoint's deliveries, newest first: status, attempts, last answer",
    responses={404: {"model": Problem}, 200: {"description": "each body is a WebhookEvent"}},
)
def list_deliveries(
    endpoint_id: str = EndpointPath,
    limit: int = Query(100, ge=1, le=1000),
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return {"items": deliveries(state.store, endpoint_id, limit=limit)}


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    response_model=Redelivery,
    status_code=202,
    summary="Send a delivery again now (same event id)",
    responses={404: {"model": Problem}},
)
def redeliver_one(
    endpoint_id: str = EndpointPath,
    delivery_id: int = Path(ge=1, le=2_147_483_647),
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    redeliver(state.store, endpoint_id, delivery_id, now=now())
    return {"delivery_id": delivery_id, "status": "pending"}


def document(app: FastAPI) -> None:
    """Name each event's delivery in the OpenAPI document's ``webhooks``, with the body a
    receiver gets for it (a signed envelope around the event's own payload), so client
    generators type it."""
    for event in EVENTS:

        def receive(body: WebhookEvent) -> None:  # documentation only: cxml sends, never serves
            """Signed with X-Cxml-Timestamp and X-Cxml-Signature (see the README)."""

        body = EVENT_BODIES.get(event)  # an event without a model yet keeps the generic envelope
        receive.__annotations__ = {"body": body or WebhookEvent, "return": None}
        app.webhooks.post(
            event,
            summary=f"cxml sends {event}",
            description=body.__doc__ if body else None,
            operation_id=f"event_{event.replace('.', '_')}",
            status_code=204,
            response_class=Response,
            responses={204: {"description": "any 2xx: delivered; else retried with backoff"}},
        )(receive)
