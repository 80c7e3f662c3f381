"""Which models serve, and reloading the registry's champions without dropping a request."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends

from serve import telemetry
from serve.deps import Service, now, require, service

log = logging.getLogger("cxml.serve")

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
    from cxml.store.audit import record_action

    await asyncio.to_thread(state.models.load)
    telemetry.models_loaded(state.models.current)
    described = state.models.describe()
    await asyncio.to_thread(
        record_action,
        state.store,
        actor=f"key:{key['key_id']}",
        action="model.reloaded",
        target=None,
        at=now(),
        detail={k: v for k, v in described.items() if isinstance(v, str | int | float | None)},
    )
    log.info("models reloaded by key %s: %s", key["key_id"], described)
    return {
        **described,
        "note": "other workers follow within model_poll_seconds "
        f"({state.settings.model_poll_seconds:g} s)",
    }
