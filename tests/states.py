"""The states of a store that users meet, built the way a user builds them (the real `cxml`
commands, run in this process), for the state matrix in ``tests/test_states.py``.

Each state is a folder with its own store (``cxml.db``, or a PostgreSQL schema), its own MLflow
registry (``mlflow.db``) and the files it was loaded from. The trained ones are copies of one
base built once: ingested, text model trained, comments analysed, churn model trained, scored.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from cxml.demo import World, write_world


@dataclass
class Ran:
    """One `cxml` command: its exit code and what it printed."""

    args: list[str]
    code: int
    out: str
    err: str


@dataclass
class State:
    """A store in one state, with what the sweeps need to address it."""

    name: str
    folder: Path
    database_url: str
    files: dict[str, str] = field(default_factory=dict)
    customer_id: str | None = None  # a customer of this store, when it has one
    has_churn_model: bool = False

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.folder / 'mlflow.db'}"

    def cxml(self, *args: str) -> Ran:
        return cxml(self.folder, self.database_url, *args)


@contextmanager
def _environment(folder: Path, database_url: str) -> Iterator[None]:
    saved = dict(os.environ)
    previous = Path.cwd()
    os.environ["CXML_DATABASE_URL"] = database_url
    os.environ["CXML_MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    os.chdir(folder)  # MLflow's local artifacts go below the working directory
    try:
        yield
    finally:
        os.chdir(previous)
        os.environ.clear()
        os.environ.update(saved)


def cxml(folder: Path, database_url: str, *args: str) -> Ran:
    """The real `cxml` console entry point, in this process, with the store and MLflow of
    ``folder``."""
    from cxml.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _environment(folder, database_url), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as done:  # a command's own exit status (e.g. 6: promote refused)
            code = int(done.code or 0)
    return Ran(list(args), code, out.getvalue(), err.getvalue())


def must(ran: Ran) -> Ran:
    assert ran.code == 0, f"cxml {' '.join(ran.args)} → {ran.code}: {ran.err[-2000:]}"
    return ran


def copy_state(source: State, name: str, root: Path, **changes: object) -> State:
    """A copy of a SQLite state (its store and its registry) under a new name."""
    folder = root / name
    folder.mkdir()
    for file in ("cxml.db", "mlflow.db"):
        if (source.folder / file).exists():
            with (
                sqlite3.connect(source.folder / file) as old,
                sqlite3.connect(folder / file) as new,
            ):
                old.backup(new)
    if (source.folder / "mlruns").exists():
        shutil.copytree(source.folder / "mlruns", folder / "mlruns")
    values = {
        "files": source.files,
        "customer_id": source.customer_id,
        "has_churn_model": source.has_churn_model,
        **changes,
    }
    return State(name, folder, f"sqlite:///{folder / 'cxml.db'}", **values)  # type: ignore[arg-type]


def sql(state: State, *statements: str) -> None:
    """Change a SQLite state directly (what a later export would have said)."""
    with sqlite3.connect(state.folder / "cxml.db") as connection:
        for statement in statements:
            connection.execute(statement)


def new_state(name: str, root: Path, database_url: str | None = None) -> State:
    folder = root / name
    folder.mkdir()
    return State(name, folder, database_url or f"sqlite:///{folder / 'cxml.db'}")


def write_files(
    world: World, folder: Path, keep: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> dict[str, str]:
    """The world's customers, feedback and taxonomy files (feedback filtered by ``keep``)."""
    files = write_world(world, folder)
    if keep is not None:
        feedback = pd.read_csv(files["feedback"], dtype=str, keep_default_na=False)
        keep(feedback).to_csv(files["feedback"], index=False)
    return files


def ingest(state: State, *kinds: str) -> None:
    for kind in kinds:
        must(state.cxml("ingest", kind, state.files[kind]))


def build_states(world: World, root: Path, postgres_url: Callable[[], str]) -> dict[str, State]:
    """Every state of the matrix (SQLite), plus empty, first-day and full on PostgreSQL."""
    root.mkdir(parents=True, exist_ok=True)
    files = write_files(world, root / "files")
    first_id = str(pd.read_csv(files["customers"], dtype=str)["customer_id"].iloc[0])
    states: dict[str, State] = {}

    states["empty"] = new_state("empty", root)
    must(states["empty"].cxml("db", "upgrade"))

    only = new_state("customers_only", root)
    only.files, only.customer_id = files, first_id
    ingest(only, "customers")
    states[only.name] = only

    held = new_state("feedback_only", root)  # no customers file: every row waits for its customer
    held.files = files
    ingest(held, "feedback")
    states[held.name] = held

    quarantine = new_state("all_held", root)  # customers of other ids: all feedback held
    quarantine.files = dict(files)
    others = pd.read_csv(files["customers"], dtype=str, keep_default_na=False)
    others["customer_id"] = "X" + others["customer_id"]
    quarantine.files["customers"] = str(quarantine.folder / "customers.csv")
    others.to_csv(quarantine.files["customers"], index=False)
    ingest(quarantine, "feedback", "customers")
    quarantine.customer_id = str(others["customer_id"].iloc[0])
    states[quarantine.name] = quarantine

    raw = new_state("no_text_model", root)  # loaded, nothing trained or analysed
    raw.files, raw.customer_id = files, first_id
    ingest(raw, "customers", "feedback")
    states[raw.name] = raw

    no_churn = copy_state(raw, "no_churn_model", root)
    must(no_churn.cxml("train", "text", "--taxonomy", files["taxonomy"]))
    must(no_churn.cxml("analyze", "--store"))
    states[no_churn.name] = no_churn

    trained = copy_state(no_churn, "trained_not_scored", root, has_churn_model=True)
    must(trained.cxml("train", "churn"))
    states[trained.name] = trained

    first_day = copy_state(trained, "first_day", root)
    must(first_day.cxml("score"))
    states[first_day.name] = first_day

    one_follow_up = copy_state(first_day, "one_follow_up", root)
    from cxml.followups import open_follow_up
    from cxml.settings import Settings
    from cxml.store import Store

    store = Store.open(Settings(database_url=one_follow_up.database_url))
    try:
        open_follow_up(store, first_id, {"owner": "Aiko"}, actor="test", now=datetime.now())
    finally:
        store.close()
    states[one_follow_up.name] = one_follow_up

    full = copy_state(first_day, "full", root)
    _plant_follow_ups(full)
    states[full.name] = full

    one = copy_state(trained, "one_customer", root)
    sql(
        one,
        "DELETE FROM feedback_analysis WHERE feedback_id IN "
        f"(SELECT feedback_id FROM feedback WHERE customer_id <> '{first_id}')",
        f"DELETE FROM feedback WHERE customer_id <> '{first_id}'",
        f"DELETE FROM customers WHERE customer_id <> '{first_id}'",
    )
    must(one.cxml("score"))
    states[one.name] = one

    gone = copy_state(first_day, "all_churned", root)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    sql(gone, f"UPDATE customers SET churn_date = '{yesterday}'")
    states[gone.name] = gone

    stayed = copy_state(first_day, "none_churned", root)
    sql(stayed, "UPDATE customers SET churn_date = NULL")
    states[stayed.name] = stayed

    japanese = new_state("japanese_only", root)
    japanese.files = write_files(
        world, japanese.folder, keep=lambda f: f[f["text"].str.contains(r"[\u3040-\u30ff]")]
    )
    japanese.customer_id = first_id
    ingest(japanese, "customers", "feedback")
    must(japanese.cxml("train", "text", "--taxonomy", japanese.files["taxonomy"]))
    must(japanese.cxml("analyze", "--store"))
    states[japanese.name] = japanese

    backdated = copy_state(trained, "backdated_scores", root)
    must(backdated.cxml("score", "--as-of", (date.today() - timedelta(days=200)).isoformat()))
    states[backdated.name] = backdated

    promoted = copy_state(first_day, "promoted_not_used", root)
    must(promoted.cxml("train", "churn", "--horizon", "60"))
    must(promoted.cxml("promote", "--model", "churn", "--force"))
    states[promoted.name] = promoted

    for name in ("empty", "first_day", "full"):
        states[f"{name}_postgresql"] = _on_postgresql(states[name], root, postgres_url())
    return states


def _plant_follow_ups(state: State) -> None:
    """The retention team's last months, as the demo records them."""
    from cxml.demo_team import plant_follow_ups
    from cxml.settings import Settings
    from cxml.store import Store
    from cxml.tracking import load_churn_for_mode

    settings = Settings(database_url=state.database_url, mlflow_tracking_uri=state.mlflow_uri)
    store = Store.open(settings)
    try:
        with _environment(state.folder, state.database_url):
            predictor, version = load_churn_for_mode(settings, "store")
            plant_follow_ups(
                store,
                settings,
                predictor,
                model_version=version,
                today=datetime.now(),
                folder=state.folder,
                seed=1,
            )
    finally:
        store.close()


def _on_postgresql(source: State, root: Path, url: str) -> State:
    """The same state on PostgreSQL: the same files loaded, analysed and scored with the
    source's registry (copied), and the source's follow-ups."""
    state = copy_state(source, f"{source.name}_postgresql", root)
    state.database_url = url
    (state.folder / "cxml.db").unlink(missing_ok=True)
    must(state.cxml("db", "upgrade"))
    if source.name == "empty":
        return state
    ingest(state, "customers", "feedback")
    must(state.cxml("analyze", "--store"))
    must(state.cxml("score"))
    if source.name == "full":
        _plant_follow_ups(state)
    return state
