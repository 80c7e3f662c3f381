"""The retrain job, for a scheduler: retrain the text pipeline and the churn model as of a day
and promote the winners through the gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cxml.churn.predictor import ChurnDefinition
from cxml.churn.training import Say
from cxml.contract import parse_as_of
from cxml.jobs.promote import Decision, promote_churn, promote_text
from cxml.jobs.train_churn import _quiet, train_churn
from cxml.store import Store

PROMOTED = "promoted: "  # how a row's decision starts when its challenger became champion


def retrain(
    settings: Any,
    store: Store,
    *,
    now: Any,
    taxonomy_path: Any = None,
    n_snapshots: int = 4,
    say: Say = _quiet,
) -> dict[str, Any]:
    """The routine a scheduler runs (monthly, say): retrain the text pipeline on the store's
    comments and re-read them, then train a churn model as of today with the champion's
    question (horizon, churn definition, text or not), grade the champion on the new model's
    backtest and promote the winner. Returns one row per model for a table."""
    from cxml.corrections import leave_corrections
    from cxml.errors import ModelNotFoundError
    from cxml.jobs.analyze import analyze_store
    from cxml.jobs.serving import churn_model
    from cxml.store.records import feedback_frame
    from cxml.text.training import train_text_pipeline
    from cxml.tracking import load_text_champion

    rows: list[dict[str, Any]] = []
    previous = load_text_champion(settings)
    say("retraining the text pipeline on the store's comments")
    trained_text = train_text_pipeline(
        settings,
        frame=feedback_frame(store, with_text=True),
        taxonomy_path=taxonomy_path,
        champion=previous,
        say=say,
        corrections=leave_corrections(store),
    )
    say(trained_text["intent_corrections"]["summary"])
    text_decision = (
        promote_text(settings, trained_text["version"])
        if previous is not None
        else Decision(
            True,
            f"version {trained_text['version']} is champion (there was none)",
            trained_text["version"],
            None,
            model="cxml-text",
        )
    )
    rows.append(
        {
            "model": "cxml-text",
            "trained": trained_text["version"],
            "champion_before": previous[1] if previous else None,
            "champion_now": trained_text["version"]
            if text_decision.promoted
            else text_decision.champion,
            "decision": (PROMOTED if text_decision.promoted else "kept the champion: ")
            + text_decision.reason,
        }
    )
    analysed = analyze_store(store, settings, now=now)
    say(f"{analysed['analysed']:,} comments read again with text model {analysed['model_version']}")
    try:
        serving = churn_model(settings)
        champion, champion_version = serving.model, serving.version
        horizon, definition = champion.horizon_days, champion.definition
        with_text = champion.spec.with_text if champion.spec is not None else True
    except ModelNotFoundError:
        champion_version, horizon, definition, with_text = None, 90, ChurnDefinition(), True
    if definition.kind == "label":  # a flat-mode champion: the store's routine starts afresh
        horizon, definition = 90, ChurnDefinition()
    result = train_churn(
        settings,
        store=store,
        as_of=parse_as_of(now).normalize(),
        horizon_days=horizon,
        n_snapshots=n_snapshots,
        with_text=with_text,
        definition=definition,
        say=say,
    )
    decision = promote_churn(settings, result["version"], store=store)
    rows.append(
        {
            "model": "cxml-churn",
            "trained": result["version"],
            "champion_before": champion_version,
            "champion_now": result["version"] if decision.promoted else champion_version,
            "decision": (PROMOTED if decision.promoted else "kept the champion: ")
            + decision.reason,
            "challenger_roc_auc": decision.challenger_score,
            "champion_roc_auc": decision.champion_score,
        }
    )
    return {
        "models": rows,
        "churn_promoted": decision.promoted,
        "text_promoted": text_decision.promoted,
    }


@dataclass(frozen=True)
class Retrained:
    """One row per model (trained version, champion before and now, the decision), and
    whether each challenger was promoted."""

    models: tuple[dict[str, Any], ...]
    churn_promoted: bool
    text_promoted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "churn_promoted": self.churn_promoted,
            "text_promoted": self.text_promoted,
        }


def run_retrain(
    settings: Any,
    store: Store,
    *,
    now: datetime,
    taxonomy_path: Path | None = None,
    n_snapshots: int = 4,
    actor: str,
    clock: Callable[[], datetime],
    say: Say = _quiet,
) -> Retrained:
    """The retrain job (``retrain``), each model's outcome recorded in the audit log as
    ``model.retrained`` by ``actor`` at ``clock()``; a challenger that won is announced as
    ``model.promoted`` (as `cxml promote` announces it), and themes the re-read comments show
    emerging as ``theme.emerging``."""
    from cxml.store.audit import record_action
    from cxml.webhooks import announce_emerging_themes, emit

    result = retrain(
        settings, store, now=now, taxonomy_path=taxonomy_path, n_snapshots=n_snapshots, say=say
    )
    for row in result["models"]:
        at = clock()
        with store.begin() as connection:  # the record and its webhook, together
            record_action(
                connection,
                actor=actor,
                action="model.retrained",
                target=f"{row['model']}/{row['trained']}",
                at=at,
                detail=row,
            )
            if row["decision"].startswith(PROMOTED):
                emit(
                    connection,
                    "model.promoted",
                    {
                        "model": row["model"],
                        "version": row["trained"],
                        "reason": row["decision"].removeprefix(PROMOTED),
                    },
                    now=at,
                )
    announce_emerging_themes(store, now=clock())
    return Retrained(
        tuple(result["models"]), bool(result["churn_promoted"]), bool(result["text_promoted"])
    )
