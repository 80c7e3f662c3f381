"""GET /v1/at-risk: the ranked list the retention team works through, as JSON pages or CSV."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cxml.at_risk import (
    check_attribute_names,
    check_themes,
    model_theme_ids,
    model_theme_labels,
    why_empty,
)
from cxml.churn.explain import Language, in_language
from cxml.errors import ConfigError
from cxml.followups import StatusFilter
from cxml.io import spreadsheet_safe_row
from cxml.jobs.privacy import audit_read
from cxml.scoring import Band
from cxml.store.scores import Sort, at_risk, at_risk_summary, score_coverage
from serve.deps import Service, now, require, service
from serve.schemas import AtRiskPage, Problem
from serve.schemas_reports import AtRiskSummary

router = APIRouter(prefix="/v1", tags=["at-risk"])
CSV_COLUMNS = (
    "customer_id",
    "probability",
    "band",
    "revenue_at_risk",
    "expected_saved",
    "monthly_value",
    "reasons",
    "follow_up_status",
    "follow_up_owner",
    "model_version",
    "as_of",
    "survival_90",
    "expected_days",
)


def _cursor(sort: str, item: dict[str, Any]) -> str:
    raw = json.dumps([sort, item["sort_key"], item["customer_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(sort: str, cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, value, customer_id = json.loads(base64.urlsafe_b64decode(padded))
        if kind != sort:
            raise ValueError("sort changed")
        return float(value), str(customer_id)
    except Exception:  # any malformed cursor is the client's error, said plainly
        raise ConfigError(
            "cursor: not a cursor this list gave (or the sort changed since)", field="cursor"
        ) from None


@router.get(
    "/at-risk",
    response_model=AtRiskPage,
    summary="Active customers by their latest score, highest first; Accept: text/csv exports",
    description="An empty list says why in `empty_reason` and `message` (no customers yet, "
    "no scores yet, or nobody matches the filters), still with a 200. A filter value nothing "
    "can match (a theme id or an attribute name the store does not know) is a 422 naming it.",
    responses={
        200: {"content": {"text/csv": {}}},
        422: {"model": Problem},
    },
)
def at_risk_list(
    request: Request,
    sort: Sort = Sort.PROBABILITY,
    limit: int = Query(50, ge=1, le=100_000, description="rows in this page (the team's capacity)"),
    cursor: str | None = Query(
        None, max_length=2000, description="the `next` of the previous page"
    ),
    band: list[Band] = Query([], description="repeatable"),
    min_probability: float | None = Query(None, ge=0, le=1),
    theme: list[str] = Query(
        [],
        description="raised this theme (id, from GET /v1/themes) in the last theme_days, "
        "repeatable; an id the store does not know is a 422",
    ),
    theme_days: int = Query(90, ge=1, le=3650),
    follow_up_status: list[StatusFilter] = Query(
        [], description="status of the latest follow-up; none = no follow-up yet"
    ),
    attribute: list[str] = Query(
        [],
        description="NAME=VALUE on a customer attribute (a segment), repeatable; a NAME no "
        "customer has is a 422",
    ),
    lang: Language = Query("en", description="language of the reasons' text"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> Any:
    wants_csv = "text/csv" in request.headers.get("accept", "")
    most = state.settings.api_max_csv_rows if wants_csv else state.settings.api_max_page
    if limit > most:
        raise ConfigError(
            f"limit={limit:,} is over the maximum of {most:,} per page", field="limit"
        )
    attributes = segments(attribute)
    check_themes(state.store, theme, served=model_theme_ids(state.models.current.text))
    items = at_risk(
        state.store,
        today=now(),
        sort=sort,
        limit=limit + 1,
        after=_after(sort, cursor),
        bands=band,
        min_probability=min_probability,
        attributes=attributes,
        themes=theme,
        theme_days=theme_days,
        follow_up_status=follow_up_status,
    )
    page, more = items[:limit], len(items) > limit
    empty = None
    if not page:  # the only time a filter on an attribute nobody has can be behind it
        check_attribute_names(state.store, attributes)
        if cursor is None:  # past the last page is not news
            filtered = bool(band or theme or follow_up_status or attributes)
            empty = why_empty(
                state.store,
                filtered=filtered or min_probability is not None,
                has_churn_model=state.models.current.churn is not None,
            )
    labels = model_theme_labels(state.models.current.text, lang)
    for item in page:
        item["reasons"] = in_language(item["reasons"], lang, labels)
    if wants_csv:
        audit_read(
            state.store, actor=key["key_id"], what="at_risk_export", now=now(), customers=len(page)
        )
        headers = {"Content-Disposition": 'attachment; filename="at-risk.csv"'}
        if more:
            headers["X-Next-Cursor"] = _cursor(sort, page[-1])
        return csv_response(page, headers)
    return {
        "items": page,
        "next": _cursor(sort, page[-1]) if more else None,
        "empty_reason": empty.reason if empty else None,
        "message": empty.message if empty else None,
    }


def segments(attribute: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` query values as a dict (422 naming the malformed one)."""
    attributes: dict[str, str] = {}
    for pair in attribute:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ConfigError(
                f"attribute={pair!r}: expected NAME=VALUE, e.g. plan=premium", field="attribute"
            )
        attributes[name] = value
    return attributes


def reason_cell(reason: dict[str, Any]) -> str:
    """A reason as the CSV shows it: its words, then the customer's own in quotes when it has
    them ("spoke of switching to another provider in November 2026: “switching to X next
    month”")."""
    quote = (reason.get("evidence") or {}).get("quote")
    return f"{reason['text']}: “{quote}”" if quote else str(reason["text"])


def csv_response(
    items: list[dict[str, Any]],
    headers: dict[str, str],
    extra: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
) -> Response:
    """At-risk rows as a CSV download (reasons joined in one cell); ``extra`` columns after
    the usual ones, each read from the item by its function."""
    extra = extra or {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *extra])
    for item in items:
        follow = item["follow_up"] or {}
        writer.writerow(
            spreadsheet_safe_row(
                [
                    item["customer_id"],
                    item["probability"],
                    item["band"],
                    item["revenue_at_risk"],
                    item.get("expected_saved"),
                    item["monthly_value"],
                    "; ".join(map(reason_cell, item["reasons"])),
                    follow.get("status", ""),
                    follow.get("owner", ""),
                    item["model_version"],
                    item["as_of"],
                    item["survival_90"],
                    item["expected_days"],
                    *(read(item) for read in extra.values()),
                ]
            )
        )
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/at-risk/summary",
    response_model=AtRiskSummary,
    summary="Per band: how many active customers, their revenue at risk and mean probability",
    description="The bands count scored customers only: `scored_customers` of "
    "`active_customers` (of `store_customers` in all); `unscored` says why the rest have no "
    "score yet.",
)
def at_risk_totals(
    key: dict[str, Any] = Depends(require("read")), state: Service = Depends(service)
) -> dict[str, Any]:
    from cxml.reporting import churn_status

    today = now()
    bands = at_risk_summary(state.store, today=today)
    coverage = score_coverage(state.store, today=today)
    status = churn_status(state.store)
    return {
        "churn_data": status["churn_data"],
        "message": status["message"],
        "bands": bands,
        "customers": sum(b["customers"] for b in bands),
        "at_risk_customers": sum(b["customers"] for b in bands if b["band"] != "low"),
        "revenue_at_risk": round(sum(b["revenue_at_risk"] for b in bands if b["band"] != "low"), 2),
        "currency": state.settings.currency,
        **coverage,
    }
