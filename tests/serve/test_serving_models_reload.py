"""A reload swaps only the models whose version changed; the others keep serving as they are."""

from __future__ import annotations

import os
from pathlib import Path

import joblib

from cxml.settings import Settings
from cxml.text.training import default_pipeline
from serve.serving_models import Models


def test_a_reload_keeps_a_model_whose_version_did_not_change(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cxml.db'}",
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",  # an empty registry
        model_dir=str(tmp_path / "bundles"),
    )
    (tmp_path / "bundles").mkdir()
    bundle = tmp_path / "bundles" / "text.joblib"
    joblib.dump({"pipeline": default_pipeline(), "version": "7"}, bundle)
    models = Models(settings)
    first = models.load()
    assert first.text_version == "7" and first.churn is None and first.problems
    again = models.load()  # nothing changed: the very same pipeline object serves on
    assert again.text is first.text and again is models.current
    assert models.check() is False
    joblib.dump({"pipeline": default_pipeline(), "version": "8"}, bundle)
    os.utime(bundle, (1e9, 1e9))  # a new file identity even within the same second
    assert models.check() is True  # the poller sees the new bundle and loads it
    assert models.current.text is not first.text and models.current.text_version == "8"
