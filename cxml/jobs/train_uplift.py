"""The train-uplift job: learn who is moved by a call from the randomised pulls whose horizon
has passed, grade it forward in time (Qini vs random and vs the risk ranking), log it to MLflow
as ``cxml-uplift``. And what the worklist needs of it (``worklist_uplift``). The learning and
the grading are ``cxml.uplift``'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxml.errors import RegistryError
from cxml.jobs.engine import OpenStore
from cxml.settings import Settings
from cxml.store import Store


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class TrainUpliftRequest:
    register: bool = True
    seed: int = 0


@dataclass(frozen=True)
class TrainedUplift:
    """Sizes per arm, the held-out grades, the registered version — or why nothing was
    trained (``trained`` false and ``message``)."""

    report: dict[str, Any]


def run_train_uplift(
    settings: Settings,
    store: OpenStore,
    request: TrainUpliftRequest,
    *,
    now: datetime,
    say: Callable[[str], None] = _quiet,
) -> TrainedUplift:
    from cxml import uplift
    from cxml.tracking import log_uplift_model

    frame = uplift.outcomes(store(), now)
    sizes = uplift.counts(frame)
    need = settings.uplift_min_per_arm
    report: dict[str, Any] = {
        "trained": False,
        **sizes,
        "min_per_arm": need,
        "version": None,
        "grades": None,
    }
    if min(sizes.values()) < need:
        report["message"] = (
            f"not trained: {sizes['contact'] + sizes['control']} randomised outcomes "
            f"({sizes['contact']} contacted, {sizes['control']} held out), {need} per arm needed "
            "(CXML_UPLIFT_MIN_PER_ARM); pull the worklist with a holdout (`cxml worklist pull`) "
            "and wait for the pulls' horizon — the worklist is ranked by risk until then"
        )
        return TrainedUplift(report)
    spec = uplift.feature_spec(store(), now)
    say(f"features at each pull's date for {len(frame):,} randomised outcomes")
    features = uplift.training_features(store(), spec, frame)
    say("grading on the newest pulls (fitted on the older ones)")
    grades = uplift.grade(frame, features, min_per_arm=need, seed=request.seed)
    say("fitting on every outcome")
    model = uplift.fit_uplift(
        features,
        frame["arm"].to_numpy(dtype=object),
        frame["retained"].to_numpy(),
        seed=request.seed,
    )
    model.spec = spec.to_dict()
    model.grades = grades
    report.update(trained=True, grades=grades, pulls=int(frame["pull_id"].nunique()))
    report["message"] = (
        f"uplift model trained on {len(frame):,} randomised outcomes; held-out ({grades['held_out']}) "
        f"Qini {grades.get('qini_uplift', float('nan')):.4f} vs risk ranking "
        f"{grades.get('qini_risk', float('nan')):.4f} vs random 0: "
        + (
            "it ranks the worklist"
            if grades["good_enough"]
            else "the worklist stays ranked by risk"
        )
        + f" ({grades['why']})"
    )
    if request.register:
        logged = log_uplift_model(
            model,
            settings,
            params={
                "learner": f"T-learner, {uplift.BAGS} bagged gradient-boosted classifiers",
                "held_out": grades["held_out"],
                "min_per_arm": need,
                "seed": request.seed,
            },
            metrics={
                "qini_uplift": grades.get("qini_uplift", float("nan")),
                "qini_risk": grades.get("qini_risk", float("nan")),
                "contact": sizes["contact"],
                "control": sizes["control"],
                "good_enough": float(grades["good_enough"]),
            },
            report=report,
            input_example=features.head(5),
        )
        report["version"] = logged["version"]
        report["run_id"] = logged["run_id"]
    return TrainedUplift(report)


def worklist_uplift(settings: Settings, store: Store, *, today: datetime, horizon_days: int) -> Any:
    """What the worklist ranks with: the champion uplift model (if any), the randomised
    outcomes so far and whether the list is ranked by uplift or risk, and why."""
    from cxml import uplift
    from cxml.tracking import load_uplift_champion

    frame = uplift.outcomes(store, today)
    try:
        loaded = load_uplift_champion(settings)
    except RegistryError:
        loaded = None
    model, version = loaded if loaded is not None else (None, None)
    return uplift.UpliftRanking(
        model=model,
        version=version,
        status=uplift.status(uplift.counts(frame), settings.uplift_min_per_arm, model, version),
        evidence=uplift.segment_evidence(frame),
        horizon_days=horizon_days,
    )
