"""Which models serve, and reloading the registry's champions without dropping a request."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends

from serve import telemetry
from serve.deps import Service, require, service

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", summary="The churn and text model versions serving in this worker")
def models(
    key: dict[str, Any] = Depends(require("read")), state: Service = Depends(service)
) -> dict[str, Any]:
    return state.models.describe()


@router.post(
    "/reload",
    summary="Load the registry's champions (or exported bundles) now; requests in flight finish on the old ones",
)
async def reload(
    key: dict[str, Any] = Depends(require("admin")), state: Service = Depends(service)
) -> dict[str, Any]:
    await asyncio.to_thread(state.models.load)
    telemetry.models_loaded(state.models.current)
    return {
        **state.models.describe(),
        "note": "other workers follow within model_poll_seconds "
        f"({state.settings.model_poll_seconds:g} s)",
    }
