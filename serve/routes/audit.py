"""The audit log: who made or revoked keys, promoted or reloaded models, read or erased
personal data, and when."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from cxml.store.audit import audit_rows
from serve.deps import Service, require, service
from serve.schemas_reports import AuditLog

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get(
    "/audit",
    response_model=AuditLog,
    summary="Who did what, newest first: keys, models, and reads of personal data (kind=read)",
)
def audit(
    action: str | None = Query(None, max_length=50, description="only this action"),
    kind: Literal["read", "admin"] | None = Query(
        None, description="read: reads, exports and erasures of personal data; admin: the rest"
    ),
    limit: int = Query(100, ge=1, le=10_000),
    key: dict[str, Any] = Depends(require("admin")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return {"items": audit_rows(state.store, limit=limit, action=action, kind=kind)}
