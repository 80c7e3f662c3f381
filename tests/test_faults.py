"""Faults a system of record must survive, with real parts: a PostgreSQL server of the test's
own stopped like a crash in the middle of an ingest and of a run of score requests, the MLflow
registry's database gone, a server worker killed under load, and a disk that fills up during an
ingest (a small filesystem mounted for the test).

The PostgreSQL servers here are private clusters (initdb into a temporary folder, their own
port), so stopping them never disturbs the shared one the other tests use.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import CXML, Server, free_port, new_key

pytestmark = pytest.mark.slow  # private database servers, real servers, a mounted filesystem

PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/bin"))


class Cluster:
    """A PostgreSQL cluster of the test's own: initdb, start, stop (immediate, like a crash)."""

    def __init__(self, databases: tuple[str, ...] = ("cxml",)) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL's server binaries are not at {PG_BIN}: install postgresql")
        # Under /tmp itself: pytest's own folders are closed to the postgres user.
        folder = Path(tempfile.mkdtemp(prefix="cxml-pg-"))
        shutil.chown(folder, "postgres", "postgres")
        self.folder = folder
        self.port = free_port()
        self._as_postgres(
            "initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()
        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in databases:
                connection.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()

    def _as_postgres(self, program: str, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr + done.stdout

    def url(self, database: str = "cxml") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            "pg_ctl", "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(
            "pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"
        )

    def close(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
             str(self.folder / "data"), "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def count(url: str, table: str = "feedback") -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def cxml(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CXML, *args],
        cwd=cwd,
        env={**os.environ, "CXML_MLFLOW_TRACKING_URI": "sqlite:///mlflow.db", **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def reference_store(folder: Path) -> str:
    """The world's files ingested undisturbed into a SQLite store: what a faulty run must end
    up with."""
    url = f"sqlite:///{folder / 'reference.db'}"
    for kind in ("customers", "feedback"):
        done = cxml(["ingest", kind, f"w/{kind}.csv"], folder, CXML_DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
    return url


def test_an_ingest_cut_by_a_database_crash_completes_on_rerun_without_loss_or_doubles(
    tmp_path: Path,
) -> None:
    cluster = Cluster()
    try:
        url = cluster.url()
        made = cxml(["demo-data", "--customers", "4000", "--out", "w", "--seed", "9"], tmp_path)
        assert made.returncode == 0, made.stderr
        assert (
            cxml(
                ["ingest", "customers", "w/customers.csv"], tmp_path, CXML_DATABASE_URL=url
            ).returncode
            == 0
        )
        # The reference: the same file into a SQLite store, undisturbed.
        reference = reference_store(tmp_path)
        env = {**os.environ, "CXML_DATABASE_URL": url, "CXML_INGEST_BATCH_ROWS": "500"}
        ingest = subprocess.Popen(
            [CXML, "ingest", "feedback", "w/feedback.csv", "--json"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while count(url) == 0:  # a batch or two are in: crash the database now
            assert ingest.poll() is None and time.monotonic() < deadline, "ingest ended too soon"
            time.sleep(0.05)
        cluster.stop()
        out, err = ingest.communicate(timeout=120)
        assert ingest.returncode == 5, out + err
        assert "Traceback" not in err and err.startswith("error [CX501]: the store failed")
        cluster.start()
        kept = count(url)
        assert 0 < kept < count(reference)
        again = cxml(
            ["ingest", "feedback", "w/feedback.csv", "--json"], tmp_path, CXML_DATABASE_URL=url
        )
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout[again.stdout.index("{") :])
        assert (
            report["read"]
            == report["accepted"] + report["updated"] + report["unchanged"] + report["rejected"]
        )
        assert report["unchanged"] >= kept - report["updated"]
        assert count(url) == count(reference)  # nothing lost, nothing doubled
        assert count(url, "rejects") >= count(reference, "rejects")
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo world with its store on one private cluster and its MLflow registry on another,
    served by a real `cxml serve` with two workers."""
    folder = tmp_path_factory.mktemp("faults")
    store, registry = Cluster(), Cluster(("registry",))
    env = {"CXML_DATABASE_URL": store.url(), "CXML_MLFLOW_TRACKING_URI": registry.url("registry")}
    try:
        made = cxml(["demo", "--customers", "300", "--seed", "5", "--no-serve"], folder, **env)
        assert made.returncode == 0, made.stderr[-3000:]
        admin = new_key(folder, store.url(), "admin")
        yield {"folder": folder, "store": store, "registry": registry, "env": env, "admin": admin}
    finally:
        store.close()
        registry.close()


def _served(crashable: dict[str, Any], workers: int = 1) -> Any:
    folder = crashable["folder"]
    server = Server.__new__(Server)
    server.port = free_port()
    server.base = f"http://127.0.0.1:{server.port}"
    server.log = open(folder / f"serve-{server.port}.log", "w")  # noqa: SIM115 - closed in stop()
    server.process = subprocess.Popen(
        [CXML, "serve", "--port", str(server.port), "--workers", str(workers), "--log-level", "warning"],
        cwd=folder,
        env={**os.environ, **crashable["env"], "CXML_MODEL_POLL_SECONDS": "0"},
        stdout=server.log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError((folder / server.log.name).read_text())


def test_score_requests_fail_fast_naming_the_database_while_it_is_down_then_recover(
    crashable: dict[str, Any],
) -> None:
    server = _served(crashable)
    headers = {"X-API-Key": crashable["admin"]}
    try:
        ids = [
            i["customer_id"]
            for i in httpx.get(
                f"{server.base}/v1/at-risk", params={"limit": 20}, headers=headers
            ).json()["items"]
        ]
        body = {"customers": [{"customer_id": c} for c in ids[:3]]}

        def score() -> httpx.Response:
            return httpx.post(
                f"{server.base}/v1/score",
                params={"fresh": "true"},
                json=body,
                headers=headers,
                timeout=30,
            )

        assert score().status_code == 200
        crashable["store"].stop()
        try:
            for _ in range(5):
                started = time.monotonic()
                down = score()
                assert down.status_code == 503, down.text
                assert "database" in down.json()["detail"] and time.monotonic() - started < 5
        finally:
            crashable["store"].start()
        deadline = time.monotonic() + 20
        while (answer := score()).status_code != 200:  # back by itself, no restart of cxml
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.5)
        assert all(r["probability"] is not None for r in answer.json()["results"])
    finally:
        server.stop()


def test_with_the_registry_gone_reload_says_so_and_the_loaded_models_keep_serving(
    crashable: dict[str, Any],
) -> None:
    server = _served(crashable)
    headers = {"X-API-Key": crashable["admin"]}
    try:
        customer = httpx.get(
            f"{server.base}/v1/at-risk", params={"limit": 1}, headers=headers
        ).json()["items"][0]["customer_id"]
        crashable["registry"].stop()
        try:
            reload = httpx.post(f"{server.base}/v1/models/reload", headers=headers, timeout=60)
            assert reload.status_code == 503 and "registry" in reload.json()["detail"], reload.text
            scored = httpx.post(
                f"{server.base}/v1/score",
                params={"fresh": "true"},
                json={"customers": [{"customer_id": customer}]},
                headers=headers,
                timeout=30,
            )
            assert scored.status_code == 200 and scored.json()["results"][0]["probability"] > 0
            assert httpx.get(f"{server.base}/v1/models", headers=headers).json()["churn"]["version"]
        finally:
            crashable["registry"].start()
        assert (
            httpx.post(f"{server.base}/v1/models/reload", headers=headers, timeout=120).status_code
            == 200
        )
    finally:
        server.stop()


def test_a_worker_killed_under_load_costs_only_its_requests_in_flight(
    crashable: dict[str, Any],
) -> None:
    server = _served(crashable, workers=2)
    headers = {"X-API-Key": crashable["admin"]}
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get("/v1/at-risk", params={"limit": 5}).status_code)
                except httpx.HTTPError:
                    statuses.append(0)
                time.sleep(0.01)

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
        ).stdout.split()
        workers = [int(pid) for pid in children]
        assert len(workers) >= 2, children
        before = len(statuses)
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(6)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        after = statuses[before:]
        failed = [s for s in after if s != 200]
        assert len(after) > 100 and len(failed) <= 4, (len(after), failed)  # ≤ one per client
        assert statuses[-20:] == [200] * 20  # the others (and the replacement) keep answering
        assert httpx.get(f"{server.base}/healthz").status_code == 200
    finally:
        stop.set()
        server.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB filesystem mounted for the test (tmpfs)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.fail(f"cannot mount a small filesystem for the disk-full test: {made.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_stops_an_ingest_with_a_clear_error_and_no_half_batch(
    tmp_path: Path, tiny_disk: Path
) -> None:
    made = cxml(["demo-data", "--customers", "3000", "--out", "w", "--seed", "4"], tmp_path)
    assert made.returncode == 0, made.stderr
    url = f"sqlite:///{tiny_disk / 'cxml.db'}"
    assert (
        cxml(["ingest", "customers", "w/customers.csv"], tmp_path, CXML_DATABASE_URL=url).returncode
        == 0
    )
    full = cxml(
        ["ingest", "feedback", "w/feedback.csv"],
        tmp_path,
        CXML_DATABASE_URL=url,
        CXML_INGEST_BATCH_ROWS="1000",
    )
    assert full.returncode == 5, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    assert full.stderr.startswith("error [CX501]: the store failed: database or disk is full")
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        stored = {r[0] for r in connection.execute(text("SELECT feedback_id FROM feedback"))}
    engine.dispose()
    # Whole batches only: each batch of 1,000 file rows is in entirely (its valid rows) or not
    # at all, and the ones in are the first ones.
    reference = reference_store(tmp_path)
    engine = create_engine(reference)
    with engine.connect() as connection:
        valid = {r[0] for r in connection.execute(text("SELECT feedback_id FROM feedback"))}
    engine.dispose()
    rows = pd.read_csv(tmp_path / "w" / "feedback.csv", dtype=str, keep_default_na=False)
    batches = [
        {i for i in rows["feedback_id"].iloc[start : start + 1000] if i in valid}
        for start in range(0, len(rows), 1000)
    ]
    whole = [batch <= stored for batch in batches]
    assert all(batch <= stored or not (batch & stored) for batch in batches)
    assert 0 < sum(whole) < len(batches) and whole == sorted(whole, reverse=True)
    assert stored == set().union(*(b for b, w in zip(batches, whole, strict=True) if w))
