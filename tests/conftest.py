"""Shared fixtures: a real store on SQLite and on PostgreSQL, a small demo world.

PostgreSQL is expected at 127.0.0.1:5432 (trust auth, database ``test``) on every
machine, CI included; ``CXML_TEST_POSTGRES_URL`` points elsewhere. When it cannot
be reached the PostgreSQL tests fail, they never skip.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from cxml.demo import World, generate, write_world
from cxml.settings import Settings
from cxml.store import Store

POSTGRES_URL = os.environ.get(
    "CXML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CXML = str(Path(sys.executable).parent / "cxml")
WORLD_END = date(2025, 6, 30)
NOW = datetime(2025, 7, 1, 12, 0, 0)


#: The served worlds (a demo trained, scored and served; minutes to build): under pytest-xdist
#: (``make test`` runs two workers) every test that reads one goes to the same worker, so each is
#: built once. ``trained`` (a minute) is read by too many modules to tie them to one worker.
SHARED_WORLDS = ("served", "served_sqlite_world")
_BUILT: set[str] = set()


def built_once(world: str) -> None:
    """Fail when a served world is built a second time in one process: its tests were not
    kept together, so the grouping above stopped working (under pytest 9.2 and pytest-xdist
    3.8, ``--dist loadgroup`` silently hands tests out one by one: pytest-xdist#1386)."""
    if world in _BUILT:
        pytest.fail(
            f"the served world {world!r} is being built a second time in this process: the "
            "tests that read it were not kept together (see SHARED_WORLDS in tests/conftest.py), "
            "or its first build failed (see that error above)"
        )
    _BUILT.add(world)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests for ``--dist loadgroup``: by the shared world they read (and its database),
    otherwise by module, so a module's own fixtures are built on one worker only."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        world = next((name for name in SHARED_WORLDS if name in names), None)
        if world is None:
            group = item.nodeid.split("::", 1)[0]
        else:
            callspec = getattr(item, "callspec", None)
            database = callspec.params.get(world) if callspec is not None else None
            group = f"{world}-{database}" if database else world
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[object]:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect is a failed test run, never a skip
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc}). It must run for the tests: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@contextmanager
def postgres_schema(engine: Any) -> Iterator[str]:
    """A new PostgreSQL schema, as a store URL; dropped with everything in it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cxml.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_engine")) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, ingest_batch_rows=1000)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store.open(settings)
    yield store
    store.close()


@pytest.fixture(scope="session")
def world() -> World:
    return generate(300, seed=3, end=WORLD_END)


@pytest.fixture(scope="session")
def demo_text_pipeline(world: World, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A text pipeline fitted on the shared world with the demo taxonomy (stable theme ids)."""
    from cxml.demo import DEMO_TAXONOMY
    from cxml.text.pipeline import TextPipeline
    from cxml.text.themes import Taxonomy, ThemeModel

    path = tmp_path_factory.mktemp("taxonomy") / "taxonomy.yaml"
    path.write_text(DEMO_TAXONOMY, encoding="utf-8")
    taxonomy = Taxonomy.from_yaml(path)
    frame = world.feedback.replace({"language": {"": None}})
    return TextPipeline(themes=ThemeModel(taxonomy=taxonomy)).fit(frame, taxonomy=taxonomy)


@pytest.fixture(scope="session")
def world_files(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_world(world, tmp_path_factory.mktemp("world"))


@contextmanager
def working_directory(folder: Path) -> Iterator[None]:
    """Run a block in ``folder`` (MLflow's local artifacts go below the working directory)."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def load_world(
    store: Store,
    settings: Settings,
    world: World,
    folder: Path,
    *,
    before: Any | None = None,
    analyse: bool = True,
    pipeline: Any | None = None,
) -> None:
    """Ingest ``world`` (only what was known before ``before``, when given) and analyse its
    comments with ``pipeline`` (default: the shipped text defaults)."""
    import pandas as pd

    from cxml.ingest import ingest_file
    from cxml.jobs.analyze import analyze_store
    from cxml.store.records import feedback_frame
    from cxml.text.training import analyze_feedback

    customers = world.customers.copy()
    feedback = world.feedback.copy()
    if before is not None:
        before = pd.Timestamp(before)
        customers = customers[pd.to_datetime(customers["signup_date"]) < before].copy()
        churn = pd.to_datetime(customers["churn_date"], errors="coerce")
        customers.loc[churn >= before, "churn_date"] = ""  # unknown at the snapshot
        feedback = feedback[pd.to_datetime(feedback["created_at"]) < before]
    folder.mkdir(parents=True, exist_ok=True)
    customers.to_csv(folder / "customers.csv", index=False)
    feedback.to_csv(folder / "feedback.csv", index=False)
    ingest_file(store, "customers", folder / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", folder / "feedback.csv", settings=settings, now=NOW)
    if analyse and pipeline is not None:
        ids = feedback_frame(store, with_text=True)["feedback_id"].tolist()
        analyze_feedback(store, pipeline, "test", ids, now=NOW)
    elif analyse:
        analyze_store(
            store,
            settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{folder}/mlflow.db"}),
            now=NOW,
        )


#: Names Japanese text keeps as they are written: a metric's, a survey's, channels'.
KEPT_IN_JAPANESE = frozenset({"NPS", "Qini", "LINE", "SMS", "WhatsApp"})


def english_words(text: str, *, named: Iterable[str] = ()) -> set[str]:
    """Runs of three or more Latin letters in ``text`` (English left in a Japanese sentence),
    besides commands in backticks, ``KEPT_IN_JAPANESE`` and ``named`` (ids and values from the
    data)."""
    words = set(re.findall(r"[A-Za-z_]{3,}", re.sub(r"`[^`]*`", "", text)))
    return words - KEPT_IN_JAPANESE - set(named)


def run_cxml(
    args: list[str], cwd: Path, *, database_url: str = "sqlite:///cxml.db", timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real `cxml` console script as a user would, with its own store and MLflow in ``cwd``."""
    env = {
        **os.environ,
        "CXML_DATABASE_URL": database_url,
        "CXML_MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
    }
    return subprocess.run(
        [CXML, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A real `cxml serve` (uvicorn) on loopback, in its own process."""

    def __init__(
        self, cwd: Path, database_url: str, *, log_level: str = "warning", **env: str
    ) -> None:
        import time

        import httpx

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(cwd / f"serve-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [CXML, "serve", "--port", str(self.port), "--log-level", log_level],
            cwd=cwd,
            env={
                **os.environ,
                "CXML_DATABASE_URL": database_url,
                "CXML_MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
                **env,
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # a guard, not a measurement: a cold start loading the models of a demo world takes over
        # 90 s on a 2-core machine that other test runs share
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cxml serve exited: {(cwd / self.log.name).read_text()}")
            try:
                httpx.get(f"{self.base}/healthz", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("cxml serve did not answer /healthz within 300 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def new_key(cwd: Path, database_url: str, *scopes: str) -> str:
    args = ["keys", "create", *[part for s in scopes for part in ("--scope", s)]]
    made = run_cxml(args, cwd, database_url=database_url)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@contextmanager
def demo_server(cwd: Path, url: str, dialect: str) -> Iterator[dict[str, object]]:
    """The demo world (300 customers) trained and scored into ``url``, served by real uvicorn."""
    made = run_cxml(
        ["demo", "--customers", "300", "--seed", "5", "--no-serve"], cwd, database_url=url
    )
    assert made.returncode == 0, made.stderr[-3000:]
    keys = {scope: new_key(cwd, url, scope) for scope in ("admin", "read", "score", "ingest")}
    keys["agent"] = new_key(cwd, url, "read", "act")  # a retention agent: reads, records follow-ups
    server = Server(cwd, url, CXML_MODEL_POLL_SECONDS="1")
    try:
        yield {
            "base": server.base,
            "keys": keys,
            "cwd": cwd,
            "url": url,
            "dialect": dialect,
            "demo_output": made.stdout,
            "demo_errors": made.stderr,
        }
    finally:
        server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    """A served demo world on SQLite, then on PostgreSQL (a schema of its own, dropped after).

    Built once per database for the whole session and shared by the HTTP tests split by route
    (``tests/serve/conftest.py`` says where they are) and ``tests/jobs/test_demo.py``: pytest
    runs every test on the SQLite world, then every test on the PostgreSQL one."""
    built_once(f"served-{request.param}")
    cwd = tmp_path_factory.mktemp(f"served-{request.param}")
    if request.param == "sqlite":
        with demo_server(cwd, f"sqlite:///{cwd / 'cxml.db'}", "sqlite") as served:
            yield served
        return
    with (
        postgres_schema(request.getfixturevalue("postgres_engine")) as url,
        demo_server(cwd, url, "postgresql") as served,
    ):
        yield served


@pytest.fixture(scope="session")
def served_sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One served demo world on SQLite for the test modules that need a trained model."""
    built_once("served_sqlite_world")
    cwd = tmp_path_factory.mktemp("served-world")
    with demo_server(cwd, f"sqlite:///{cwd / 'cxml.db'}", "sqlite") as served:
        yield served


@dataclass
class Trained:
    """The shared world loaded into SQLite and PostgreSQL, its text model and a churn model
    trained on it (MLflow in a folder of its own)."""

    stores: dict[str, Store]
    settings: dict[str, Settings]
    text_pipeline: Any
    predictor: Any
    version: str
    as_of: Any
    folder: Path
    result: dict[str, Any]

    def score(self, dialect: str = "sqlite", *, top: int = 0) -> Any:
        """Score every active customer of the world in ``dialect``'s store, as of the training
        instant, into that store (buckets of 64); the run's summary."""
        from cxml.batch import score_store

        return score_store(
            self.stores[dialect],
            self.predictor,
            as_of=self.as_of,
            model_version=self.version,
            scored_at=self.as_of.to_pydatetime(),
            bucket_customers=64,
            top=top,
        )


@pytest.fixture(scope="session")
def trained(
    world: World,
    demo_text_pipeline: Any,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_engine: Any,
) -> Iterator[Trained]:
    """One trained demo world for every test that needs a model (built once per session)."""
    import pandas as pd

    from cxml.jobs.train_churn import train_churn
    from cxml.tracking import load_churn_champion

    folder = tmp_path_factory.mktemp("trained")
    mlflow_uri = f"sqlite:///{folder / 'mlflow.db'}"
    with postgres_schema(postgres_engine) as postgres_url:
        urls = {"sqlite": f"sqlite:///{folder / 'cxml.db'}", "postgresql": postgres_url}
        settings = {
            name: Settings(database_url=url, mlflow_tracking_uri=mlflow_uri, bucket_customers=64)
            for name, url in urls.items()
        }
        stores = {name: Store.open(s) for name, s in settings.items()}
        for name, store in stores.items():
            load_world(store, settings[name], world, folder / name, pipeline=demo_text_pipeline)
        as_of = pd.Timestamp(WORLD_END)
        with working_directory(folder):  # MLflow keeps artifacts below the working directory
            result = train_churn(settings["sqlite"], store=stores["sqlite"], as_of=as_of)
            predictor, version = load_churn_champion(settings["sqlite"])
        try:
            yield Trained(
                stores, settings, demo_text_pipeline, predictor, version, as_of, folder, result
            )
        finally:
            for store in stores.values():
                store.close()
