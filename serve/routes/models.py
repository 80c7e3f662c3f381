"""Which models serve, and reloading the registry's champions without dropping a request."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cxml.jobs.promote import ModelKind, version_table
from serve import telemetry
from serve.deps import Service, now, require, service
from serve.schemas import Problem
from serve.schemas_reports import ModelVersions, Promotion, ReloadedModels, ServingModels

log = logging.getLogger("cxml.serve")

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get(
    "",
    response_model=ServingModels,
    response_model_exclude_unset=True,
    summary="The churn and text model versions serving in this worker",
)
def models(
    key: dict[str, Any] = Depends(require("read")), state: Service = Depends(service)
) -> dict[str, Any]:
    return state.models.describe()


@router.post(
    "/reload",
    response_model=ReloadedModels,
    response_model_exclude_unset=True,
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


class PromoteRequest(BaseModel):
    """Which version to promote (default: the newest), and whether to skip the comparison."""

    version: str | None = Field(None, max_length=20, pattern=r"^[0-9]+$", examples=["3"])
    force: bool = Field(
        False, description="promote without comparing (the data can no longer grade the champion)"
    )


@router.get(
    "/{kind}/versions",
    response_model=ModelVersions,
    response_model_exclude_unset=True,
    summary="Every registered version of the churn or text model: its grades, the champion's "
    "on the same yardstick, and which is champion",
)
def versions(
    kind: ModelKind,
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return {"model": kind, "versions": version_table(state.settings, kind)}


@router.post(
    "/{kind}/promote",
    response_model=Promotion,
    summary="Move the champion through the gate: churn must beat it on the challenger's "
    "backtest, text must be at least as good on its held-out comments; the lineage of the "
    "themes comes with a text decision. This worker reloads at once, the others poll.",
    responses={404: {"model": Problem}, 503: {"model": Problem}},
)
async def promote(
    kind: ModelKind,
    body: PromoteRequest | None = None,
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    from cxml.jobs.promote import run_promote

    body = body or PromoteRequest(version=None, force=False)
    decision = await asyncio.to_thread(
        run_promote,
        state.settings,
        state.store,
        kind,
        body.version,
        force=body.force,
        actor=f"key:{key['key_id']}",
        clock=now,
    )
    if decision.promoted:
        await asyncio.to_thread(state.models.load)
        telemetry.models_loaded(state.models.current)
    log.info("promotion of %s by key %s: %s", decision.model, key["key_id"], decision.reason)
    # A refusal is the gate's answer, not a failed request: 200 with "promoted": false.
    return decision.to_dict()
