"""CX metrics, drivers and emerging themes (the computations live in cxml.reporting)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from cxml.metrics import Level, Period
from cxml.reporting import (
    AlertPeriod,
    DriverTarget,
    Metric,
    alert_table,
    dimensions,
    driver_table,
    metric_table,
    records,
)
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
    frame = metric_table(
        state.store,
        metric,
        by=dimensions(by),
        period=period,
        start=start.replace(tzinfo=None) if start else None,
        end=end.replace(tzinfo=None) if end else None,
        level=level,
    )
    return {"metric": metric, "rows": records(frame), **_churn_data(frame, metric)}


def _churn_data(frame: Any, metric: str) -> dict[str, Any]:
    """For churn figures: ``churn_data`` (false when the store has none) and the message to
    show instead of 0 %."""
    if metric not in ("churn-rate", "retention", "churn"):
        return {}
    if frame.attrs.get("churn_data") is False:
        return {"churn_data": False, "message": frame.attrs["message"]}
    return {"churn_data": True}


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
    frame = driver_table(state.store, target, as_of=now())
    return {"target": target, "rows": records(frame), **_churn_data(frame, target)}


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
    frame = alert_table(
        state.store,
        period=period,
        baseline_periods=baseline,
        min_count=min_count,
        only_alerts=not show_all,
    )
    return {"rows": records(frame)}
