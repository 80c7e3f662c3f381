"""What a client needs to present cxml's numbers: currency, languages, the model's horizon."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cxml import __version__
from cxml.churn.explain import LANGUAGES
from cxml.store.history import attribute_names
from cxml.store.metrics import feedback_attribute_names
from serve.deps import Service, require, service
from serve.schemas_reports import ServiceConfig

router = APIRouter(prefix="/v1", tags=["health"])


@router.get(
    "/config",
    response_model=ServiceConfig,
    summary="Currency of money amounts, languages, customer attributes (segments), response "
    "attributes (response_segments), churn horizon, the key's scopes, version",
)
def config(
    key: dict[str, Any] = Depends(require("read")), state: Service = Depends(service)
) -> dict[str, Any]:
    churn = state.models.current.churn
    return {
        "currency": state.settings.currency,
        "languages": list(LANGUAGES),
        "segments": attribute_names(state.store),
        # a survey's columns kept with each response (journey stage, plan): NPS, CSAT and CES
        # group by them; churn, which counts customers, does not
        "response_segments": feedback_attribute_names(state.store),
        "horizon_days": None if churn is None else int(churn.horizon_days),
        "scopes": sorted(key["scopes"]),
        "version": __version__,
    }
