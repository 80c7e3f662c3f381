"""The drift job: has anything moved between two periods, checked with the churn model that
serves (``cxml.drift`` measures; this job picks the windows and the model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cxml.errors import ModelNotFoundError
from cxml.jobs.serving import churn_model
from cxml.settings import Settings
from cxml.store import Store


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class DriftRequest:
    """Which two periods to compare, and whether to keep the report.

    A period is 2025, 2025-Q1, 2025-03, 2025-03-15 or a range 2025-01-01..2025-03-31; the
    current one defaults to the last complete month, the reference to the three months
    before it."""

    reference: str | None = None
    current: str | None = None
    keep: bool = True  # log it to MLflow and keep it for GET /v1/drift (and send drift.alert)


@dataclass(frozen=True)
class Drift:
    """The drift report (as kept and served), and what the CLI needs of it."""

    report: dict[str, Any]

    @property
    def alerts(self) -> list[Any]:
        return list(self.report["alerts"])


def run_drift(
    settings: Settings,
    store: Store,
    request: DriftRequest,
    *,
    today: pd.Timestamp,
    made_at: Any,
    champion: tuple[Any, str] | None = None,
    say: Callable[[str], None] = _quiet,
) -> Drift:
    """Check drift between the request's periods with ``champion`` (default: the churn model
    that serves, when there is one); keep the report when the request says so."""
    from cxml.drift import check_drift, windows

    keep = request.keep
    reference_window, current_window = windows(request.reference, request.current, today=today)
    if champion is None:
        try:
            serving = churn_model(settings)
            champion = (serving.model, serving.version)
        except ModelNotFoundError:  # no champion: churn checks are skipped
            champion = None
    report = check_drift(
        settings,
        store,
        reference_window,
        current_window,
        today=today,
        made_at=made_at,
        keep=keep,
        champion=champion,
        say=say,
    )
    if keep and report.get("alerts"):
        from cxml.webhooks import emit

        emit(
            store,
            "drift.alert",
            {
                "reference": str(report.get("reference")),
                "current": str(report.get("current")),
                "alerts": len(report["alerts"]),
            },
            now=made_at,
        )
    return Drift(report)
