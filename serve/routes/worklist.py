"""The week's worklist sized to the team, and whether follow-ups work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from cxml.at_risk import (
    check_attribute_names,
    check_themes,
    model_theme_ids,
    model_theme_labels,
)
from cxml.churn.explain import Language, in_language
from cxml.errors import ConfigError
from cxml.followups import ImpactBy, overdue_follow_ups
from cxml.jobs.followups import run_contact_impact, run_followups_impact
from cxml.jobs.privacy import audit_read
from cxml.jobs.pulls import pull, read_pulls
from cxml.jobs.train_uplift import worklist_uplift
from cxml.scoring import Band
from cxml.worklist import worklist
from serve.deps import Service, now, require, service
from serve.routes.at_risk import csv_response, segments
from serve.schemas import OverdueList, Problem, Pull, PullCreate
from serve.schemas_loop import ContactImpact, RandomisedImpact
from serve.schemas_uplift import Worklist

router = APIRouter(prefix="/v1", tags=["retention"])
_IMPACT_SECONDS = 600.0  # the effect of past follow-ups changes slowly: computed at most this often
_UPLIFT_SECONDS = 300.0  # the uplift champion and the outcomes so far: read at most this often


def _uplift_of(name: str) -> Any:
    return lambda item: (item.get("uplift") or {}).get(name)


#: The worklist CSV's columns after the at-risk ones: the uplift estimate and the push-away flag.
UPLIFT_CSV = {
    "uplift": _uplift_of("estimate"),
    "uplift_low": _uplift_of("low"),
    "uplift_high": _uplift_of("high"),
    "push_away": lambda item: (item.get("uplift") or {}).get("note") or "",
}


def _horizon(state: Service) -> int:
    churn = state.models.current.churn
    return int(churn.horizon_days) if churn is not None else 90


async def _briefly(state: Service, key: tuple[Any, ...], seconds: float, compute: Any) -> Any:
    """``compute()`` in a worker thread, kept for ``seconds`` per ``key`` on this worker: for
    reads that change slowly and cost a scan of the store."""
    cache: dict[Any, tuple[float, Any]] = state.__dict__.setdefault("_briefly", {})
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < seconds:
        return hit[1]
    value = await asyncio.to_thread(compute)
    cache[key] = (time.monotonic(), value)
    return value


async def _impact(state: Service, by: tuple[ImpactBy, ...]) -> dict[str, Any]:
    """follow_up_impact for this worker, cached briefly (one per split asked)."""
    horizon = _horizon(state)

    def compute() -> dict[str, Any]:
        return run_followups_impact(
            state.settings, state.store, now=now(), horizon_days=horizon, by=by
        ).report

    result: dict[str, Any] = await _briefly(
        state, ("impact", by, horizon), _IMPACT_SECONDS, compute
    )
    return result


async def _uplift(state: Service) -> Any:
    """What the worklist ranks with (the uplift champion, the randomised outcomes so far),
    for this worker, cached briefly: a model is trained at most daily."""
    horizon = _horizon(state)

    def compute() -> Any:
        return worklist_uplift(state.settings, state.store, today=now(), horizon_days=horizon)

    return await _briefly(state, ("uplift", horizon), _UPLIFT_SECONDS, compute)


@router.get(
    "/worklist",
    summary="The customers the team can contact this week (capacity), ranked by expected "
    "revenue saved (estimated uplift × value once an uplift model is good enough, else risk; "
    "`uplift` says which and why); reached in the last handled_days left out; Accept: text/csv "
    "exports",
    response_model=Worklist,
    responses={200: {"content": {"text/csv": {}}}, 422: {"model": Problem}},
)
async def the_worklist(
    request: Request,
    capacity: int = Query(25, ge=1, le=5000, description="how many the team can contact"),
    theme: list[str] = Query(
        [],
        description="raised this theme (id, from GET /v1/themes) in the last 90 days, "
        "repeatable; an id the store does not know is a 422",
    ),
    band: list[Band] = Query([], description="default high and medium"),
    attribute: list[str] = Query(
        [],
        description="NAME=VALUE on a customer attribute, repeatable; a NAME no customer has "
        "is a 422",
    ),
    owner: str | None = Query(None, max_length=200, description="only this owner's and unassigned"),
    handled_days: int = Query(30, ge=0, le=365),
    lang: Language = Query(
        "en", description="language of the reasons' text and of the notes on the ranking"
    ),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> Any:
    attributes = segments(attribute)
    await asyncio.to_thread(
        check_themes, state.store, theme, served=model_theme_ids(state.models.current.text)
    )
    impact = await _impact(state, (ImpactBy.BAND,))
    uplift = await _uplift(state)
    result = await asyncio.to_thread(
        worklist,
        state.store,
        today=now(),
        capacity=capacity,
        impact=impact,
        themes=theme,
        bands=[b.value for b in band],
        attributes=attributes,
        owner=owner,
        handled_days=handled_days,
        uplift=uplift,
        language=lang,
    )
    if not result["items"]:  # the only time a filter on an attribute nobody has can be behind it
        await asyncio.to_thread(check_attribute_names, state.store, attributes)
    labels = model_theme_labels(state.models.current.text, lang)
    for item in result["items"]:
        item["reasons"] = in_language(item["reasons"], lang, labels)
    if "text/csv" in request.headers.get("accept", ""):
        audit_read(
            state.store,
            actor=key["key_id"],
            what="worklist_export",
            now=now(),
            customers=len(result["items"]),
        )
        return csv_response(
            result["items"],
            {
                "Content-Disposition": 'attachment; filename="worklist.csv"',
                "X-Ranked-By": result["ranked_by"],
            },
            UPLIFT_CSV,
        )
    return {**result, "currency": state.settings.currency}


@router.get(
    "/follow-ups/impact",
    response_model=ContactImpact,
    summary="What contact did: first the randomised comparison of the worklist pulls (contact "
    "vs control retention, saves and revenue saved with 95 % intervals, CUPED-adjusted beside "
    "unadjusted, by band, theme, owner, channel and segment; before the horizon, the date to "
    "read), then the observational comparison of follow-ups, labelled",
    responses={422: {"model": Problem}},
)
async def impact(
    by: list[ImpactBy] = Query([], description="splits of the observational read; repeatable"),
    segment: str | None = Query(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="also split the randomised read by this customer attribute, e.g. plan",
    ),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> Any:
    observational = await _impact(state, tuple(by))
    return await asyncio.to_thread(
        run_contact_impact,
        state.settings,
        state.store,
        now=now(),
        segment=segment,
        observational=observational,
    )


@router.post(
    "/worklist/pulls",
    response_model=Pull,
    status_code=201,
    summary="Pull the worklist for action: the top customers to contact, a random share per "
    "band held out as controls (do not contact), recorded to measure what contact does",
    responses={422: {"model": Problem}},
)
async def create_pull(
    body: PullCreate,
    lang: Language = Query("en", description="language of the reasons' text"),
    key: dict[str, Any] = Depends(require("act")),
    state: Service = Depends(service),
) -> Any:
    result = await asyncio.to_thread(
        pull,
        state.store,
        state.settings,
        today=now(),
        capacity=body.capacity,
        actor=key["key_id"],
        horizon_days=_horizon(state),
        holdout_share=body.holdout_share,
        seed=body.seed,
    )
    labels = model_theme_labels(state.models.current.text, lang)
    for item in result["items"]:
        item["reasons"] = in_language(item["reasons"], lang, labels)
    audit_read(
        state.store, actor=key["key_id"], what="pull", now=now(), customers=len(result["items"])
    )
    return result


@router.get(
    "/worklist/pulls",
    response_model=RandomisedImpact,
    summary="Every pull and, once its horizon has passed, retention of contact vs control "
    "with 95 % intervals (randomised); before it, the date it can be read",
)
async def pulls_read(
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> Any:
    return await asyncio.to_thread(read_pulls, state.store, today=now())


@router.get(
    "/follow-ups",
    response_model=OverdueList,
    summary="Follow-ups past their due date (due from the customer's band), most overdue first",
    responses={422: {"model": Problem}},
)
async def follow_ups_list(
    overdue: bool = Query(description="true: open follow-ups past their due date"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> Any:
    if not overdue:
        raise ConfigError(
            "only overdue=true is listed here; a customer's follow-ups are in their story "
            "(GET /v1/customers/{customer_id})",
            field="overdue",
            value=False,
        )
    return {"items": await asyncio.to_thread(overdue_follow_ups, state.store, now())}
