"""Requests that arrive while a batch is computed go together in the next one, and each gets
exactly its own results; a failing request fails alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable

import pytest

from serve.coalesce import Coalescer


class Recorder:
    """A work function that remembers its calls and can be held busy."""

    def __init__(self) -> None:
        self.calls: list[tuple[Hashable, list[int]]] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, key: Hashable, items: list[int]) -> list[str]:
        self.release.wait(5)
        self.calls.append((key, list(items)))
        if any(i < 0 for i in items):
            raise ValueError(f"negative item in {items}")
        return [f"{key}:{i * 10}" for i in items]


async def _busy_then(coalescer: Coalescer[int], work: Recorder, requests: list) -> list:
    """One request occupies the worker; the rest arrive meanwhile; then it is released."""
    work.release.clear()
    first = asyncio.create_task(coalescer.submit("k", [0]))
    await asyncio.sleep(0.05)  # the first batch is running (held)
    rest = [asyncio.create_task(coalescer.submit(key, items)) for key, items in requests]
    await asyncio.sleep(0.05)
    work.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_requests_waiting_share_one_batch_and_get_their_own_results() -> None:
    work = Recorder()
    coalescer: Coalescer[int] = Coalescer(work, most=100)
    answers = asyncio.run(_busy_then(coalescer, work, [("k", [1, 2]), ("k", [3]), ("k", [4, 5])]))
    assert answers == [["k:0"], ["k:10", "k:20"], ["k:30"], ["k:40", "k:50"]]
    assert work.calls == [("k", [0]), ("k", [1, 2, 3, 4, 5])]
    assert (coalescer.batches, coalescer.requests) == (2, 4)


def test_a_quiet_worker_answers_each_request_at_once_alone() -> None:
    work = Recorder()
    coalescer: Coalescer[int] = Coalescer(work, most=100)

    async def one_by_one() -> list[list[str]]:
        return [await coalescer.submit("k", [i]) for i in range(3)]

    assert asyncio.run(one_by_one()) == [["k:0"], ["k:10"], ["k:20"]]
    assert [items for _, items in work.calls] == [[0], [1], [2]]


def test_batches_join_only_requests_with_the_same_key_size_limit_and_no_conflict() -> None:
    work = Recorder()
    coalescer: Coalescer[int] = Coalescer(
        work, most=3, conflicts=lambda batch, items: bool(set(batch) & set(items))
    )
    requests = [("k", [1, 2]), ("other", [3]), ("k", [2]), ("k", [4, 5]), ("k", [6])]
    answers = asyncio.run(_busy_then(coalescer, work, requests))
    assert answers == [
        ["k:0"],
        ["k:10", "k:20"],
        ["other:30"],
        ["k:20"],
        ["k:40", "k:50"],
        ["k:60"],
    ]
    # [2] conflicts with the batch holding 2; [4, 5] would make 4 items (most 3); [6] fits.
    assert work.calls == [("k", [0]), ("k", [1, 2, 6]), ("other", [3]), ("k", [2, 4, 5])]


def test_a_failing_request_fails_alone_and_the_others_are_answered() -> None:
    work = Recorder()
    coalescer: Coalescer[int] = Coalescer(work, most=100)
    answers = asyncio.run(_busy_then(coalescer, work, [("k", [1]), ("k", [-1]), ("k", [2])]))
    assert answers[:2] == [["k:0"], ["k:10"]] and answers[3] == ["k:20"]
    assert isinstance(answers[2], ValueError) and "negative" in str(answers[2])
    # The joined batch raised, so each of its requests ran again alone.
    assert work.calls[1:] == [("k", [1, -1, 2]), ("k", [1]), ("k", [-1]), ("k", [2])]


def test_a_request_whose_client_left_is_not_computed() -> None:
    work = Recorder()
    coalescer: Coalescer[int] = Coalescer(work, most=100)

    async def scenario() -> list[str]:
        work.release.clear()
        first = asyncio.create_task(coalescer.submit("k", [0]))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(coalescer.submit("k", [7]))
        kept = asyncio.create_task(coalescer.submit("k", [8]))
        await asyncio.sleep(0.01)
        gone.cancel()
        work.release.set()
        with pytest.raises(asyncio.CancelledError):
            await gone
        await first
        return await kept

    assert asyncio.run(scenario()) == ["k:80"]
    assert work.calls == [("k", [0]), ("k", [8])]
