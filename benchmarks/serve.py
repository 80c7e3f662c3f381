"""Benchmark: the HTTP service under load from a second process, next to a bare FastAPI endpoint.

Usage: python -m benchmarks.serve [--customers 2000] [--seconds 15]
Builds a demo world (trained and scored), then for 1 and 2 uvicorn workers measures:
- single-customer POST /v1/score by id at a fixed 200 requests/s (open loop, latency from each
  request's scheduled start): the usual path, where today's stored score is still true, and the
  cold path (?fresh=true: features, model and exact TreeSHAP reasons computed per request) at
  the rate it can take;
- the most requests/s (wrk, closed loop, 16 connections) for the score and the bare endpoint;
- one batch of 1,000 customers, cold and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CXML = str(Path(sys.executable).parent / "cxml")
PYTHON = sys.executable


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


def load(
    url: str,
    key: str,
    ids: Path,
    rate: float,
    seconds: float,
    path: str,
    params: dict[str, str] | None = None,
    inline: bool = False,
) -> dict[str, float]:
    command = [PYTHON, "-m", "benchmarks.load", "--url", url, "--key", key, "--ids", str(ids)]
    command += ["--rate", str(rate), "--seconds", str(seconds), "--path", path]
    command += ["--params", json.dumps(params or {})] + (["--inline"] if inline else [])
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    return json.loads(done.stdout)


def wrk(
    url: str, key: str, ids: list[str], path: str, seconds: int, workdir: Path
) -> dict[str, float]:
    script = workdir / "score.lua"
    listed = ",".join(f'"{i}"' for i in ids)
    script.write_text(
        f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
local ids = {{{listed}}}
math.randomseed(1)
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format(nil, "{path}", nil, '{{"customers":[{{"customer_id":"' .. id .. '"}}]}}')
end
"""
    )
    done = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert match is not None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cxml-bench-serve-"))
    env = {
        **os.environ,
        "CXML_DATABASE_URL": "sqlite:///cxml.db",
        "CXML_MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
    }
    try:
        subprocess.run(
            [CXML, "demo", "--customers", str(args.customers), "--no-serve"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
        key = (
            subprocess.run(
                [CXML, "keys", "create", "--scope", "score", "--scope", "read"],
                cwd=workdir,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        from cxml.settings import Settings
        from cxml.store import Store

        store = Store.open(Settings(database_url=f"sqlite:///{workdir / 'cxml.db'}"))
        people = store.table_frame("customers")
        ids = people.loc[people["churn_date"].isna(), "customer_id"].tolist()
        store.close()
        ids_file = workdir / "ids.txt"
        ids_file.write_text("\n".join(ids))
        rows = []
        for workers in (1, 2):
            port = free_port()
            server = subprocess.Popen(
                [
                    CXML,
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--log-level",
                    "warning",
                ],
                cwd=workdir,
                env={**env, "CXML_MODEL_POLL_SECONDS": "0"},
            )
            base = f"http://127.0.0.1:{port}"
            try:
                wait(f"{base}/readyz")
                headers = {"X-API-Key": key}
                batch = {"customers": [{"customer_id": i} for i in ids[:1000]]}
                started = time.perf_counter()
                httpx.post(
                    f"{base}/v1/score",
                    params={"fresh": "true"},
                    json=batch,
                    headers=headers,
                    timeout=300,
                ).raise_for_status()
                batch_cold = time.perf_counter() - started
                # score everyone once, so today's stored scores are true (the usual path)
                for start in range(0, len(ids), 1000):
                    part = {"customers": [{"customer_id": i} for i in ids[start : start + 1000]]}
                    httpx.post(
                        f"{base}/v1/score", json=part, headers=headers, timeout=300
                    ).raise_for_status()
                started = time.perf_counter()
                httpx.post(
                    f"{base}/v1/score", json=batch, headers=headers, timeout=300
                ).raise_for_status()
                batch_reused = time.perf_counter() - started
                usual = load(base, key, ids_file, 200, args.seconds, "/v1/score")
                cold_rate = 20 * workers
                cold = load(
                    base,
                    key,
                    ids_file,
                    cold_rate,
                    args.seconds,
                    "/v1/score",
                    {"fresh": "true", "record": "false"},
                )
                inline = load(
                    base,
                    key,
                    ids_file,
                    cold_rate,
                    args.seconds,
                    "/v1/score",
                    {"record": "false"},
                    inline=True,
                )
                most = wrk(base, key, ids, "/v1/score", int(args.seconds), workdir)
            finally:
                server.terminate()
                server.wait(timeout=30)
            port = free_port()
            bare = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "benchmarks.bare_app:app",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--log-level",
                    "warning",
                ],
                cwd=Path(__file__).parents[1],
            )
            bare_base = f"http://127.0.0.1:{port}"
            try:
                wait(f"{bare_base}/docs")
                bare_load = load(bare_base, "", ids_file, 200, args.seconds, "/bare")
                bare_most = wrk(bare_base, "", ids, "/bare", int(args.seconds), workdir)
            finally:
                bare.terminate()
                bare.wait(timeout=30)
            rows.append(
                (
                    workers,
                    usual,
                    cold,
                    inline,
                    cold_rate,
                    most,
                    bare_load,
                    bare_most,
                    batch_cold,
                    batch_reused,
                )
            )
        print(
            f"# {len(ids):,} active customers; load from a second process; {args.seconds:g} s per run"
        )
        print("| workers | endpoint | offered load | p50 ms | p99 ms | achieved req/s | errors |")
        print("|---|---|---|---|---|---|---|")
        for workers, usual, cold, inline, cold_rate, most, bare_load, bare_most, *_ in rows:
            print(
                f"| {workers} | score by id (stored score still true) | 200/s | {usual['p50_ms']} | {usual['p99_ms']} | {usual['achieved_rps']} | {usual['errors']} |"
            )
            print(
                f"| {workers} | score by id, cold (`fresh=true`) | {cold_rate}/s | {cold['p50_ms']} | {cold['p99_ms']} | {cold['achieved_rps']} | {cold['errors']} |"
            )
            print(
                f"| {workers} | new customer inline (attributes + a comment) | {cold_rate}/s | {inline['p50_ms']} | {inline['p99_ms']} | {inline['achieved_rps']} | {inline['errors']} |"
            )
            print(
                f"| {workers} | bare FastAPI endpoint | 200/s | {bare_load['p50_ms']} | {bare_load['p99_ms']} | {bare_load['achieved_rps']} | {bare_load['errors']} |"
            )
            print(
                f"| {workers} | score by id, most it takes (wrk, 16 connections) | closed loop | {most['p50_ms']} | {most['p99_ms']} | {most['rps']:.0f} | {most['non_2xx']} |"
            )
            print(
                f"| {workers} | bare endpoint, most it takes (wrk) | closed loop | {bare_most['p50_ms']} | {bare_most['p99_ms']} | {bare_most['rps']:.0f} | {bare_most['non_2xx']} |"
            )
        print()
        print(
            "| workers | score / bare throughput | batch of 1,000 cold (s) | batch of 1,000 reused (s) |"
        )
        print("|---|---|---|---|")
        for workers, _, _, _, _, most, _, bare_most, batch_cold, batch_reused in rows:
            print(
                f"| {workers} | {most['rps'] / bare_most['rps']:.0%} | {batch_cold:.2f} | {batch_reused:.2f} |"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
