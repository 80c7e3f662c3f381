"""Privacy operations over HTTP: erase a customer (scope ``erase``), export everything held
about one (scope ``pii``: the export holds their own words, unredacted)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path

from cxml.jobs.privacy import erase, export_subject
from serve.deps import Service, now, require, service
from serve.schemas import Erasure, Problem, SubjectExport

router = APIRouter(prefix="/v1/customers", tags=["privacy"])
CustomerPath = Path(min_length=1, max_length=255, description="the customer's id")


@router.get(
    "/{customer_id:path}/export",
    response_model=SubjectExport,
    summary="Everything held about one customer (subject access), with what each part means",
    responses={404: {"model": Problem}},
)
def customer_export(
    customer_id: str = CustomerPath,
    key: dict[str, Any] = Depends(require("pii")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    return export_subject(state.store, customer_id, actor=key["key_id"], now=now())


@router.delete(
    "/{customer_id:path}",
    response_model=Erasure,
    summary="Erase a customer everywhere, unrecoverably, and keep them erased (idempotent)",
)
def erase_customer(
    customer_id: str = CustomerPath,
    key: dict[str, Any] = Depends(require("erase")),
    state: Service = Depends(service),
) -> dict[str, Any]:
    done = erase(state.store, state.settings, customer_id, actor=key["key_id"], now=now())
    return done.as_dict()
