"""CX metrics, drivers and emerging themes: the read jobs of ``cxml.jobs.reads``, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from cxml.jobs.reads import (
    AlertRequest,
    DriverRequest,
    MetricRequest,
    run_alerts,
    run_drivers,
    run_metric,
)
from cxml.metrics import Level, Period
from cxml.reporting import AlertPeriod, DriverTarget, Metric
from serve.deps import Service, now, require, service
from serve.schemas import Problem
from serve.schemas_reports import AlertTable, DriverTable, MetricTable

router = APIRouter(prefix="/v1", tags=["metrics"])


@router.get(
    "/metrics/{metric}",
    response_model=MetricTable,
    response_model_exclude_unset=True,
    summary="NPS, CSAT, CES, churn or retention rate per group, with 95 % intervals and counts",
    responses={422: {"model": Problem}},
)
def metric(
    metric: Metric,
    by: list[str] = Query(
        [], description="channel, language, theme, or a customer attribute (repeatable)"
    ),
    period: Period | None = None,
    start: datetime | None = Query(None, alias="from", description="first day included"),
    end: datetime | None = Query(None, alias="to", description="first day excluded"),
    level: Level = Level.RESPONSE,
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    request = MetricRequest(
        metric,
        by=tuple(by),
        period=period,
        start=start.replace(tzinfo=None) if start else None,
        end=end.replace(tzinfo=None) if end else None,
        level=level,
    )
    report = run_metric(state.store, request)
    return {"metric": metric, "rows": report.records, **report.answer_fields()}


@router.get(
    "/drivers/{target}",
    response_model=DriverTable,
    response_model_exclude_unset=True,
    summary="Themes ranked by their impact on NPS or churn",
)
def drivers(
    target: DriverTarget,
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    report = run_drivers(state.store, DriverRequest(target), as_of=now())
    return {"target": target, "rows": report.records, **report.answer_fields()}


@router.get(
    "/alerts",
    response_model=AlertTable,
    response_model_exclude_unset=True,
    summary="Emerging themes: rising share in the latest period (z-test)",
)
def alerts(
    period: AlertPeriod = AlertPeriod.MONTH,
    baseline: int = Query(3, ge=1, le=24),
    min_count: int = Query(10, ge=1, le=1_000_000),
    show_all: bool = Query(False, alias="all"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    request = AlertRequest(
        period, baseline_periods=baseline, min_count=min_count, show_all=show_all
    )
    return {"rows": run_alerts(state.store, request).records}
