"""MLflow as cxml uses it: nothing registered is not an error; a registry out of reach is."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxml.churn.predictor import ChurnPredictor
from cxml.errors import ModelNotFoundError, RegistryError
from cxml.jobs.promote import promote_churn
from cxml.settings import Settings
from cxml.tracking import (
    CHURN_MODEL,
    TEXT_MODEL,
    as_predictor,
    champion_version,
    load_churn_champion,
    load_text_champion,
    registry_location,
)
from tests.conftest import Trained, working_directory


def test_a_fresh_install_has_no_champion_and_says_how_to_get_one(tmp_path: Path) -> None:
    settings = Settings(mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with working_directory(tmp_path):
        assert load_text_champion(settings) is None
        assert champion_version(settings, CHURN_MODEL) is None
        with pytest.raises(ModelNotFoundError, match="cxml train churn"):
            load_churn_champion(settings)
        with pytest.raises(ModelNotFoundError, match="cxml train churn"):
            promote_churn(settings)


@pytest.mark.parametrize("uri", ["sqlite:///mlflow.db", "sqlite:///{folder}/mlflow.db"])
def test_asking_a_registry_not_made_yet_for_its_champion_makes_none(
    tmp_path: Path, uri: str
) -> None:
    """A command that only reads (`cxml analyze --input`) leaves no mlflow.db behind: a SQLite
    registry that does not exist yet has nothing registered, MLflow is not asked."""
    settings = Settings(mlflow_tracking_uri=uri.format(folder=tmp_path))
    with working_directory(tmp_path):
        assert load_text_champion(settings) is None
        assert champion_version(settings, CHURN_MODEL) is None
        with pytest.raises(ModelNotFoundError, match="cxml train churn"):
            load_churn_champion(settings)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db ({folder}/mlflow.db)"),  # the default
        ("sqlite:///{folder}/mlflow.db", "sqlite:///{folder}/mlflow.db"),
        ("postgresql://cx:secret@db:5432/mlflow", "postgresql://cx:***@db:5432/mlflow"),
        ("http://mlflow.internal:5000", "http://mlflow.internal:5000"),
    ],
)
def test_the_registry_is_named_where_a_person_can_find_it(
    tmp_path: Path, uri: str, shown: str
) -> None:
    settings = Settings(mlflow_tracking_uri=uri.format(folder=tmp_path))
    with working_directory(tmp_path):
        assert registry_location(settings) == shown.format(folder=tmp_path.resolve())


def test_a_registry_out_of_reach_is_an_error_not_a_fresh_install(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    settings = Settings(mlflow_tracking_uri=f"sqlite:///{tmp_path / 'a-file' / 'm.db'}")
    with pytest.raises(RegistryError, match="cannot be"):
        load_text_champion(settings)
    with pytest.raises(RegistryError):
        champion_version(settings, TEXT_MODEL)


def test_the_champion_loads_as_one_predictor_and_old_bundles_still_do(trained: Trained) -> None:
    with working_directory(trained.folder):
        predictor, version = load_churn_champion(trained.settings["sqlite"])
    assert isinstance(predictor, ChurnPredictor) and version == trained.version
    assert predictor.columns == trained.predictor.columns
    old = {
        "model": predictor.estimator,
        "mode": "store",
        "columns": list(predictor.columns),
        "theme_ids": list(predictor.spec.theme_ids),
        "channels": list(predictor.spec.channels),
        "horizon_days": 90,
        "with_text": True,
        "base_rate": 0.05,
        "churn_definition": {"kind": "subscription"},
        "theme_labels": {},
    }
    converted = as_predictor(old)
    assert converted.spec is not None and converted.spec.columns() == list(predictor.columns)
