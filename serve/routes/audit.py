"""The audit log: who made or revoked keys, promoted or reloaded models, and when."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from cxml.store.audit import audit_rows
from serve.deps import Service, require, service

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get("/audit", summary="Admin actions, newest first (keys, promotions, reloads)")
def audit(
    action: str | None = Query(None, max_length=50, description="only this action"),
    limit: int = Query(100, ge=1, le=10_000),
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return {"items": audit_rows(state.store, limit=limit, action=action)}
