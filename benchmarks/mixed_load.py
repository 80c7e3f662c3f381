"""Benchmark: a minute of mixed traffic with a champion promotion and a reload in the middle.

Usage: python -m benchmarks.mixed_load [--customers 2000] [--rate 200] [--seconds 60]
       [--workers 2] [--database-url URL] [--connections 64]

Builds a demo world (trained and scored; a second churn version trained but not promoted),
serves it with `cxml serve`, then sends requests at a fixed rate over a pool of keep-alive
connections (open loop: latency counts from each request's scheduled start, so a slow server
cannot hide its queue), mixed as a CRM and the
retention team would: score by id (40 %), inline score of a new customer (10 %), feedback ingest
of one new comment (20 %), at-risk pages (20 %), follow-ups opened (10 %). Half-way, the second
churn version is promoted (forced) and the models reloaded. Afterwards every feedback row the
server accepted is looked for in the store: each must be there exactly once.

Prints one JSON object: per route sent / failed / p50 / p99 (ms), achieved rate, the promotion
and reload answers, and the feedback check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from benchmarks.serve import free_port, wait

CXML = str(Path(sys.executable).parent / "cxml")
MIX = (("score", 40), ("inline", 10), ("feedback", 20), ("at_risk", 20), ("follow_up", 10))


def _cxml(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [CXML, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"cxml {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def _request(kind: str, n: int, ids: list[str], rng: random.Random) -> tuple[str, str, dict]:
    """(method, path, json body) of request n of this kind."""
    customer = rng.choice(ids)
    if kind == "score":
        return "POST", "/v1/score", {"customers": [{"customer_id": customer}]}
    if kind == "inline":
        return (
            "POST",
            "/v1/score",
            {
                "customers": [
                    {
                        "customer_id": f"NEW{n:06d}",
                        "attributes": {"signup_date": "2025-01-15", "plan": "basic"},
                        "feedback": [
                            {"created_at": "2025-06-01T10:00:00", "channel": "chat",
                             "text": "The bill was wrong again, I want to cancel."}
                        ],
                    }
                ]
            },
        )  # fmt: skip
    if kind == "feedback":
        return (
            "POST",
            "/v1/feedback",
            {
                "feedback": [
                    {"feedback_id": f"LOAD{n:07d}", "customer_id": customer,
                     "created_at": "2026-12-01T09:00:00", "channel": "email",
                     "text": "Still waiting for the refund, please call me back.", "csat": 2}
                ]
            },
        )  # fmt: skip
    if kind == "at_risk":
        return "GET", "/v1/at-risk?limit=50", {}
    return "POST", f"/v1/customers/{customer}/follow-ups", {"owner": "load", "note": f"load {n}"}


class _Connection:
    """One keep-alive HTTP/1.1 connection, as little client work as possible per request (the
    generator shares the machine's two cores with the server: httpx with thousands of
    requests in flight took as much CPU as both server workers and hid the server's capacity)."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict | None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode() if body else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nX-API-Key: {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode() + payload)
            header = await self.reader.readuntil(b"\r\n\r\n")
            lines = header.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            fields = {
                k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
            }
            if fields.get("transfer-encoding") == "chunked":
                content = b""
                while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                    content += (await self.reader.readexactly(size + 2))[:-2]
                await self.reader.readuntil(b"\r\n")
            else:
                content = await self.reader.readexactly(int(fields.get("content-length", 0)))
            if fields.get("connection") == "close":
                self.close()
            return status, content
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _run(
    base: str, key: str, ids: list[str], rate: float, seconds: float, connections: int = 64
) -> dict:
    """Requests due at a fixed rate (open loop), sent over a pool of ``connections`` keep-alive
    connections as a CRM's client would; latency counts from when each was due, so time
    waiting for a free connection (the server being behind) is counted, not hidden."""
    rng = random.Random(0)
    kinds = [k for k, weight in MIX for _ in range(weight)]
    total = int(rate * seconds)
    latencies: dict[str, list[float]] = {k: [] for k, _ in MIX}
    moments: list[tuple[float, float]] = []  # (scheduled second of the run, latency)
    failures: dict[str, list[str]] = {k: [] for k, _ in MIX}
    accepted: list[str] = []
    events: dict[str, object] = {}
    host, port = base.split("//")[1].split(":")
    due: asyncio.Queue[tuple[float, str, int] | None] = asyncio.Queue()
    start = time.perf_counter() + 1.0

    async def worker() -> None:
        connection = _Connection(host, int(port), key)
        while (job := await due.get()) is not None:
            scheduled, kind, n = job
            method, path, body = _request(kind, n, ids, rng)
            try:
                status, content = await asyncio.wait_for(
                    connection.request(method, path, body or None), timeout=120
                )
                ok = status in (200, 201)
                if kind == "feedback" and ok:
                    accepted.extend(
                        r["feedback_id"]
                        for r in json.loads(content)["results"]
                        if r["status"] in ("accepted", "updated", "unchanged")
                    )
                if not ok:
                    failures[kind].append(f"{status}: {content[:200]!r}")
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                failures[kind].append(f"{type(error).__name__}: {error}")
            latency = time.perf_counter() - scheduled
            latencies[kind].append(latency)
            moments.append((scheduled - start, latency))
        connection.close()

    async def schedule() -> None:
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait((scheduled, kinds[rng.randrange(len(kinds))], i))
        for _ in range(connections):
            due.put_nowait(None)

    async def midway() -> None:
        await asyncio.sleep(max(0.0, start + seconds / 2 - time.perf_counter()))
        admin = _Connection(host, int(port), key)
        status, content = await admin.request(
            "POST", "/v1/models/churn/promote", {"version": "2", "force": True}
        )
        events["promotion"] = (status, json.loads(content).get("reason"))
        status, content = await admin.request("POST", "/v1/models/reload", None)
        events["reload"] = (status, json.loads(content).get("churn", {}).get("version"))
        admin.close()

    await asyncio.gather(schedule(), midway(), *(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    routes = {}
    for kind, values in latencies.items():
        ms = np.array(values) * 1000
        routes[kind] = {
            "sent": len(values),
            "failed": len(failures[kind]),
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
            "first_failures": failures[kind][:3],
        }
    window = max(1.0, seconds / 6)
    timeline = []
    for begin in np.arange(0.0, seconds, window):
        ms = np.array([lat for at, lat in moments if begin <= at < begin + window]) * 1000
        if len(ms):
            timeline.append(
                {
                    "from_s": round(float(begin)),
                    "sent": len(ms),
                    "p50_ms": round(float(np.percentile(ms, 50)), 1),
                    "p99_ms": round(float(np.percentile(ms, 99)), 1),
                }
            )
    return {
        "sent": total,
        "achieved_rps": round(total / elapsed, 1),
        "routes": routes,
        "timeline": timeline,  # by when requests were due: the promotion is half-way
        "events": events,
        "accepted_feedback": accepted,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--connections", type=int, default=64, help="the client's pool")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cxml-mixed-"))
    url = args.database_url or f"sqlite:///{folder / 'cxml.db'}"
    env = {"CXML_DATABASE_URL": url, "CXML_MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}
    _cxml(["demo", "--customers", str(args.customers), "--no-serve"], folder, env)
    _cxml(["train", "churn", "--snapshots", "2"], folder, env)  # version 2, not promoted
    key = _cxml(["keys", "create", "--scope", "admin"], folder, env).strip().splitlines()[-1]
    engine = create_engine(url)
    with engine.connect() as connection:
        ids = [r[0] for r in connection.execute(text("SELECT customer_id FROM scores"))]
    port = free_port()
    server = subprocess.Popen(
        [CXML, "serve", "--port", str(port), "--workers", str(args.workers), "--log-level", "warning"],
        cwd=folder,
        env={**os.environ, **env, "CXML_MODEL_POLL_SECONDS": "2"},
        stdout=open(folder / "serve.log", "w"),  # noqa: SIM115 - lives as long as the server
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait(f"http://127.0.0.1:{port}/readyz")
        result = asyncio.run(
            _run(
                f"http://127.0.0.1:{port}",
                key,
                sorted(set(ids)),
                args.rate,
                args.seconds,
                args.connections,
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    accepted = result.pop("accepted_feedback")
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                text(
                    "SELECT feedback_id, count(*) FROM feedback WHERE feedback_id LIKE 'LOAD%' "
                    "GROUP BY feedback_id"
                )
            ).all()
        )
    result["feedback_check"] = {
        "accepted": len(accepted),
        "stored": len(stored),
        "missing": len(set(accepted) - set(stored)),
        "doubled": sum(1 for n in stored.values() if n != 1),
    }
    result["server_log_tracebacks"] = (folder / "serve.log").read_text().count("Traceback")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
