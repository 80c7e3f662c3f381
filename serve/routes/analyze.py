"""POST /v1/analyze: texts → language, sentiment, themes with spans, key phrases, intents, redacted text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cxml.errors import ConfigError, TooLargeError
from serve import telemetry
from serve.deps import Service, require, service, text_model
from serve.schemas import AnalyzeRequest, AnalyzeResponse, Problem, TextItem
from serve.serving_models import Loaded

router = APIRouter(prefix="/v1", tags=["text"])


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    summary="What the text pipeline reads in each text, in request order",
    responses={413: {"model": Problem}, 422: {"model": Problem}},
)
def analyze(
    body: AnalyzeRequest,
    key: dict[str, Any] = Depends(require("score")),
    state: Service = Depends(service),
    loaded: Loaded = Depends(text_model),
) -> dict[str, Any]:
    settings = state.settings
    if len(body.texts) > settings.api_max_batch:
        raise TooLargeError(
            f"texts: {len(body.texts):,} items; at most {settings.api_max_batch:,} in one request",
            field="texts",
        )
    items = [t if isinstance(t, TextItem) else TextItem(text=t) for t in body.texts]
    for position, item in enumerate(items):
        if len(item.text) > settings.max_text_chars:
            raise ConfigError(
                f"texts.{position}: {len(item.text):,} characters; at most {settings.max_text_chars:,}",
                field=f"texts.{position}",
            )
    results = loaded.text.analyze([i.text for i in items], [i.language for i in items])
    out = []
    for item, result in zip(items, results, strict=True):
        out.append({"id": item.id, **result} if item.id is not None else result)
    telemetry.ANALYSED.inc(len(out))
    return {"results": out, "model_version": str(loaded.text_version)}
