"""What a notebook opens: the store and the registry from one settings cell, with a demo world
made first when the store is empty — so every notebook in ``notebooks/`` runs out of the box
and, with one cell changed, on the user's own data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cxml.settings import Settings
from cxml.store import Store


@dataclass
class Workbench:
    settings: Settings
    store: Store
    now: datetime
    made_demo: bool


def open_workbench(
    database_url: str | None = None,
    mlflow_tracking_uri: str | None = None,
    *,
    demo_customers: int = 300,
    demo_folder: Path = Path("demo"),
    say: Callable[[str], None] = print,
) -> Workbench:
    """Settings from the environment (``CXML_*``), overridden by the arguments given; when the
    store holds no feedback, ``cxml demo``'s flow runs first on a world of ``demo_customers``."""
    from cxml.jobs.demo import run_demo
    from cxml.store.records import stats

    overrides = {
        k: v
        for k, v in (
            ("database_url", database_url),
            ("mlflow_tracking_uri", mlflow_tracking_uri),
        )
        if v
    }
    settings = Settings(**overrides)  # type: ignore[arg-type]
    store = Store.open(settings)
    now = datetime.now(UTC).replace(tzinfo=None)
    made = False
    if stats(store)["feedback"] == 0:
        run_demo(
            settings,
            store,
            n_customers=demo_customers,
            out=demo_folder,
            seed=5,
            now=now,
            say=lambda line: None,
        )
        made = True
        say(f"the store was empty: a demo world of {demo_customers} customers was made")
    return Workbench(settings=settings, store=store, now=now, made_demo=made)
