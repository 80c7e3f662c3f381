"""The monthly retrain reaches production: the champion is graded on the challenger's own
backtest, and the gate promotes or refuses on that comparison."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from typing import Any

import pandas as pd
import pytest

from cxml.demo import World, generate
from cxml.jobs.promote import overlap_note, promote_churn
from cxml.jobs.train_churn import train_churn
from cxml.settings import Settings
from cxml.store import Store
from cxml.tracking import churn_champion_version, churn_versions
from tests.conftest import CXML, load_world, working_directory

pytestmark = pytest.mark.slow  # four churn trainings on a 1,500-customer world
END = pd.Timestamp("2025-06-30")
EARLIER = END - pd.Timedelta(days=90)


@pytest.fixture(scope="module")
def growing(tmp_path_factory: pytest.TempPathFactory, demo_text_pipeline: Any) -> dict[str, Any]:
    """Champions trained 90 days ago — a weak one (no text, two snapshots) and a strong one
    (text, four snapshots) — then the store catches up."""
    folder = tmp_path_factory.mktemp("gate")
    world: World = generate(1500, seed=21, end=date(2025, 6, 30))
    url = f"sqlite:///{folder / 'cxml.db'}"
    store = Store.open(url)
    registries = {
        name: Settings(database_url=url, mlflow_tracking_uri=f"sqlite:///{folder}/{name}.db")
        for name in ("weak", "strong")
    }
    load_world(
        store,
        registries["weak"],
        world,
        folder / "then",
        before=EARLIER,
        pipeline=demo_text_pipeline,
    )
    with working_directory(folder):
        train_churn(registries["weak"], store=store, as_of=EARLIER, with_text=False, n_snapshots=2)
        train_churn(registries["strong"], store=store, as_of=EARLIER, with_text=True)
    load_world(store, registries["weak"], world, folder / "now", pipeline=demo_text_pipeline)
    return {"store": store, "registries": registries, "folder": folder}


@pytest.mark.parametrize(
    ("registry", "with_text", "n_snapshots", "promoted"),
    [("weak", True, 4, True), ("strong", False, 2, False)],
)
def test_a_retrain_on_newer_data_is_promoted_or_refused_on_one_yardstick(
    growing: dict[str, Any], registry: str, with_text: bool, n_snapshots: int, promoted: bool
) -> None:
    settings = growing["registries"][registry]
    store = growing["store"]
    with working_directory(growing["folder"]):
        challenger = train_churn(
            settings, store=store, as_of=END, with_text=with_text, n_snapshots=n_snapshots
        )
        assert challenger["champion_comparison"] == "graded"  # graded at training, on its backtest
        decision = promote_churn(settings, challenger["version"], store=store)
    assert decision.challenger == "2" and decision.champion == "1"
    assert decision.challenger_score == challenger["grades"]["model"]["roc_auc"]
    assert decision.champion_score == challenger["champion_grades"]["roc_auc"]
    gap = decision.challenger_score - decision.champion_score
    assert decision.promoted is promoted is (gap >= settings.promote_margin)
    assert churn_champion_version(settings) == ("2" if promoted else "1")
    logged = churn_versions(settings)[-1]
    assert logged.metrics["champion_roc_auc"] == decision.champion_score
    if not promoted:
        assert "loses to champion 1" in decision.reason or "under the margin" in decision.reason
        # as a user sees it: the gate still refuses, and scores say which version made them
        refused = cxml(["promote"], growing, settings)
        assert refused.returncode == 6 and refused.stdout.startswith("refused: version 2")
        scored = cxml(["score", "--as-of", str(END.date()), "--top", "1"], growing, settings)
        assert scored.returncode == 0, scored.stderr
        assert "version 2 is newer than version 1" in scored.stderr
        assert "--version 2" in scored.stderr
        explicit = cxml(
            ["score", "--as-of", str(END.date()), "--version", "2", "--out", "v2.csv"],
            growing,
            settings,
        )
        assert explicit.returncode == 0, explicit.stderr
        assert "is newer" not in explicit.stderr
        written = pd.read_csv(growing["folder"] / "v2.csv", dtype={"model_version": str})
        assert set(written["model_version"]) == {"2"}


def cxml(
    args: list[str], growing: dict[str, Any], settings: Settings
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CXML_DATABASE_URL": settings.database_url,
        "CXML_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
    }
    return subprocess.run(
        [CXML, *args],
        cwd=growing["folder"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_retrain_routine_runs_end_to_end(growing: dict[str, Any]) -> None:
    settings = growing["registries"]["weak"]
    done = cxml(["retrain", "--as-of", "2025-07-01", "--json"], growing, settings)
    assert done.returncode in (0, 6), done.stderr
    result = json.loads(done.stdout)
    text, churn = result["models"]
    assert text["model"] == "cxml-text"
    assert text["decision"].startswith(("promoted: ", "kept the champion: "))
    assert (text["champion_now"] == text["trained"]) is result["text_promoted"]
    assert churn["model"] == "cxml-churn" and churn["champion_before"] is not None
    assert churn["decision"].startswith(("promoted: ", "kept the champion: "))
    assert (churn["champion_now"] == churn["trained"]) is result["churn_promoted"]
    assert done.returncode == (0 if result["churn_promoted"] else 6)
    assert churn_champion_version(settings) == churn["champion_now"]


def test_a_champion_that_saw_the_backtests_outcomes_is_said_to_be_favoured(
    growing: dict[str, Any],
) -> None:
    settings = growing["registries"]["strong"]  # champion 1 knows churn until EARLIER
    assert overlap_note(settings, "1", EARLIER) is None
    note = overlap_note(settings, "1", EARLIER - pd.Timedelta(days=30))
    assert note is not None and "30 days into this backtest's outcome window" in note
