"""The score job says which churn model scores, where it came from and which store it learnt
from; it warns when that store is not the one scored, and without a model it says which
command trains one. The stores are small and new; the model is the shared trained world's."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxml.errors import ModelNotFoundError
from cxml.ingest import ingest_file
from cxml.jobs.score import ScoreRequest, run_score
from cxml.jobs.serving import churn_model, churn_origin
from cxml.settings import Settings
from cxml.store import Store
from cxml.tracking import CHURN_MODEL, version_params
from tests.conftest import NOW, Trained, working_directory
from tests.states import cxml

#: What each new store holds: (customers file, feedback file; None: not loaded).
FILLED = {
    "empty": (None, None),
    "anonymous_only": (None, "feedback_id,created_at,nps\nA1,2025-03-01,9\nA2,2025-03-02,4\n"),
    "one_customer": ("customer_id,signup_date\nC1,2024-01-01\n", None),
}


def _new_store(tmp_path: Path, filled: str, settings: Settings) -> Store:
    store = Store.open(settings)
    customers, answers = FILLED[filled]
    for kind, text, anonymous in (("customers", customers, False), ("feedback", answers, True)):
        if text is not None:
            (tmp_path / f"{kind}.csv").write_text(text, encoding="utf-8")
            path = tmp_path / f"{kind}.csv"
            ingest_file(store, kind, path, settings=settings, now=NOW, anonymous=anonymous)
    return store


def test_a_store_trained_model_records_its_store_and_scoring_it_there_warns_of_nothing(
    trained: Trained,
) -> None:
    settings, store = trained.settings["sqlite"], trained.stores["sqlite"]
    with working_directory(trained.folder):
        assert version_params(settings, CHURN_MODEL, trained.version)["store"] == store.url
        origin = churn_origin(settings, churn_model(settings, mode="store"), scoring=store.url)
    assert origin.trained_on == store.url and not origin.other_store
    assert origin.warning is None
    assert origin.describe() == (
        f"model: the champion of cxml-churn (version {trained.version}), from the MLflow "
        f"registry at {settings.mlflow_tracking_uri}; trained on the store at {store.url}"
    )


@pytest.mark.parametrize(
    ("filled", "scored"), [("empty", 0), ("anonymous_only", 0), ("one_customer", 1)]
)
def test_scoring_a_store_with_another_stores_champion_says_so(
    trained: Trained, tmp_path: Path, filled: str, scored: int
) -> None:
    registry = trained.settings["sqlite"].mlflow_tracking_uri  # the world's, not this store's
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cxml.db'}", mlflow_tracking_uri=registry
    )
    store = _new_store(tmp_path, filled, settings)
    said: list[str] = []
    try:
        with working_directory(trained.folder):
            result = run_score(
                settings, lambda: store, ScoreRequest(as_of=trained.as_of), now=NOW, say=said.append
            )
    finally:
        store.close()
    assert result.count == scored
    origin = result.origin
    assert origin is not None and origin.other_store
    assert (origin.trained_on, origin.scoring) == (trained.stores["sqlite"].url, store.url)
    assert said[0] == origin.describe() and said[1] == origin.warning
    assert said[1].startswith(
        f"warning: cxml-churn version {trained.version} was trained on another store "
        f"({trained.stores['sqlite'].url}), not the one it scores ({store.url})"
    )
    assert "`cxml train churn`" in said[1]


def test_the_cli_names_the_model_and_warns_before_scoring(trained: Trained, tmp_path: Path) -> None:
    _new_store(
        tmp_path, "one_customer", Settings(database_url=f"sqlite:///{tmp_path / 'cxml.db'}")
    ).close()
    ran = cxml(trained.folder, f"sqlite:///{tmp_path / 'cxml.db'}", "score")
    assert ran.code == 0, ran.err
    lines = ran.err.splitlines()
    assert lines[0].startswith(
        f"model: the champion of cxml-churn (version {trained.version}), from the MLflow "
        f"registry at sqlite:///{trained.folder / 'mlflow.db'}; trained on the store at "
    )
    assert lines[1].startswith("warning: cxml-churn version") and str(tmp_path) in lines[1]
    assert ran.out.startswith("1 customers scored with cxml-churn version")


@pytest.mark.parametrize("registry", ["sqlite:///mlflow.db", "sqlite:///{folder}/registry.db"])
def test_without_a_model_scoring_says_where_it_looked_and_which_command_trains_one(
    tmp_path: Path, registry: str
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cxml.db'}",
        mlflow_tracking_uri=registry.format(folder=tmp_path),
    )
    store = _new_store(tmp_path, "one_customer", settings)
    try:
        with working_directory(tmp_path), pytest.raises(ModelNotFoundError) as raised:
            run_score(settings, lambda: store, ScoreRequest(), now=NOW)
    finally:
        store.close()
    message = str(raised.value)
    where = f"{tmp_path / 'mlflow.db'}" if registry == "sqlite:///mlflow.db" else "registry.db"
    assert message.startswith("no cxml-churn champion in the MLflow registry at sqlite:///")
    assert where in message and "train one on the store with `cxml train churn`" in message
    assert not (tmp_path / "mlflow.db").exists()  # looking made no registry
