"""What routes depend on: the service state (settings, store, models) and API-key auth."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader

from cxml.errors import (
    AccessError,
    ModelNotFoundError,
    ScopeError,
    TooManyAttemptsError,
)
from cxml.settings import Settings
from cxml.store import Store
from serve import telemetry
from serve.coalesce import Coalescer, Same
from serve.scoring import batch_scorer, inline_twice
from serve.serving_models import Loaded, Models

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A key from `cxml keys create --scope ...`; scopes: score, ingest, read, act, admin (pii and erase on their own)",
)


class Failures:
    """Failed API-key checks per client over the last minute: past ``limit`` the client is
    answered 429, its key not even checked, until the oldest failure is a minute old (guessing
    keys is slowed to a crawl). Clients behind one address share the budget; failures are
    counted per worker."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self.seen: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        times = self.seen.setdefault(client, deque())
        cutoff = time.monotonic() - self.window
        while times and times[0] < cutoff:
            times.popleft()
        if not times:
            del self.seen[client]
        return times

    def failed(self, client: str) -> None:
        self._recent(client)
        self.seen.setdefault(client, deque()).append(time.monotonic())

    def wait(self, client: str) -> int:
        """Seconds the client must wait (0: it may try)."""
        if client not in self.seen:  # the usual case, on every request: nothing to prune
            return 0
        times = self._recent(client)
        if len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[0] + self.window - time.monotonic()))


#: Most ingest requests stored in one go by a worker (each holds up to api_max_batch items).
INGEST_BATCH_REQUESTS = 16
#: Most API keys looked up in one read.
KEY_CHECKS_PER_READ = 256


@dataclass
class Service:
    """One worker's state: created by ``create_app``, opened by its lifespan."""

    settings: Settings
    store: Store
    models: Models
    failures: Failures = field(default_factory=lambda: Failures(20))
    scoring: Coalescer[dict[str, Any]] = field(init=False)
    analysis: Coalescer[str] = field(init=False)
    ingest: Coalescer[tuple[list[Any], str]] = field(init=False)
    keys: Coalescer[str] = field(init=False)
    key_thread: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.scoring = Coalescer(
            batch_scorer(
                self.store,
                clock=now,
                max_text_chars=self.settings.max_text_chars,
                future_tolerance_days=self.settings.future_tolerance_days,
            ),
            most=self.settings.api_max_batch,
            conflicts=inline_twice,
            counted=telemetry.SCORE_BATCH.observe,
        )
        self.analysis = Coalescer(self._analyse, most=self.settings.api_max_batch)
        self.ingest = Coalescer(self._ingest, most=INGEST_BATCH_REQUESTS)
        # Key checks: one read for the requests arriving together, in a thread of their own
        # (a database across the network keeps the event loop waiting otherwise, and the
        # pool's threads may all be busy computing).
        self.key_thread = ThreadPoolExecutor(1, thread_name_prefix="cxml-keys")
        self.keys = Coalescer(self._verify_keys, most=KEY_CHECKS_PER_READ, run=self._on_key_thread)

    def _verify_keys(self, _kind: Hashable, keys: list[str]) -> list[dict[str, Any] | None]:
        from cxml.keys import verify_keys

        return verify_keys(self.store, keys)

    async def _on_key_thread(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.key_thread, work, *args)

    def close(self) -> None:
        """Stop the key-check thread (the lifespan's end)."""
        self.key_thread.shutdown(wait=False)

    def _ingest(self, kind: Hashable, batches: list[tuple[list[Any], str]]) -> list[Any]:
        """Per batch (records, source): (report, items), or the error that stopped it."""
        from cxml.ingest import ingest_record_batches

        return ingest_record_batches(
            self.store, str(kind), batches, settings=self.settings, now=now()
        )

    def _analyse(self, models: Hashable, feedback_ids: list[str]) -> list[bool]:
        """Per id, whether its comment was analysed (ids gathered from several requests)."""
        from cxml.text.training import analyze_feedback

        loaded = cast(Same, models).value
        done = set(
            analyze_feedback(
                self.store, loaded.text, str(loaded.text_version), feedback_ids, now=now()
            )
        )
        return [i in done for i in feedback_ids]


def now() -> datetime:
    """The API decides what now is (UTC, without zone); the library only receives it."""
    return datetime.now(UTC).replace(tzinfo=None)


async def service(request: Request) -> Service:
    return request.app.state.service


def fast_json(content: Any) -> Response:
    """A JSON response straight from dicts (dates as ISO 8601), for hot routes whose shape the
    route's response_model documents; skips re-validating what the library built."""
    return Response(
        json.dumps(content, default=_iso, ensure_ascii=False, allow_nan=False),
        media_type="application/json",
    )


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def require(scope: str) -> Callable[..., Any]:
    """A dependency: the caller's key must be valid (else 401) and hold ``scope`` (else 403).

    The keys of the requests arriving together are looked up in one read, off the event loop
    (``Service.keys``).
    """

    async def check(
        request: Request,
        key: str | None = Depends(api_key_header),
        state: Service = Depends(service),
    ) -> dict[str, Any]:
        client = request.client.host if request.client else "-"
        wait = state.failures.wait(client)
        if wait:
            raise TooManyAttemptsError(
                f"too many failed API-key checks from this client: retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        if not key:
            raise AccessError("missing X-API-Key header: create a key with `cxml keys create`")
        found = (await state.keys.submit("keys", [key]))[0]
        if found is None:
            state.failures.failed(client)
            raise AccessError("X-API-Key is not a valid, unrevoked key")
        if scope not in found["scopes"]:
            raise ScopeError(
                f"this key's scopes ({', '.join(sorted(found['scopes']))}) do not include {scope!r}",
            )
        return found

    return check


async def churn_model(state: Service = Depends(service)) -> Loaded:
    """The loaded models, when a churn model serves (else 503 saying how to fix it)."""
    loaded = state.models.current
    if loaded.churn is None:  # a state of the store, not an outage: 409, not 503 (retry)
        raise ModelNotFoundError(
            "; ".join(loaded.problems) or "no churn model yet: run `cxml train churn`"
        )
    return loaded


async def text_model(state: Service = Depends(service)) -> Loaded:
    loaded = state.models.current
    if loaded.text is None:
        raise ModelNotFoundError(
            "no text model loaded: run `cxml train text`, then POST /v1/models/reload"
        )
    return loaded
