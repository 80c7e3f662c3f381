"""The train-text job: fit the text pipeline on the store's comments (or a file), grade it on
the newest ones beside the champion, log it to MLflow and register it. The fitting and the
grading are ``cxml.text.training``'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxml.jobs.engine import OpenStore
from cxml.settings import Settings


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class TrainTextRequest:
    input_path: Path | None = None  # else the store's feedback
    text_column: str = "text"
    label_column: str | None = None
    taxonomy_path: Path | None = None
    n_themes: int | None = None
    register: bool = True
    actor: str = "cxml"  # who trains: the audit log's entry when the first version is champion


@dataclass(frozen=True)
class TrainedText:
    """The run's report as logged: sizes, grades, the registered version and the champion."""

    report: dict[str, Any]


def run_train_text(
    settings: Settings,
    store: OpenStore,
    request: TrainTextRequest,
    *,
    say: Callable[[str], None] = _quiet,
) -> TrainedText:
    from cxml.corrections import leave_corrections
    from cxml.store.records import feedback_frame
    from cxml.text.training import train_text_pipeline
    from cxml.tracking import load_text_champion

    frame = None if request.input_path else feedback_frame(store(), with_text=True)
    # the store's churn-intent corrections are taught (a file has none)
    corrections = None if request.input_path else leave_corrections(store())
    result = train_text_pipeline(
        settings,
        frame=frame,
        input_path=request.input_path,
        text_column=request.text_column,
        label_column=request.label_column,
        taxonomy_path=request.taxonomy_path,
        n_themes=request.n_themes,
        champion=load_text_champion(settings),  # the rival it is graded beside, if any
        register=request.register,
        say=say,
        corrections=corrections,
    )
    if (
        frame is not None
        and result.get("version") is not None
        and result.get("champion") == result.get("version")
    ):
        from cxml.jobs.promote import announce_first_champion
        from cxml.tracking import TEXT_MODEL

        announce_first_champion(
            store(), TEXT_MODEL, str(result["version"]), now=_utc_now(), actor=request.actor
        )
    return TrainedText(result)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
