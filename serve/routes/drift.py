"""Drift: the newest kept check, or a check between two periods computed now."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query

from cxml.drift import finite
from cxml.errors import NotFoundError
from cxml.jobs.drift import DriftRequest, run_drift
from cxml.store.drift import latest_report
from serve.deps import Service, now, require, service
from serve.schemas import Problem
from serve.schemas_reports import DriftReport

router = APIRouter(prefix="/v1", tags=["monitoring"])

PERIOD = "2025, 2025-Q2, 2025-04, 2025-04-07, or a range such as 2025-01..2025-03"


@router.get(
    "/drift",
    response_model=DriftReport,
    response_model_exclude_unset=True,
    summary="Theme, sentiment, language and channel mix, churn features (PSI) and the churn "
    "model's realised performance between two periods, with alerts",
    description="Without `reference` and `current`: the newest report kept by `cxml drift`. "
    "With either: computed now with the churn model this worker serves (not kept). The "
    "current period defaults to the last complete month, the reference to the three months "
    "before it.",
    responses={404: {"model": Problem}, 422: {"model": Problem}},
)
async def drift(
    reference: str | None = Query(None, max_length=50, description=PERIOD),
    current: str | None = Query(None, max_length=50, description=PERIOD),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    if reference is None and current is None:
        kept = await asyncio.to_thread(latest_report, state.store)
        if kept is None:
            raise NotFoundError(
                "drift report",
                "latest",
                hint="run `cxml drift`, or ask for ?reference=…&current=…",
            )
        return finite(kept)
    today = now()
    loaded = state.models.current
    champion = (loaded.churn, loaded.churn_version or "") if loaded.churn is not None else None
    drift = await asyncio.to_thread(
        run_drift,
        state.settings,
        state.store,
        DriftRequest(reference, current, keep=False),
        today=today,
        made_at=today,
        champion=champion,
    )
    return drift.report
