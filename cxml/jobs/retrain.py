"""The retrain job, for a scheduler: retrain the text pipeline and the churn model as of a day
and promote the winners through the gate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxml.churn.predictor import ChurnDefinition
from cxml.churn.training import Say
from cxml.jobs.promote import Decision, promote_churn, promote_text
from cxml.jobs.train_churn import _quiet, train_churn
from cxml.store import Store


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
    from cxml.errors import ModelNotFoundError
    from cxml.store.records import feedback_frame
    from cxml.text.training import analyze_store, train_text_pipeline
    from cxml.tracking import load_churn_champion, load_text_champion

    rows: list[dict[str, Any]] = []
    previous = load_text_champion(settings)
    say("retraining the text pipeline on the store's comments")
    trained_text = train_text_pipeline(
        settings,
        frame=feedback_frame(store, with_text=True),
        taxonomy_path=taxonomy_path,
        champion=previous,
        say=say,
    )
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
            "decision": ("promoted: " if text_decision.promoted else "kept the champion: ")
            + text_decision.reason,
        }
    )
    analysed = analyze_store(store, settings, now=now)
    say(f"{analysed['analysed']:,} comments read again with text model {analysed['model_version']}")
    try:
        champion, champion_version = load_churn_champion(settings)
        horizon, definition = champion.horizon_days, champion.definition
        with_text = champion.spec.with_text if champion.spec is not None else True
    except ModelNotFoundError:
        champion_version, horizon, definition, with_text = None, 90, ChurnDefinition(), True
    if definition.kind == "label":  # a flat-mode champion: the store's routine starts afresh
        horizon, definition = 90, ChurnDefinition()
    result = train_churn(
        settings,
        store=store,
        as_of=pd.Timestamp(now).normalize(),
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
            "decision": ("promoted: " if decision.promoted else "kept the champion: ")
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
