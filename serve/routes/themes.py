"""Themes for the retention team: what each is worth, and the comments behind it."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from cxml.at_risk import model_theme_ids, unknown_themes
from cxml.errors import ConfigError, NotFoundError
from cxml.reporting import NO_THEMES_YET, theme_overview
from cxml.store.analysis import theme_comments
from cxml.text.redact import redacted
from serve.deps import Service, now, require, service
from serve.schemas import Problem
from serve.schemas_reports import ThemeComments, ThemeList

router = APIRouter(prefix="/v1/themes", tags=["themes"])
ThemePath = Path(min_length=1, max_length=100, description="the theme's id (from GET /v1/themes)")


@router.get(
    "",
    response_model=ThemeList,
    response_model_exclude_unset=True,
    summary="Every theme: volume, sentiment, impact on NPS and churn with 95 % intervals, at-risk "
    "customers and revenue, monthly trend, emerging alert",
    responses={422: {"model": Problem}},
)
async def themes(
    months: int = Query(6, ge=1, le=36, description="months of trend"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    rows = await asyncio.to_thread(theme_overview, state.store, today=now(), months=months)
    return {
        "themes": rows,
        "currency": state.settings.currency,
        "message": None if rows else NO_THEMES_YET,
    }


def _cursor(row: dict[str, Any]) -> str:
    raw = json.dumps([row["created_at"].isoformat(), row["feedback_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _before(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, feedback_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), str(feedback_id)
    except Exception:  # any malformed cursor is the client's error, said plainly
        raise ConfigError("cursor: not a cursor this list gave", field="cursor") from None


@router.get(
    "/{theme_id}/comments",
    response_model=ThemeComments,
    response_model_exclude_unset=True,
    summary="The comments that raised a theme, newest first, with the evidence span (offsets in "
    "the redacted text) and the customer who wrote each",
    responses={404: {"model": Problem}, 422: {"model": Problem}},
)
def comments(
    theme_id: str = ThemePath,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=500, description="the `next` of the previous page"),
    key: dict[str, Any] = Depends(require("read")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    rows = theme_comments(state.store, theme_id, limit=limit + 1, before=_before(cursor))
    if not rows and unknown_themes(
        state.store, [theme_id], served=model_theme_ids(state.models.current.text)
    ):
        raise NotFoundError("theme", theme_id, hint="GET /v1/themes lists the themes")
    page, more = rows[:limit], len(rows) > limit
    if "pii" not in key["scopes"]:
        for row, text in zip(page, redacted([r["text"] for r in page]), strict=True):
            row["text"] = text
    return {"theme_id": theme_id, "items": page, "next": _cursor(page[-1]) if more else None}
