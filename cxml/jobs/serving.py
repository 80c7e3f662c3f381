"""Which models serve: the one resolver, used by every job and by the server.

The rule, for both models: the registry's champion (``cxml-churn@champion``,
``cxml-text@champion``); where asked (the server), else a bundle exported to a folder by
``cxml export-models``; for text, else the shipped defaults. Churn has no shipped default:
without a champion (or bundle) it is ``ModelNotFoundError``. A registry that cannot be reached
is ``RegistryError``, never a silent fall back. The answer says what serves and why.

The exported bundles (``churn.joblib``, ``text.joblib``) are written by ``export_models`` and
described by ``ExportedModels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cxml.churn.explain import Language
from cxml.errors import ModelNotFoundError
from cxml.settings import Settings
from cxml.tracking import CHURN_MODEL, TEXT_MODEL, champion_version

Kind = Literal["churn", "text"]
#: What the shipped default text pipeline is called where a version would be.
DEFAULTS = "defaults"


@dataclass(frozen=True)
class Serving:
    """One model chosen to serve, and why.

    ``source`` says where it came from, in the form the server reports and compares:
    ``registry:cxml-<kind>@champion:<version>`` (or ``registry:cxml-<kind>:<version>`` for a
    version asked for by number or chosen for its mode), ``bundle:<path>:<mtime>``, ``defaults``.
    """

    kind: Kind
    model: Any
    version: str
    source: str
    reason: str

    @property
    def from_registry(self) -> bool:
        return self.source.startswith("registry:")


def _bundle(bundles: Path | None, kind: Kind) -> tuple[Path, float] | None:
    if bundles is None:
        return None
    path = Path(bundles) / f"{kind}.joblib"
    return (path, path.stat().st_mtime) if path.is_file() else None


def wanted_source(settings: Settings, kind: Kind, *, bundles: Path | None = None) -> str | None:
    """What should serve ``kind`` now, without loading it: the champion's registry source, else
    an exported bundle's identity (its path and file time), else None (text: the defaults)."""
    version = champion_version(settings, CHURN_MODEL if kind == "churn" else TEXT_MODEL)
    if version is not None:
        return f"registry:cxml-{kind}@champion:{version}"
    bundle = _bundle(bundles, kind)
    return f"bundle:{bundle[0]}:{bundle[1]}" if bundle else None


def text_model(settings: Settings, *, bundles: Path | None = None) -> Serving:
    """The text pipeline that serves: the champion, else (with ``bundles``) an exported one,
    else the shipped defaults."""
    from cxml.tracking import load_text_champion

    loaded = load_text_champion(settings)
    if loaded is not None:
        pipeline, version = loaded
        return Serving(
            "text",
            pipeline,
            version,
            f"registry:cxml-text@champion:{version}",
            f"the champion of cxml-text (version {version})",
        )
    bundle = _bundle(bundles, "text")
    if bundle is not None:
        import joblib

        payload = joblib.load(bundle[0])
        return Serving(
            "text",
            payload["pipeline"],
            str(payload["version"]),
            f"bundle:{bundle[0]}:{bundle[1]}",
            f"no cxml-text champion in the registry: the bundle exported to {bundle[0]}",
        )
    from cxml.text.training import default_pipeline

    return Serving(
        "text",
        default_pipeline(),
        DEFAULTS,
        DEFAULTS,
        "no cxml-text champion in the registry: the shipped defaults",
    )


def reasons_in(
    settings: Settings, rows: list[dict[str, Any]], language: Language
) -> list[dict[str, Any]]:
    """``rows`` (scored customers) with their reasons written in ``language``, themes named as
    the serving text model's taxonomy labels them in that language (else as stored). English
    leaves the rows as they are."""
    if language == "en":
        return rows
    from cxml.at_risk import model_theme_labels
    from cxml.churn.explain import in_language

    labels = model_theme_labels(text_model(settings).model, language)
    return [{**row, "reasons": in_language(list(row["reasons"]), language, labels)} for row in rows]


def churn_model(
    settings: Settings,
    *,
    mode: str | None = None,
    version: str | None = None,
    bundles: Path | None = None,
) -> Serving:
    """The churn model that serves: ``version`` when asked for; else the champion — for a
    ``mode`` ('flat' or 'store'), the champion when it is of that mode, else the newest version
    that is; else (with ``bundles``) an exported one. ModelNotFoundError when there is none."""
    from cxml.tracking import load_churn_champion, load_churn_for_mode, load_churn_version

    if version is not None:
        return Serving(
            "churn",
            load_churn_version(settings, version),
            version,
            f"registry:cxml-churn:{version}",
            f"cxml-churn version {version}, as asked",
        )
    if mode is not None:
        # A file of customers needs a flat-mode model, the store a store-mode one: the
        # champion when it is of that kind, else the newest version that is.
        predictor, found = load_churn_for_mode(settings, mode)
        if found == champion_version(settings, CHURN_MODEL):
            return Serving(
                "churn",
                predictor,
                found,
                f"registry:cxml-churn@champion:{found}",
                f"the champion of cxml-churn (version {found})",
            )
        return Serving(
            "churn",
            predictor,
            found,
            f"registry:cxml-churn:{found}",
            f"the champion is not a {mode}-mode model: the newest {mode}-mode version ({found})",
        )
    if champion_version(settings, CHURN_MODEL) is None:
        bundle = _bundle(bundles, "churn")
        if bundle is not None:
            import joblib

            from cxml.tracking import as_predictor

            payload = joblib.load(bundle[0])
            return Serving(
                "churn",
                as_predictor(payload),
                str(payload.get("version", "bundle")),
                f"bundle:{bundle[0]}:{bundle[1]}",
                f"no cxml-churn champion in the registry: the bundle exported to {bundle[0]}",
            )
    predictor, found = load_churn_champion(settings)
    return Serving(
        "churn",
        predictor,
        found,
        f"registry:cxml-churn@champion:{found}",
        f"the champion of cxml-churn (version {found})",
    )


@dataclass(frozen=True)
class ModelOrigin:
    """Where a churn model that scores came from, and the store it learnt from.

    ``registry`` is the MLflow registry it was loaded from (``registry_location``), or the
    bundle's source; ``trained_on`` the store its run recorded (None: a table of customers, or
    a model trained before cxml recorded it); ``scoring`` the store it scores now (None: a file).
    """

    name: str
    version: str
    reason: str  # why this one (``Serving.reason``)
    registry: str
    mode: str  # 'store' or 'flat'
    trained_on: str | None
    scoring: str | None

    @property
    def other_store(self) -> bool:
        """Whether it learnt from a store other than the one it scores."""
        return None not in (self.trained_on, self.scoring) and self.trained_on != self.scoring

    def describe(self) -> str:
        """One line: which model, from where, trained on what."""
        if self.trained_on is not None:
            learnt = f"trained on the store at {self.trained_on}"
        elif self.mode == "flat":
            learnt = "trained on a table of customers"
        else:
            learnt = "the store it was trained on is not recorded (trained before cxml kept it)"
        return f"model: {self.reason}, from {self.registry}; {learnt}"

    @property
    def warning(self) -> str | None:
        """What to say when the model learnt from another store; else None."""
        if not self.other_store:
            return None
        return (
            f"warning: {self.name} version {self.version} was trained on another store "
            f"({self.trained_on}), not the one it scores ({self.scoring}): its themes, channels "
            "and churn rate are that store's, so its scores may not fit these customers. Train "
            "a model on this store with `cxml train churn`, or set CXML_MLFLOW_TRACKING_URI to "
            "this store's own registry"
        )


def churn_origin(settings: Settings, serving: Serving, *, scoring: str | None) -> ModelOrigin:
    """Where the churn model of ``serving`` came from (its run's params, read from the
    registry), scoring the store at ``scoring`` (its URL without password; None: a file)."""
    from cxml.tracking import registry_location, version_params

    params: dict[str, str] = {}
    registry = serving.source
    if serving.from_registry:
        params = version_params(settings, CHURN_MODEL, serving.version)
        registry = f"the MLflow registry at {registry_location(settings)}"
    return ModelOrigin(
        name=CHURN_MODEL,
        version=serving.version,
        reason=serving.reason,
        registry=registry,
        mode=params.get("mode") or str(getattr(serving.model, "mode", "")),
        trained_on=params.get("store") or None,
        scoring=scoring,
    )


def churn_horizon(settings: Settings) -> int:
    """The churn champion's horizon in days, or 90 when there is none yet."""
    try:
        return int(churn_model(settings).model.horizon_days)
    except ModelNotFoundError:
        return 90


# --- exported bundles -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedModel:
    """One champion written to a file a server loads without a registry."""

    kind: Kind
    version: str
    path: Path


@dataclass(frozen=True)
class ExportedModels:
    """What ``export_models`` wrote: text first, then churn, as it writes them."""

    directory: Path
    models: tuple[ExportedModel, ...]

    def version(self, kind: Kind) -> str | None:
        return next((m.version for m in self.models if m.kind == kind), None)


def export_models(settings: Settings, directory: Path) -> ExportedModels:
    """Write the champions as files a server can load without a registry:
    ``churn.joblib`` and ``text.joblib`` in ``directory``."""
    import joblib

    from cxml.tracking import load_churn_version, load_text_champion

    directory.mkdir(parents=True, exist_ok=True)
    written: list[ExportedModel] = []
    text = load_text_champion(settings)
    if text is not None:
        path = directory / "text.joblib"
        joblib.dump({"pipeline": text[0], "version": text[1]}, path)
        written.append(ExportedModel("text", text[1], path))
    version = champion_version(settings, CHURN_MODEL)
    if version is not None:
        path = directory / "churn.joblib"
        predictor = load_churn_version(settings, version)
        joblib.dump({"predictor": predictor, "version": version}, path)
        written.append(ExportedModel("churn", version, path))
    if not written:
        raise ModelNotFoundError(
            "no champion to export: train with `cxml train text` / `cxml train churn`"
        )
    return ExportedModels(directory, tuple(written))
