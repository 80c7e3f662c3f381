"""The promote job, the champion gate: a challenger becomes champion only when it is good enough
against the champion on one yardstick (the challenger's own backtest or held-out comments)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.predictor import ChurnDefinition, ChurnPredictor
from cxml.churn.training import training_set
from cxml.errors import ConfigError, ModelMismatchError
from cxml.store import Store
from cxml.store import history as pit


def overlap_note(
    settings: Any, champion_version: str, validation: pd.Timestamp | str | None
) -> str | None:
    """Said when the champion was trained on churn known after the challenger's validation
    snapshot: it has seen part of the outcomes it is graded on, so the comparison favours it
    (retraining more often than the horizon does this; the gate says so rather than hide it)."""
    from cxml.tracking import churn_versions

    if validation is None:
        return None
    champion = next((v for v in churn_versions(settings) if v.version == champion_version), None)
    seen_until = champion.params.get("as_of") if champion is not None else None
    if seen_until is None or pd.Timestamp(seen_until) <= pd.Timestamp(validation):
        return None
    days = (pd.Timestamp(seen_until) - pd.Timestamp(validation)).days
    return (
        f"champion {champion_version} was trained on churn known until {seen_until}, {days} "
        f"days into this backtest's outcome window (from {pd.Timestamp(validation).date()}): "
        "the comparison favours it"
    )


def champion_on_backtest(
    store: Store,
    champion: ChurnPredictor,
    *,
    validation: pd.Timestamp,
    horizon_days: int,
    data_end: pd.Timestamp,
    definition: ChurnDefinition,
    bucket_customers: int,
) -> dict[str, float]:
    """The champion's grades on a challenger's validation snapshot: the customers active then,
    churn within ``horizon_days`` after it as known by ``data_end``, with the features the
    champion was trained on. A feature the champion needs that this data lacks is an error
    naming it; features it never saw are not used."""
    if champion.mode != "store" or champion.spec is None:
        raise ModelMismatchError("the champion was trained on a flat table, not the store")
    if champion.horizon_days != horizon_days or champion.definition != definition:
        raise ModelMismatchError(
            f"the champion predicts churn within {champion.horizon_days} days under "
            f"{champion.definition.to_dict()}; this run, within {horizon_days} days under "
            f"{definition.to_dict()}: not the same question, so not the same yardstick"
        )
    spec = champion.spec
    lacking = [
        *(
            f"attribute {a!r}"
            for a in spec.attributes
            if a not in pit.attribute_names(store, data_end)
        ),
        *(f"channel {c!r}" for c in spec.channels if c not in pit.channels_before(store, data_end)),
        *(
            f"theme {t!r}"
            for t in spec.theme_ids
            if spec.with_text and t not in pit.theme_mentions(store, data_end)
        ),
    ]
    if lacking:
        raise ModelMismatchError(
            f"the champion uses {', '.join(lacking)}, which the data no longer has: it cannot be "
            "graded on this backtest (promote with --force to replace it anyway)"
        )
    rows = training_set(
        store,
        [validation],
        horizon_days,
        spec,
        definition,
        data_end=data_end,
        bucket_customers=bucket_customers,
    )
    from cxml.churn.evaluate import grade
    from cxml.churn.model import churn_probability

    return grade(rows.y, churn_probability(champion.estimator, rows.X[list(champion.columns)]))


def champion_on_folds(champion: ChurnPredictor, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """A flat-mode champion's grades on a challenger's held-out folds (mean over the folds),
    when the tables have the same columns; otherwise an error naming the differences."""
    if champion.mode != "flat":
        raise ModelMismatchError("the champion was trained on the store, not a flat table")
    missing = sorted(set(champion.columns) - set(X.columns))
    extra = sorted(set(X.columns) - set(champion.columns))
    if missing or extra:
        raise ModelMismatchError(
            "the champion was trained on other columns: "
            + "; ".join(
                part
                for part in (
                    f"missing here: {', '.join(missing)}" if missing else "",
                    f"new here: {', '.join(extra)}" if extra else "",
                )
                if part
            )
        )
    from sklearn.model_selection import StratifiedKFold

    from cxml.churn.evaluate import grade
    from cxml.churn.model import churn_probability

    probability = churn_probability(champion.estimator, X[list(champion.columns)])
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)
    graded = [grade(y[test], probability[test]) for _, test in folds]
    return {k: float(np.mean([g[k] for g in graded])) for k in graded[0]}


def _chosen(versions: list[Any], version: str | None, kind: str) -> Any:
    """The version asked for (default: the newest) among a model's registered ``versions``."""
    from cxml.errors import ModelNotFoundError

    if not versions:
        raise ModelNotFoundError(
            f"no cxml-{kind} model is registered yet: run `cxml train {kind}` first"
        )
    chosen = (
        versions[-1]
        if version is None
        else next((v for v in versions if v.version == str(version)), None)
    )
    if chosen is None:
        raise ConfigError(
            f"cxml-{kind} has no version {version}; its versions are "
            f"{', '.join(v.version for v in versions)}",
            field="version",
            value=version,
        )
    return chosen


@dataclass(frozen=True)
class Decision:
    """What the gate decided, and why, in numbers."""

    promoted: bool
    reason: str
    challenger: str
    champion: str | None
    challenger_score: float | None = None
    champion_score: float | None = None
    model: str = "cxml-churn"
    comparison: tuple[str, ...] = ()  # one line per grade compared
    lineage: tuple[str, ...] = ()  # what the challenger does to the champion's themes

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "comparison": list(self.comparison),
            "lineage": list(self.lineage),
        }


def promote_churn(
    settings: Any,
    version: str | None = None,
    *,
    store: Store | None = None,
    force: bool = False,
    metric: str = "roc_auc",
) -> Decision:
    """Make ``version`` (default: the newest) champion when it beats the champion on one
    yardstick — the challenger's own backtest — by at least ``settings.promote_margin``.

    The champion's grade there comes from the challenger's run when it was graded against this
    same champion at training time; otherwise (a store-mode challenger) it is computed now from
    ``store``. Both grades are logged in the challenger's run. ``force`` promotes without
    comparing (for a champion the data can no longer grade).
    """
    from cxml.tracking import (
        churn_champion_version,
        churn_versions,
        load_churn_version,
        log_to_run,
        set_churn_champion,
    )

    versions = churn_versions(settings)
    chosen = _chosen(versions, version, "churn")
    current = churn_champion_version(settings)
    if current is None or force:
        set_churn_champion(settings, chosen.version)
        how = "forced, without a comparison" if force and current else "there was none"
        return Decision(
            True, f"version {chosen.version} is champion ({how})", chosen.version, current
        )
    if current == chosen.version:
        return Decision(
            False, f"version {chosen.version} is already the champion", chosen.version, current
        )
    champion = next(v for v in versions if v.version == current)
    new = chosen.metrics.get(f"model_{metric}")
    old: float | None = None
    if chosen.params.get("backtest") == champion.params.get("backtest"):
        old = champion.metrics.get(f"model_{metric}")
    elif (
        chosen.params.get("champion_version") == current and f"champion_{metric}" in chosen.metrics
    ):
        old = chosen.metrics[f"champion_{metric}"]
    elif chosen.mode == "store" and store is not None:
        try:
            graded = champion_on_backtest(
                store,
                load_churn_version(settings, current),
                validation=pd.Timestamp(chosen.params["validation_snapshot"]),
                horizon_days=int(chosen.params["horizon_days"]),
                data_end=pd.Timestamp(chosen.params["as_of"]),
                definition=ChurnDefinition.from_dict(json.loads(chosen.params["churn_definition"])),
                bucket_customers=settings.bucket_customers,
            )
        except KeyError as missing:
            raise ConfigError(
                f"version {chosen.version} was trained before runs recorded their backtest "
                f"({missing} is not logged): retrain it with `cxml train churn`"
            ) from None
        except ModelMismatchError as error:
            return Decision(False, f"refused: {error}", chosen.version, current, new)
        old = graded[metric]
        log_to_run(
            settings,
            chosen.run_id,
            metrics={f"champion_{k}": v for k, v in graded.items()},
            params={"champion_version": current, "champion_comparison": "graded at promotion"},
        )
    if new is None or old is None:
        why = chosen.params.get("champion_comparison") or "no comparison on one backtest"
        return Decision(
            False,
            f"version {chosen.version} cannot be compared with champion {current}: {why}"
            + (
                ""
                if store is not None or chosen.mode != "store"
                else "; give the store to grade it"
            ),
            chosen.version,
            current,
            new,
        )
    margin = settings.promote_margin
    gap = new - old
    on = chosen.params.get("backtest", "its backtest")
    note = overlap_note(settings, current, chosen.params.get("validation_snapshot"))
    caveat = f" (note: {note})" if note else ""
    if gap >= margin:
        set_churn_champion(settings, chosen.version)
        return Decision(
            True,
            f"version {chosen.version} {metric} {new:.4f} beats champion {current}'s {old:.4f} "
            f"on {on} by {gap:.4f} (margin {margin:g})" + caveat,
            chosen.version,
            current,
            new,
            old,
        )
    verdict = (
        f"loses to champion {current}'s {old:.4f} by {-gap:.4f}"
        if gap < 0
        else f"beats champion {current}'s {old:.4f} by only {gap:.4f}, under the margin of {margin:g}"
    )
    return Decision(
        False,
        f"version {chosen.version} {metric} {new:.4f} on {on} {verdict}" + caveat,
        chosen.version,
        current,
        new,
        old,
    )


def _number_or_none(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def promote_text(settings: Any, version: str | None = None, *, force: bool = False) -> Decision:
    """Make a ``cxml-text`` version (default: the newest) champion when it is at least as good
    as the champion on the challenger's held-out comments — sentiment macro-F1, theme coverage
    and theme coherence each no more than ``settings.text_promote_tolerance`` below — and say
    why otherwise. The champion's grades come from the challenger's run when they were taken
    against this champion at training time, else it is graded now on the held-out comments the
    run logged. The decision carries the challenger's lineage (what happens to the themes)."""
    from cxml.text.evaluate import GATE_METRICS, compare_text, grade_text, lineage_lines
    from cxml.text.training import AS_MODEL, champion_yardstick
    from cxml.tracking import (
        TEXT_MODEL,
        champion_version,
        load_text_version,
        log_to_run,
        run_json,
        run_table,
        set_champion,
        text_versions,
    )

    versions = text_versions(settings)
    chosen = _chosen(versions, version, "text")
    current = champion_version(settings, TEXT_MODEL)
    lineage = run_json(settings, chosen.run_id, "lineage.json") or []
    against = chosen.params.get("lineage_against") or None
    shown = tuple(
        (
            [
                f"lineage against version {against}"
                + (" (no longer the champion)" if against != current else "")
            ]
            if against
            else ["lineage: the first model (every theme is new)"]
        )
        + lineage_lines(lineage)
    )

    def decided(promoted: bool, reason: str, **more: Any) -> Decision:
        if promoted:
            set_champion(settings, TEXT_MODEL, chosen.version)
        return Decision(
            promoted, reason, chosen.version, current, model=TEXT_MODEL, lineage=shown, **more
        )

    if current is None or force:
        how = "forced, without a comparison" if force and current else "there was none"
        return decided(True, f"version {chosen.version} is champion ({how})")
    if current == chosen.version:
        return decided(False, f"version {chosen.version} is already the champion")
    new = {name: chosen.metrics.get(f"heldout_{name}", float("nan")) for name in GATE_METRICS}
    if all(v != v for v in new.values()):
        return decided(
            False,
            f"version {chosen.version} was not graded ({chosen.params.get('heldout', 'no held-out comments')}): "
            "train it on more comments, or promote with --force",
        )
    how = chosen.params.get("champion_comparison") or AS_MODEL
    if chosen.params.get("champion_version") == current:
        old = {name: chosen.metrics.get(f"champion_{name}", float("nan")) for name in GATE_METRICS}
    else:
        how = AS_MODEL
        heldout = run_table(settings, chosen.run_id, "heldout.parquet")
        if heldout is None:
            return decided(
                False,
                f"version {chosen.version}'s held-out comments were not logged: retrain it",
            )
        if champion_yardstick(settings, current, heldout) != AS_MODEL:
            return decided(
                False,
                f"version {chosen.version} was graded against champion "
                f"{chosen.params.get('champion_version') or '(none)'}, and champion {current} "
                "was fitted on its held-out comments: train again (`cxml train text`) to compare "
                "them on one yardstick",
            )
        graded = grade_text(load_text_version(settings, current), heldout)
        old = {name: graded[name] for name in GATE_METRICS}
        log_to_run(
            settings,
            chosen.run_id,
            metrics={f"champion_{k}": v for k, v in graded.items()},
            params={"champion_version": current, "champion_comparison": AS_MODEL},
        )
    ok, lines = compare_text(new, old, settings.text_promote_tolerance)
    caveat = f"; champion graded as {how}"
    on = chosen.params.get("heldout", "its held-out comments")
    if ok:
        reason = (
            f"version {chosen.version} is at least as good as champion {current} on {on} "
            f"(tolerance {settings.text_promote_tolerance:g})"
        )
    else:
        reason = f"version {chosen.version} is worse than champion {current} on {on}: " + "; ".join(
            line for line in lines if "below" in line or "no grade" in line
        )
    return decided(
        ok,
        reason + caveat,
        challenger_score=_number_or_none(new["sentiment_macro_f1"]),
        champion_score=_number_or_none(old["sentiment_macro_f1"]),
        comparison=tuple(lines),
    )


class ModelKind(StrEnum):
    """The two models with a champion."""

    CHURN = "churn"
    TEXT = "text"


def promote(
    settings: Any,
    kind: ModelKind,
    version: str | None = None,
    *,
    store: Store | None = None,
    force: bool = False,
) -> Decision:
    """The gate of either model (``promote_churn`` or ``promote_text``)."""
    if kind == ModelKind.TEXT:
        return promote_text(settings, version, force=force)
    return promote_churn(settings, version, store=store, force=force)


def run_promote(
    settings: Any,
    store: Store,
    kind: ModelKind,
    version: str | None = None,
    *,
    force: bool = False,
    actor: str,
    clock: Callable[[], Any],
) -> Decision:
    """The promote job: the gate's decision (``promote``), recorded in the audit log as
    ``model.promoted`` or ``model.refused`` by ``actor`` at ``clock()``."""
    from cxml.store.audit import record_action
    from cxml.webhooks import emit

    decision = promote(settings, kind, version, store=store, force=force)
    at = clock()
    with store.begin() as connection:  # the record and its webhook, together
        record_action(
            connection,
            actor=actor,
            action="model.promoted" if decision.promoted else "model.refused",
            target=f"{decision.model}/{decision.challenger}",
            at=at,
            detail=decision.to_dict(),
        )
        if decision.promoted:
            emit(
                connection,
                "model.promoted",
                {
                    "model": decision.model,
                    "version": decision.challenger,
                    "reason": decision.reason,
                },
                now=at,
            )
    return decision


def announce_first_champion(
    store: Store, model: str, version: str, *, now: datetime, actor: str = "cxml"
) -> int:
    """The first version of a model becomes champion when it is registered (there was none to
    grade it against): recorded in the audit log by ``actor`` and announced as
    ``model.promoted``, like a promotion through the gate, in one transaction. Once per model
    version: a rerun records and queues nothing more. Returns how many deliveries were
    queued."""
    from sqlalchemy import and_, func, select

    from cxml.store.audit import record_action
    from cxml.store.tables import audit_log
    from cxml.webhooks import emit

    reason = "the first version: there was no champion"
    target = f"{model}/{version}"
    with store.begin() as connection:
        recorded = connection.execute(
            select(func.count())
            .select_from(audit_log)
            .where(and_(audit_log.c.action == "model.promoted", audit_log.c.target == target))
        ).scalar_one()
        if not recorded:
            record_action(
                connection,
                actor=actor,
                action="model.promoted",
                target=target,
                at=now,
                detail={"model": model, "version": str(version), "reason": reason},
            )
        payload = {"model": model, "version": str(version), "reason": reason}
        return emit(connection, "model.promoted", payload, now=now, key=f"{model}\x00{version}")


def version_table(settings: Any, kind: ModelKind) -> list[dict[str, Any]]:
    """Every registered version of a model, oldest first: its grades on its own yardstick,
    the champion's grades on the same one when taken, and whether it is the champion."""
    from cxml.tracking import CHURN_MODEL, TEXT_MODEL, champion_version, model_versions

    name = TEXT_MODEL if kind == ModelKind.TEXT else CHURN_MODEL
    current = champion_version(settings, name)
    own, prefix = (
        (("sentiment_macro_f1", "theme_coverage", "theme_coherence"), "heldout_")
        if kind == ModelKind.TEXT
        else (("roc_auc", "pr_auc", "brier"), "model_")
    )
    return [
        {
            "version": v.version,
            "run_id": v.run_id,
            "champion": v.version == current,
            "yardstick": v.params.get("heldout" if kind == ModelKind.TEXT else "backtest"),
            "grades": {k: v.metrics[prefix + k] for k in own if prefix + k in v.metrics},
            "champion_version_compared": v.params.get("champion_version"),
            "champion_grades": {
                k: v.metrics[f"champion_{k}"] for k in own if f"champion_{k}" in v.metrics
            },
        }
        for v in model_versions(settings, name)
    ]
