"""The FastAPI app: ``create_app(settings)``. The lifespan opens the store and loads the models
once per worker; a background task reloads them when a champion changes. Errors of cxml's own
types map to HTTP statuses here, in one place; no stack trace ever reaches a client.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxml import __version__
from cxml.errors import ConfigError, TooLargeError
from cxml.settings import Settings
from serve import deps, errors, telemetry
from serve.deps import Failures, Service
from serve.operations import operation_id
from serve.serving_models import Models

log = logging.getLogger("cxml.serve")
STATIC = Path(__file__).parent / "static"


class _TooLarge(Exception):
    pass


_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def _page_policy() -> bytes:
    """The page's content security policy: scripts and styles from this server only (an
    inline script, should one appear, allowed by its hash), nothing from elsewhere, no framing.
    Charts set element styles from script, which a policy does not govern."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ).encode()


#: For the API docs (Swagger UI and ReDoc, served from the package): their pages start the
#: bundles with an inline script, and ReDoc runs a worker from a blob.
_DOCS_POLICY = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; "
    b"base-uri 'none'; frame-ancestors 'none'"
)
_API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class Guard:
    """Pure ASGI middleware: a request id on every request (the client's ``X-Request-ID`` when
    well-formed, else a new one; in the response and the server log), security headers and a
    content security policy on every response, body size limit (413), request time limit
    (503), request metrics."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.api_max_body_bytes
        self.timeout = settings.api_request_timeout_seconds
        self.page_policy = _page_policy()

    def _policy(self, path: str) -> bytes:
        if path == "/":
            return self.page_policy
        if path in ("/docs", "/redoc", "/docs/oauth2-redirect") or path.startswith("/static-"):
            return _DOCS_POLICY
        return _API_POLICY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex.encode()
        token = telemetry.REQUEST_ID.set(request_id.decode())  # for the log lines of this request
        try:
            await self._answer(scope, receive, send, request_id)
        finally:
            telemetry.REQUEST_ID.reset(token)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        started_at = time.perf_counter()
        status = {"code": 500, "started": False}
        limit = self.max_body
        extra = [
            (b"x-request-id", request_id),
            (b"content-security-policy", self._policy(scope.get("path", ""))),
            *_SECURITY_HEADERS,
        ]

        async def reply(code: int, detail: str, field: str | None = None) -> None:
            error = {413: TooLargeError.code, 503: "CX503"}.get(code, ConfigError.code)
            body = json.dumps({"detail": detail, "field": field, "code": error}).encode()
            closing = [(b"connection", b"close")] if code == 413 else []
            await send(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [(b"content-type", b"application/json"), *closing, *extra],
                }
            )
            await send({"type": "http.response.body", "body": body})
            status["code"] = code
            status["started"] = True

        raw = scope.get("raw_path") or b""
        if b"%00" in raw.lower() or b"%00" in (scope.get("query_string") or b"").lower():
            await reply(422, "the URL holds a NUL character (%00): not allowed anywhere", "url")
            telemetry.observe(scope, 422, time.perf_counter() - started_at)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _drain(receive)  # first: once the answer is complete nothing more is read
            await reply(
                413, f"the request body is {int(declared):,} bytes; at most {limit:,}", "body"
            )
            telemetry.observe(scope, 413, time.perf_counter() - started_at)
            return
        seen = 0
        too_large = False
        body_read = False  # the last part of the body has been read: nothing left to drain

        async def counted() -> Message:
            nonlocal seen, too_large, body_read
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_read = not message.get("more_body", False)
                if seen > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            if too_large:  # the app answered the aborted read its own way (400): say 413
                if message["type"] == "http.response.start" and not status["started"]:
                    if not body_read:
                        await _drain(receive)
                    await reply(413, f"the request body is over {limit:,} bytes", "body")
                return
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, counted, watched), self.timeout)
        except _TooLarge:
            if not status["started"]:
                if not body_read:  # a receive() after the last part waits for a disconnect
                    await _drain(receive)
                await reply(413, f"the request body is over {limit:,} bytes", "body")
        except TimeoutError:
            if not status["started"]:
                await reply(
                    503, f"the request took longer than {self.timeout:g} s; try a smaller batch"
                )
        finally:
            telemetry.observe(scope, int(status["code"]), time.perf_counter() - started_at)


_DRAIN_BYTES = 256 * 1024 * 1024
_DRAIN_SECONDS = 30.0


async def _drain(receive: Receive) -> None:
    """Read and drop what a client still sends of a body about to be refused (413), up to a
    bound, before answering: the server (uvicorn) reads nothing more once the answer is
    complete, and closing on unread data resets the connection under a client still writing."""
    drained = 0
    deadline = time.monotonic() + _DRAIN_SECONDS
    with suppress(TimeoutError):
        while drained < _DRAIN_BYTES:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings`` (default: from the environment, prefix CXML_)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from cxml.store import Store

        # Few threads for blocking work: under load, dozens of threads fighting for the
        # interpreter lock starve the event loop and each other, and throughput falls.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        store = Store.open(settings)
        models = Models(settings)
        app.state.service = Service(
            settings=settings,
            store=store,
            models=models,
            failures=Failures(settings.api_auth_failures_per_minute),
        )
        try:
            await asyncio.to_thread(models.load)
        except Exception:  # a broken model must not keep the service (health, ingest) down
            log.exception("loading models failed; /readyz stays 503 until a reload succeeds")
        telemetry.models_loaded(models.current)
        poller = asyncio.create_task(_poll(models, settings.model_poll_seconds))
        from cxml.jobs import background

        stop = threading.Event()
        sender = threading.Thread(
            target=background.run,
            args=(store, settings),
            kwargs={"stop": stop, "clock": deps.now},
            name="cxml-background",
            daemon=True,
        )
        if settings.webhook_poll_seconds > 0 or settings.housekeeping_seconds > 0:
            sender.start()
        try:
            yield
        finally:
            stop.set()
            if sender.is_alive():
                sender.join(timeout=10)
            poller.cancel()
            with suppress(asyncio.CancelledError):
                await poller
            app.state.service.close()
            store.close()

    from fastapi_offline import FastAPIOffline

    # The API docs' scripts and styles come from the fastapi-offline package, not a CDN.
    app = FastAPIOffline(
        title="cxml",
        version=__version__,
        summary="Customer feedback in, churn risk and its reasons out.",
        description=(
            "Score customers, analyse texts, ingest feedback, read at-risk lists and one "
            "customer's whole story, close the loop with follow-ups, and read CX metrics. "
            "Every /v1 route needs an `X-API-Key` header with the right scope."
        ),
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.add_middleware(Guard, settings=settings)
    if settings.api_cors_origins:  # no CORS unless configured
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Next-Cursor"],
        )

    errors.install(app, _database_name(settings))

    from serve.routes import (
        analyze,
        at_risk,
        audit,
        config,
        corrections,
        customers,
        drift,
        feedback,
        health,
        metrics,
        models,
        privacy,
        score,
        survival,
        themes,
        webhooks,
        worklist,
    )

    for module in (
        health,
        score,
        analyze,
        feedback,
        privacy,  # before customers: its /{id}/export must not be read as an id
        customers,
        corrections,
        at_risk,
        metrics,
        models,
        audit,
        drift,
        survival,
        themes,
        worklist,
        webhooks,
        config,
    ):
        app.include_router(module.router)
    webhooks.document(app)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    from fastapi.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory serve.app:app_factory`` (each worker builds its own app)."""
    return create_app()


async def _poll(models: Models, every: float) -> None:
    """Reload the models when a champion changes (every worker polls on its own)."""
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        try:
            if await asyncio.to_thread(models.check):
                telemetry.models_loaded(models.current)
                log.info("models reloaded: %s", models.describe())
        except Exception:  # keep serving the models we have
            log.exception("checking for new champions failed")


def _database_name(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url()).render_as_string(hide_password=True)
