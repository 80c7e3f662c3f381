"""The drift job (``cxml.jobs.drift``) on a real store: the windows its request names, kept or
not, on the demo world and on an empty store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cxml.demo import World
from cxml.jobs.drift import DriftRequest, run_drift
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.drift import latest_report
from tests.conftest import NOW, load_world, working_directory

TODAY = pd.Timestamp(NOW).normalize()


@pytest.fixture
def local_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The store's settings with an MLflow of the test's own (no churn model registered)."""
    return settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"})


@pytest.mark.parametrize(
    ("request_", "reference", "current"),
    [
        (DriftRequest(keep=False), "2025-03-01..2025-05-31", "2025-06"),
        (DriftRequest("2025-Q1", "2025-04", keep=False), "2025-Q1", "2025-04"),
    ],
)
def test_drift_compares_the_periods_asked_for_on_the_demo_world(
    store: Store,
    local_settings: Settings,
    world: World,
    demo_text_pipeline: Any,
    tmp_path: Path,
    request_: DriftRequest,
    reference: str,
    current: str,
) -> None:
    load_world(store, local_settings, world, tmp_path, pipeline=demo_text_pipeline)
    with working_directory(tmp_path):
        drift = run_drift(local_settings, store, request_, today=TODAY, made_at=NOW)
    report = drift.report
    assert (report["reference"]["label"], report["current"]["label"]) == (reference, current)
    assert report["mixes"]["channel"]["rows"]  # the demo world has feedback in both windows
    assert drift.alerts == report["alerts"]
    assert "report_id" not in report and latest_report(store) is None  # not kept


def test_drift_on_the_first_day_is_kept_with_no_alerts(
    store: Store, local_settings: Settings, tmp_path: Path
) -> None:
    with working_directory(tmp_path):
        drift = run_drift(local_settings, store, DriftRequest(), today=TODAY, made_at=NOW)
    assert drift.alerts == []
    assert drift.report["performance"] is None  # no churn model to check
    kept = latest_report(store)
    assert kept is not None and kept["report_id"] == drift.report["report_id"]
