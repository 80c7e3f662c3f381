"""An open-loop load generator (run as its own process): requests at a fixed rate, latency
measured from each request's scheduled start (so a slow server cannot hide its queue).

Usage: python -m benchmarks.load --url URL --key KEY --ids FILE --rate 200 --seconds 15 [--path /v1/score]
Prints one JSON object: sent, ok, errors, achieved_rps, p50_ms, p90_ms, p99_ms, max_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

import httpx
import numpy as np


async def run(args: argparse.Namespace) -> dict[str, float]:
    ids = [i for i in Path(args.ids).read_text(encoding="utf-8").split() if i]
    rng = random.Random(0)
    total = int(args.rate * args.seconds)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(
        base_url=args.url, headers={"X-API-Key": args.key}, limits=limits, timeout=30
    ) as client:

        async def one(scheduled: float, body: dict[str, object]) -> None:
            nonlocal errors
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                if args.path == "/bare":
                    response = await client.post(args.path, json=body)
                else:
                    response = await client.post(args.path, json=body, params=args.params)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        start = time.perf_counter() + 0.5
        tasks = [
            asyncio.create_task(one(start + i / args.rate, _body(args.inline, i, rng.choice(ids))))
            for i in range(total)
        ]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "sent": total,
        "ok": total - errors,
        "errors": errors,
        "achieved_rps": round(total / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def _body(inline: bool, number: int, customer_id: str) -> dict[str, object]:
    """A by-id item, or a new customer described inline (attributes and one comment)."""
    if not inline:
        return {"customers": [{"customer_id": customer_id}]}
    return {
        "customers": [
            {
                "customer_id": f"new-{number}",
                "attributes": {"tenure_months": 1 + number % 40, "monthly_value": 30 + number % 50},
                "feedback": [
                    {
                        "created_at": "2025-01-15T10:00:00Z",
                        "channel": "chat",
                        "text": "The bill is wrong again and nobody answers. I want to cancel.",
                        "nps": number % 11,
                    }
                ],
            }
        ]
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--ids", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--path", default="/v1/score")
    parser.add_argument("--params", type=json.loads, default={})
    parser.add_argument("--inline", action="store_true", help="new customers sent inline")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
