"""Errors to HTTP, in one place: cxml's error classes to statuses, request validation to 422,
an unreachable database or registry to 503 naming it, anything else to a logged 500 that
says nothing of the server's inside. Every error body is ``{"detail", "field", "code"}``
(``errors`` too for request validation); no stack trace ever reaches a client."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxml.errors import (
    AccessError,
    ConfigError,
    CxmlError,
    HeldOutError,
    InputFileError,
    ModelNotFoundError,
    NotFittedError,
    NotFoundError,
    RegistryError,
    ScopeError,
    StoreError,
    TooLargeError,
    TooManyAttemptsError,
)

log = logging.getLogger("cxml.serve")

#: The status of each error class (the first that matches, in this order).
STATUS_OF: tuple[tuple[type[CxmlError], int], ...] = (
    (TooManyAttemptsError, 429),
    (ScopeError, 403),
    (AccessError, 401),
    (TooLargeError, 413),
    (NotFoundError, 404),
    (HeldOutError, 409),  # a control of a running experiment: a state, not a bad request
    (ModelNotFoundError, 409),  # no model yet: a state to act on, not an outage to retry
    (NotFittedError, 503),
    (ConfigError, 422),
    (InputFileError, 422),
    (StoreError, 503),
    (RegistryError, 503),
)


#: The code of an HTTP error raised by the framework itself (an unknown route, a wrong method).
CODE_OF_STATUS = {404: "CX107", 405: "CX107", 413: TooLargeError.code}


def status_of(error: CxmlError) -> int:
    """The HTTP status for one of cxml's errors (400 when none is more specific)."""
    return next((status for kind, status in STATUS_OF if isinstance(error, kind)), 400)


def problem(
    status: int, detail: str, field: str | None = None, code: str | None = None
) -> JSONResponse:
    """The one error shape."""
    return JSONResponse({"detail": detail, "field": field, "code": code}, status)


def install(app: FastAPI, database: str) -> None:
    """Register the handlers on ``app``; ``database`` names the store in 503s."""

    @app.exception_handler(CxmlError)
    async def cxml_error(request: Request, exc: CxmlError) -> JSONResponse:
        answer = problem(status_of(exc), str(exc), exc.field, exc.code)
        answer.headers.update(getattr(exc, "headers", None) or {})
        return answer

    @app.exception_handler(OperationalError)
    async def store_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("the store at %s did not answer: %s", database, exc.orig)
        return problem(
            503,
            f"the store (database) at {database} cannot be reached right now; retry shortly",
            None,
            StoreError.code,
        )

    @app.exception_handler(DBAPIError)
    async def store_failed(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await store_down(request, exc)  # type: ignore[arg-type]
        log.exception("the store refused a statement on %s %s", request.method, request.url.path)
        return problem(500, "internal error: it is logged on the server")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]),
                "reason": e["msg"] + _expected(request, e),
                "value": _shown(e.get("input")),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": None, "reason": "invalid request"}
        return JSONResponse(
            {
                "detail": f"{first['field']}: {first['reason']}",
                "field": first["field"],
                "code": ConfigError.code,
                "errors": errors,
            },
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {
                "detail": exc.detail,
                "field": getattr(exc, "field", None),
                "code": CODE_OF_STATUS.get(exc.status_code, ConfigError.code),
            },
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal error: it is logged on the server")


def _expected(request: Request, error: Any) -> str:
    """For a required body field left out, the values it takes when its schema lists them
    (an enum), so the answer says what to send: ``body.intent: Field required (one of leave,
    competitor, effort, callback)``; else nothing."""
    loc = tuple(error["loc"])
    if error["type"] != "missing" or len(loc) != 2 or loc[0] != "body":
        return ""
    field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    schema = _schema(model)
    named = schema.get("properties", {}).get(str(loc[1]), {})
    if "$ref" in named:  # an Enum class: its values are in the model's definitions
        named = schema.get("$defs", {}).get(named["$ref"].rsplit("/", 1)[-1], {})
    values = named.get("enum")
    return f" (one of {', '.join(map(str, values))})" if values else ""


@functools.cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _shown(value: Any) -> Any:
    text = jsonable_encoder(value) if value is not None else None
    if isinstance(text, str) and len(text) > 60:
        return text[:57] + "…"
    if isinstance(text, dict | list):
        shown = json.dumps(text, default=str)
        return shown if len(shown) <= 60 else shown[:57] + "…"
    return text
