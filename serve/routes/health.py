"""Liveness, readiness (models loaded) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from serve import telemetry
from serve.deps import Service, service
from serve.schemas_reports import Liveness, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Liveness, summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready only when the models are loaded (503 says which are missing)",
    responses={503: {"model": Readiness, "description": "a model is missing"}},
)
def readyz(state: Service = Depends(service)) -> JSONResponse:
    loaded = state.models.current
    ready = loaded.churn is not None and loaded.text is not None
    body = {
        "ready": ready,
        "churn_model": loaded.churn_version,
        "text_model": loaded.text_version,
        "problems": list(loaded.problems),
    }
    return JSONResponse(body, 200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    body, content_type = telemetry.render()
    return Response(body, media_type=content_type)
