"""Time to churn by group: the champion's survival curves per segment or theme."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query

from cxml.batch import survival_curves
from cxml.contract import parse_as_of
from serve.deps import Loaded, Service, churn_model, now, require, service
from serve.schemas import Problem
from serve.schemas_reports import SurvivalCurves

router = APIRouter(prefix="/v1", tags=["churn"])


@router.get(
    "/survival",
    response_model=SurvivalCurves,
    summary="Share of today's active customers still customers after each day, per customer "
    "segment or per theme they raised (the served churn model's time-to-churn companion)",
    responses={422: {"model": Problem}, 503: {"model": Problem}},
)
async def survival(
    by: str = Query(
        "theme",
        max_length=100,
        description="`theme`, or a customer attribute the model uses (e.g. plan)",
    ),
    step_days: int = Query(7, ge=1, le=365, description="spacing of the days on each curve"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
    loaded: Loaded = Depends(churn_model),
) -> dict[str, Any]:
    as_of = parse_as_of(now()).normalize()
    assert loaded.churn is not None  # churn_model answered 503 otherwise
    curves = await asyncio.to_thread(
        survival_curves,
        state.store,
        loaded.churn,
        as_of=as_of,
        by=by,
        bucket_customers=state.settings.bucket_customers,
        days=list(range(0, 366, step_days)),
    )
    groups = [
        {
            "group": str(group),
            "customers": int(curve["n"].iloc[0]),
            "days": curve["day"].astype(int).tolist(),
            "survival": [round(float(v), 6) for v in curve["survival"]],
        }
        for group, curve in curves.groupby("group", sort=True)
    ]
    groups.sort(key=lambda g: g["survival"][-1])  # soonest to leave first
    return {
        "by": by,
        "as_of": as_of.date().isoformat(),
        "model_version": loaded.churn_version,
        "groups": groups,
    }
