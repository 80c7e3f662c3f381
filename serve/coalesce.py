"""Requests that arrive while the worker is busy computing go together in its next batch.

A score that must be computed costs mostly fixed work per call (reading, pandas, the model,
the reasons): one customer ≈ 10–20 ms, a thousand ≈ 0.3 ms each. Under load, a worker that
computed each request in its own thread would pay that fixed cost per request, with the
threads fighting for one interpreter. Here one batch runs at a time per worker; the requests
that arrive meanwhile wait for the next and are computed together, so the cost per request
falls as the load rises, and a quiet worker still answers one request at once (a batch of one).

A batch joins requests only when ``compatible`` says they can share one call (the same models,
the same options, no customer described twice). A batch that raises is run again request by
request, so one request's failure stays its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi.concurrency import run_in_threadpool

Item = TypeVar("Item")


class Same:
    """A value compared by identity (the loaded models a batch must share)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


@dataclass
class _Waiting(Generic[Item]):
    key: Hashable
    items: list[Item]
    done: asyncio.Future[list[Any]]


@dataclass
class Coalescer(Generic[Item]):
    """Runs ``work(key, items)`` (in the thread pool), one batch at a time.

    ``work`` must return one result per item, in order. ``key``: requests join a batch only
    with the same key (what they must share: models, options). ``conflicts(batch, items)``:
    True when ``items`` cannot join the items already in the batch (they wait for the next).
    ``most``: items per batch; a larger request runs alone. ``counted(n)``: told how many
    requests each batch joined (the server's /metrics).
    """

    work: Callable[[Hashable, list[Item]], list[Any]]
    most: int
    conflicts: Callable[[list[Item], list[Item]], bool] = lambda batch, items: False
    counted: Callable[[int], None] = lambda requests: None
    #: how ``work`` is called off the event loop (default: the server's thread pool)
    run: Callable[..., Awaitable[Any]] = run_in_threadpool
    _queue: list[_Waiting[Item]] = field(default_factory=list)
    _running: asyncio.Task[None] | None = None
    batches: int = 0
    requests: int = 0

    async def submit(self, key: Hashable, items: list[Item]) -> list[Any]:
        done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(key, items, done))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await done

    def _take(self) -> list[_Waiting[Item]]:
        """The oldest waiting request and those after it that can share its call."""
        first = self._queue[0]
        batch, items, rest = [first], list(first.items), []
        for waiting in self._queue[1:]:
            if (
                waiting.key == first.key
                and len(items) + len(waiting.items) <= self.most
                and not self.conflicts(items, waiting.items)
            ):
                batch.append(waiting)
                items.extend(waiting.items)
            else:
                rest.append(waiting)
        self._queue = rest
        return batch

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            batch = [w for w in batch if not w.done.cancelled()]  # the client went away
            if not batch:
                continue
            self.batches += 1
            self.requests += len(batch)
            self.counted(len(batch))
            items = [item for waiting in batch for item in waiting.items]
            try:
                results = await self.run(self.work, batch[0].key, items)
            except Exception as error:
                if len(batch) == 1:
                    _settle(batch[0], error=error)
                    continue
                for waiting in batch:  # alone, so a failure is only its own request's
                    try:
                        _settle(waiting, await self.run(self.work, waiting.key, waiting.items))
                    except Exception as own:
                        _settle(waiting, error=own)
                continue
            start = 0
            for waiting in batch:
                _settle(waiting, results[start : start + len(waiting.items)])
                start += len(waiting.items)


def _settle(
    waiting: _Waiting[Any], results: list[Any] | None = None, error: Exception | None = None
) -> None:
    if waiting.done.done():
        return
    if error is not None:
        waiting.done.set_exception(error)
    else:
        waiting.done.set_result(results or [])
