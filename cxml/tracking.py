"""The one door to MLflow: log and register fitted models, load the champion.

Models are saved with joblib inside an MLflow pyfunc model, so the same object
serves in the CLI, the API and on Spark (``mlflow.pyfunc.spark_udf``).

"Nothing registered yet" (a fresh install) and "the registry cannot be reached" are different
answers: the first is ``None`` or ``ModelNotFoundError``, the second always
``RegistryError`` — never a silent fall back to the shipped defaults.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from cxml.errors import ConfigError, CxmlError, ModelNotFoundError, RegistryError
from cxml.io import write_frame
from cxml.settings import Settings

TEXT_MODEL = "cxml-text"
CHAMPION = "champion"
T = TypeVar("T")


def _mlflow(settings: Settings) -> Any:
    import mlflow

    # MLflow's own INFO lines and artifact progress bars are not the user's output.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return mlflow


def _missing(exc: BaseException) -> bool:
    """True when MLflow says a model, version or alias does not exist (not a failure)."""
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


@contextmanager
def _registry(settings: Settings) -> Iterator[None]:
    """Turn failures to reach the tracking store or registry into RegistryError."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except CxmlError:
        raise
    except MlflowException as exc:
        if _missing(exc):
            raise
        raise RegistryError(
            f"the MLflow registry at {settings.mlflow_tracking_uri} cannot be used: {exc.message}; "
            "check CXML_MLFLOW_TRACKING_URI and that the tracking server runs",
            value=settings.mlflow_tracking_uri,
        ) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise RegistryError(
            f"the MLflow registry at {settings.mlflow_tracking_uri} cannot be reached: {exc}; "
            "check CXML_MLFLOW_TRACKING_URI and that the tracking server runs",
            value=settings.mlflow_tracking_uri,
        ) from exc


def registry_location(settings: Settings) -> str:
    """The registry's URI as a person can find it: a relative SQLite path (the default,
    ``sqlite:///mlflow.db``, is the working directory's) with its absolute path beside it, and
    any password hidden."""
    from urllib.parse import urlsplit, urlunsplit

    uri = settings.mlflow_tracking_uri
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        uri = urlunsplit(parts._replace(netloc=netloc))
    prefix = "sqlite:///"
    path = uri[len(prefix) :].split("?", 1)[0] if uri.startswith(prefix) else ""
    if path and path != ":memory:" and not Path(path).is_absolute():
        return f"{uri} ({Path(path).resolve()})"
    return uri


def _not_made_yet(settings: Settings) -> bool:
    """True when the tracking URI is a SQLite file that does not exist yet, in a folder that
    does: nothing is registered there, and opening it would create it (an ``mlflow.db`` left
    in the working directory by a command that only reads, such as `cxml analyze --input`).
    A relative path is the working directory's, as MLflow reads it. A folder that is missing
    is left to MLflow to refuse (RegistryError): that is a wrong path, not a fresh install."""
    uri = settings.mlflow_tracking_uri
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return False
    path = uri[len(prefix) :].split("?", 1)[0]
    if not path or path == ":memory:":
        return False
    file = Path(path)
    return not file.exists() and file.parent.is_dir()


def _alias_version(settings: Settings, name: str) -> Any | None:
    """The model version behind ``name@champion``, or None when there is none yet (also when
    the registry's SQLite file is not made yet: reading does not make it)."""
    from mlflow.exceptions import MlflowException

    if _not_made_yet(settings):
        return None
    mlflow = _mlflow(settings)
    with _registry(settings):
        client = mlflow.MlflowClient()
        try:
            registered = client.get_registered_model(name)
        except MlflowException as exc:
            if _missing(exc):
                return None
            raise
        version = registered.aliases.get(CHAMPION)
        return None if version is None else client.get_model_version(name, str(version))


def _quietly(call: Callable[[], T]) -> T:
    """Run an MLflow call without its progress bars, notices ("Successfully registered model")
    and warnings the user cannot act on; its errors still raise."""
    import io
    import os
    from contextlib import redirect_stderr

    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with redirect_stderr(io.StringIO()):
            return call()
    finally:
        logger.setLevel(level)
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous


try:
    import mlflow.pyfunc as _pyfunc

    _Base: Any = _pyfunc.PythonModel
except (
    ImportError
):  # pragma: no cover - mlflow is a dependency; this keeps imports cheap to reason about
    _Base = object


def _log_pyfunc(
    mlflow: Any,
    folder: Path,
    *,
    python_model: Any,
    name: str,
    payload: Any,
    input_example: pd.DataFrame,
    registered_model_name: str | None,
) -> Any:
    """Save ``payload`` with joblib and log it inside a pyfunc model (optionally registered)."""
    import joblib

    from cxml import __version__

    path = folder / f"{name}.joblib"
    joblib.dump(payload, path)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=python_model,
        artifacts={name: str(path)},
        input_example=input_example,
        pip_requirements=[f"cxml=={__version__}"],
        registered_model_name=registered_model_name,
    )


class TextPyfunc(_Base):
    """pyfunc wrapper: a frame with a ``text`` column (and optional ``language``) → one JSON row per text."""

    def load_context(self, context: Any) -> None:
        import joblib

        self.pipeline = joblib.load(context.artifacts["pipeline"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        languages = model_input["language"].tolist() if "language" in model_input.columns else None
        results = self.pipeline.analyze(model_input["text"].tolist(), languages)
        return pd.DataFrame({"analysis": [json.dumps(r, ensure_ascii=False) for r in results]})


def log_text_pipeline(
    pipeline: Any,
    settings: Settings,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    sample: list[dict[str, Any]],
    tables: dict[str, pd.DataFrame] | None = None,
    register: bool = True,
) -> dict[str, Any]:
    """Log a fitted TextPipeline as an MLflow run and register it as a new ``cxml-text``
    version; the first version becomes champion, later ones wait for ``promote``.

    ``tables`` are logged as Parquet artifacts (the held-out comments, so any version can be
    graded on the same ones later)."""

    mlflow = _mlflow(settings)
    with _registry(settings):
        mlflow.set_experiment("cxml-text")
    with _registry(settings), tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(metrics)
        folder = Path(tmp)
        write_frame(pipeline.theme_table(), folder / "themes.csv")
        (folder / "lineage.json").write_text(
            json.dumps(pipeline.themes_.lineage_, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (folder / "sample_annotated.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in sample) + "\n", encoding="utf-8"
        )
        for name in ("themes.csv", "lineage.json", "sample_annotated.jsonl"):
            mlflow.log_artifact(str(folder / name))
        for name, table in (tables or {}).items():
            table.to_parquet(folder / name, index=False)
            mlflow.log_artifact(str(folder / name))
        info = _quietly(
            lambda: _log_pyfunc(
                mlflow,
                folder,
                python_model=TextPyfunc(),
                name="pipeline",
                payload=pipeline,
                input_example=pd.DataFrame(
                    {"text": ["The app keeps crashing.", "スタッフが親切でした。"]}
                ),
                registered_model_name=TEXT_MODEL if register else None,
            )
        )
        version = champion = None
        if register:
            version = str(info.registered_model_version)
            current = _alias_version(settings, TEXT_MODEL)
            if current is None:  # no champion yet: the first model becomes it
                mlflow.MlflowClient().set_registered_model_alias(TEXT_MODEL, CHAMPION, version)
            champion = version if current is None else str(current.version)
        return {
            "run_id": run.info.run_id,
            "model_uri": info.model_uri,
            "version": version,
            "champion": champion,
        }


def load_text_version(settings: Settings, version: str) -> Any:
    """The TextPipeline registered as ``version``."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        model = _quietly(lambda: mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL}/{version}"))
    return model.unwrap_python_model().pipeline


def load_text_champion(settings: Settings) -> tuple[Any, str] | None:
    """The champion TextPipeline and its version, or None when nothing is registered yet
    (RegistryError when the registry cannot be reached)."""
    version = _alias_version(settings, TEXT_MODEL)
    if version is None:
        return None
    return load_text_version(settings, str(version.version)), str(version.version)


CHURN_MODEL = "cxml-churn"


class ChurnPyfunc(_Base):
    """pyfunc wrapper: a frame of the model's feature columns → calibrated churn probability."""

    def load_context(self, context: Any) -> None:
        import joblib

        path = context.artifacts.get("predictor") or context.artifacts["bundle"]
        self.predictor = as_predictor(joblib.load(path))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from cxml.churn.model import churn_probability

        return pd.DataFrame(
            {"probability": churn_probability(self.predictor.estimator, model_input)}
        )


def as_predictor(payload: Any) -> Any:
    """A ChurnPredictor from what a registry version or an exported file holds (versions
    before 0.2 registered a dict bundle)."""
    from cxml.churn.predictor import ChurnPredictor

    if isinstance(payload, ChurnPredictor):
        return payload
    if isinstance(payload, dict) and "predictor" in payload:
        return as_predictor(payload["predictor"])
    if isinstance(payload, dict) and "model" in payload:
        return ChurnPredictor.from_bundle(payload)
    raise ConfigError(f"not a cxml churn model: {type(payload).__name__}")


def log_churn_model(
    predictor: Any,
    settings: Settings,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifacts: dict[str, Any],
    input_example: pd.DataFrame,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Log a ChurnPredictor as an MLflow run and register it as a new ``cxml-churn`` version.

    The first version becomes champion; later ones wait for ``promote``.
    """
    mlflow = _mlflow(settings)
    with _registry(settings):
        mlflow.set_experiment("cxml-churn")
    with _registry(settings), tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
        folder = Path(tmp)
        for name, value in artifacts.items():
            (folder / name).write_text(
                json.dumps(value, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
            mlflow.log_artifact(str(folder / name))
        for name, figure in (figures or {}).items():
            mlflow.log_figure(figure, f"plots/{name}")
        # Whole numbers logged as floats: a missing value at scoring time must fit the schema;
        # attribute values as text, the way they are stored.
        example = input_example.copy()
        for column in example.columns:
            if pd.api.types.is_integer_dtype(example[column]):
                example[column] = example[column].astype("float64")
            elif example[column].dtype == object:
                example[column] = example[column].map(lambda v: None if v is None else str(v))
        info = _quietly(
            lambda: _log_pyfunc(
                mlflow,
                folder,
                python_model=ChurnPyfunc(),
                name="predictor",
                payload=predictor,
                input_example=example,
                registered_model_name=CHURN_MODEL,
            )
        )
        client = mlflow.MlflowClient()
        version = str(info.registered_model_version)
        client.set_model_version_tag(CHURN_MODEL, version, "backtest", params.get("backtest", ""))
        client.set_model_version_tag(CHURN_MODEL, version, "mode", params.get("mode", ""))
        champion = _alias_version(settings, CHURN_MODEL)
        if champion is None:  # no champion yet: the first model becomes it
            client.set_registered_model_alias(CHURN_MODEL, CHAMPION, version)
        return {
            "run_id": run.info.run_id,
            "version": version,
            "champion": version if champion is None else str(champion.version),
        }


@dataclass(frozen=True)
class ModelVersion:
    """A registered version (``cxml-churn`` or ``cxml-text``) with what its run logged."""

    version: str
    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]

    @property
    def mode(self) -> str:
        return self.params.get("mode", "")


def model_versions(settings: Settings, name: str) -> list[ModelVersion]:
    """Every registered version of ``name``, oldest first, with its run's params and metrics."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        client = mlflow.MlflowClient()
        found = client.search_model_versions(f"name='{name}'")
        out = []
        for v in sorted(found, key=lambda v: int(v.version)):
            data = client.get_run(v.run_id).data
            out.append(
                ModelVersion(str(v.version), v.run_id, dict(data.params), dict(data.metrics))
            )
    return out


def churn_versions(settings: Settings) -> list[ModelVersion]:
    """Every registered ``cxml-churn`` version, oldest first."""
    return model_versions(settings, CHURN_MODEL)


def text_versions(settings: Settings) -> list[ModelVersion]:
    """Every registered ``cxml-text`` version, oldest first."""
    return model_versions(settings, TEXT_MODEL)


def churn_champion_version(settings: Settings) -> str | None:
    """The version behind ``cxml-churn@champion``, or None."""
    return champion_version(settings, CHURN_MODEL)


def set_champion(settings: Settings, name: str, version: str) -> None:
    """Move ``name@champion`` to ``version``."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        mlflow.MlflowClient().set_registered_model_alias(name, CHAMPION, str(version))


def set_churn_champion(settings: Settings, version: str) -> None:
    """Move ``cxml-churn@champion`` to ``version``."""
    set_champion(settings, CHURN_MODEL, version)


def _run_artifact(
    settings: Settings, run_id: str, name: str, read: Callable[[Path], T]
) -> T | None:
    """An artifact of a run, read by ``read`` from a temporary copy; None when the run did not
    log it."""
    from mlflow.exceptions import MlflowException

    mlflow = _mlflow(settings)
    with _registry(settings), tempfile.TemporaryDirectory() as tmp:
        try:
            path = _quietly(
                lambda: mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=name, dst_path=tmp
                )
            )
        except MlflowException as exc:
            if _missing(exc) or "No such file" in str(exc):
                return None
            raise
        except FileNotFoundError:
            return None
        return read(Path(path))


def run_table(settings: Settings, run_id: str, name: str) -> pd.DataFrame | None:
    """A Parquet artifact of a run as a frame, or None when the run did not log it."""
    return _run_artifact(settings, run_id, name, pd.read_parquet)


def run_json(settings: Settings, run_id: str, name: str) -> Any:
    """A JSON artifact of a run, or None when the run did not log it."""
    return _run_artifact(
        settings, run_id, name, lambda path: json.loads(path.read_text(encoding="utf-8"))
    )


def log_to_run(
    settings: Settings, run_id: str, *, metrics: dict[str, float], params: dict[str, Any]
) -> None:
    """Add metrics and params to a finished run (a comparison made after it ended)."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        client = mlflow.MlflowClient()
        for key, value in metrics.items():
            if value == value:
                client.log_metric(run_id, key, float(value))
        logged = client.get_run(run_id).data.params
        for key, value in params.items():
            if key not in logged:  # MLflow params are write-once
                client.log_param(run_id, key, str(value)[:500])


def load_churn_version(settings: Settings, version: str) -> Any:
    """The ChurnPredictor registered as ``version``."""
    return _load_churn_version(settings, version)


def _load_churn_version(settings: Settings, version: str) -> Any:
    mlflow = _mlflow(settings)
    with _registry(settings):
        model = _quietly(lambda: mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}/{version}"))
    return model.unwrap_python_model().predictor


def load_churn_champion(settings: Settings) -> tuple[Any, str]:
    """The champion ChurnPredictor and its version; ModelNotFoundError when none is registered
    (its message says where cxml looked and which command trains one)."""
    version = _alias_version(settings, CHURN_MODEL)
    if version is None:
        raise ModelNotFoundError(
            f"no cxml-churn champion in the MLflow registry at {registry_location(settings)}: "
            "train one on the store with `cxml train churn` (or on a table of customers with "
            "`cxml train churn --customers FILE --label-column COLUMN`), or set "
            "CXML_MLFLOW_TRACKING_URI to the registry that holds yours"
        )
    return _load_churn_version(settings, str(version.version)), str(version.version)


def load_churn_for_mode(settings: Settings, mode: str) -> tuple[Any, str]:
    """The champion ChurnPredictor when it was trained in ``mode`` ('flat' or 'store'), else the
    newest version trained in that mode; ModelNotFoundError when there is none."""
    predictor, version = load_churn_champion(settings)
    if predictor.mode == mode:
        return predictor, version
    mlflow = _mlflow(settings)
    with _registry(settings):
        client = mlflow.MlflowClient()
        versions = sorted(
            client.search_model_versions(f"name='{CHURN_MODEL}'"),
            key=lambda v: int(v.version),
            reverse=True,
        )
        for candidate in versions:
            if client.get_run(candidate.run_id).data.params.get("mode") == mode:
                return _load_churn_version(settings, str(candidate.version)), str(candidate.version)
    how = (
        "cxml train churn --customers FILE --label-column COLUMN"
        if mode == "flat"
        else "cxml train churn --as-of DATE"
    )
    raise ModelNotFoundError(f"no cxml-churn version was trained in {mode} mode: run `{how}`")


def version_params(settings: Settings, name: str, version: str) -> dict[str, str]:
    """The params logged by the run behind version ``version`` of ``name`` (for a churn model:
    its mode and, for a store-mode one, the ``store`` it was trained on)."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        client = mlflow.MlflowClient()
        run_id = client.get_model_version(name, str(version)).run_id
        return dict(client.get_run(run_id).data.params)


def champion_version(settings: Settings, name: str) -> str | None:
    """The version behind ``name@champion``, or None when nothing is registered yet
    (RegistryError when the registry cannot be reached)."""
    found = _alias_version(settings, name)
    return None if found is None else str(found.version)


def log_drift(settings: Settings, report: dict[str, Any]) -> str:
    """Log a drift report as a run of the ``cxml-drift`` experiment: each check's PSI (and the
    realised ROC-AUC) as metrics, the whole report as ``drift.json``. Returns the run id."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        mlflow.set_experiment("cxml-drift")
    metrics = {f"{mix}_psi": r["psi"] for mix, r in report["mixes"].items()}
    metrics |= {f"feature_psi_{r['feature']}"[:250]: r["psi"] for r in report["features"]}
    performance = report.get("performance") or {}
    metrics |= {
        f"realised_{k}": performance[k]
        for k in ("roc_auc", "brier", "calibration_ratio")
        if isinstance(performance.get(k), float)
    }
    metrics["alerts"] = float(len(report["alerts"]))
    with _registry(settings), mlflow.start_run() as run:
        mlflow.log_params(
            {
                "reference": report["reference"]["label"],
                "current": report["current"]["label"],
                "churn_model_version": report.get("model_version") or "",
            }
        )
        mlflow.log_metrics(
            {
                k: float(v)
                for k, v in metrics.items()
                if isinstance(v, int | float) and math.isfinite(v)  # an empty period gives None
            }
        )
        mlflow.log_dict(report, "drift.json")
        return str(run.info.run_id)


_SCRUBBED = (".parquet", ".jsonl", ".csv", ".json")


@dataclass(frozen=True)
class Needles:
    """What marks a row as an erased customer's: ids matched whole (a cell equal to one), words
    matched inside (their comments, as redacted)."""

    ids: frozenset[str]
    words: tuple[str, ...]

    def found_in(self, value: Any) -> bool:
        if isinstance(value, dict):
            return any(self.found_in(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(self.found_in(v) for v in value)
        text = str(value)
        return text in self.ids or any(w in text for w in self.words)

    def could_be_in(self, raw: bytes) -> bool:
        return any(n.encode() in raw for n in (*self.ids, *self.words))


def _rows_without(path: Path, needles: Needles) -> tuple[bytes, int] | None:
    """The file at ``path`` without the rows that hold ``needles`` (its new bytes and how many
    rows went), or None when nothing in it matched."""
    raw = path.read_bytes()
    if path.suffix == ".parquet":  # compressed: its bytes may not show the words
        frame = pd.read_parquet(path)
        keep = ~frame.apply(lambda row: needles.found_in(row.tolist()), axis=1).astype(bool)
        if frame.empty or keep.all():
            return None
        buffer = io.BytesIO()
        frame[keep].to_parquet(buffer, index=False)
        return buffer.getvalue(), int((~keep).sum())
    if not needles.could_be_in(raw):
        return None
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".jsonl":
        lines = text.splitlines(keepends=True)
        kept = [x for x in lines if not (x.strip() and needles.found_in(json.loads(x)))]
    elif path.suffix == ".csv":
        lines = text.splitlines(keepends=True)
        kept = lines[:1] + [
            x for x in lines[1:] if not needles.found_in(x.rstrip("\r\n").split(","))
        ]
    else:
        document = json.loads(text)
        if not isinstance(document, list):
            return None  # a document that is not a list of rows: left as it is
        items = [d for d in document if not needles.found_in(d)]
        data = json.dumps(items, ensure_ascii=False, indent=2, default=str).encode()
        return (data, len(document) - len(items)) if len(items) < len(document) else None
    if len(kept) == len(lines):
        return None
    return "".join(kept).encode(), len(lines) - len(kept)


def _scrub_one(mlflow: Any, client: Any, run_id: str, path: str, needles: Needles) -> int | None:
    """Rewrite one artifact without the rows holding ``needles``; rows removed, or None."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(
            _quietly(
                functools.partial(
                    mlflow.artifacts.download_artifacts,
                    run_id=run_id,
                    artifact_path=path,
                    dst_path=tmp,
                )
            )
        )
        changed = _rows_without(local, needles)
        if changed is None:
            return None
        data, count = changed
        local.write_bytes(data)
        parent = str(Path(path).parent)
        _quietly(
            functools.partial(
                client.log_artifact, run_id, str(local), None if parent == "." else parent
            )
        )
    return count


def scrub_artifacts(settings: Settings, ids: Sequence[str], words: Sequence[str]) -> dict[str, int]:
    """Rewrite every tabular artifact (Parquet, JSON Lines, CSV, JSON lists) of cxml's MLflow
    runs without the rows holding an erased customer's ``ids`` (theirs and their feedback
    items', matched whole) or ``words`` (their comments as redacted, matched inside):
    {artifact: rows removed}. Models already trained keep
    what they learned (no raw words: they are fitted on redacted text) until replaced."""
    from mlflow.tracking import MlflowClient

    needles = Needles(frozenset(i for i in ids if i), tuple(w for w in words if len(w) >= 12))
    if not needles.ids and not needles.words:
        return {}
    mlflow = _mlflow(settings)
    removed: dict[str, int] = {}
    with _registry(settings):
        client = MlflowClient()
        experiments = [e for e in client.search_experiments() if e.name.startswith("cxml-")]
        runs = client.search_runs([e.experiment_id for e in experiments]) if experiments else []
        for run in runs:
            stack = [""]
            while stack:
                folder = stack.pop()
                for item in client.list_artifacts(run.info.run_id, folder or None):
                    if item.is_dir:
                        stack.append(item.path)
                        continue
                    if not item.path.endswith(_SCRUBBED) or (item.file_size or 0) > 200_000_000:
                        continue
                    count = _scrub_one(mlflow, client, run.info.run_id, item.path, needles)
                    if count is not None:
                        removed[f"{run.info.run_id}/{item.path}"] = count
    return removed


# --- uplift --------------------------------------------------------------------------------

UPLIFT_MODEL = "cxml-uplift"


class UpliftPyfunc(_Base):
    """pyfunc wrapper: a frame of the uplift model's features → uplift, low, high."""

    def load_context(self, context: Any) -> None:
        import joblib

        self.model = joblib.load(context.artifacts["uplift"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.model.estimate(model_input)


def log_uplift_model(
    model: Any,
    settings: Settings,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    report: dict[str, Any],
    input_example: pd.DataFrame,
) -> dict[str, Any]:
    """Log an uplift model as a run of the ``cxml-uplift`` experiment and register it; the
    newest version becomes champion (the worklist uses it only when its grades say it is good
    enough, and says why not otherwise)."""
    mlflow = _mlflow(settings)
    with _registry(settings):
        mlflow.set_experiment(UPLIFT_MODEL)
    with _registry(settings), tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
        folder = Path(tmp)
        (folder / "uplift.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        mlflow.log_artifact(str(folder / "uplift.json"))
        example = input_example.copy()
        for column in example.columns:
            if pd.api.types.is_numeric_dtype(example[column]):
                example[column] = example[column].astype("float64")
            else:  # attribute values as text, the way they are stored
                example[column] = (
                    example[column]
                    .map(lambda v: None if v is None or v != v else str(v))
                    .astype(object)
                )
        info = _quietly(
            lambda: _log_pyfunc(
                mlflow,
                folder,
                python_model=UpliftPyfunc(),
                name="uplift",
                payload=model,
                input_example=example,
                registered_model_name=UPLIFT_MODEL,
            )
        )
        version = str(info.registered_model_version)
        mlflow.MlflowClient().set_registered_model_alias(UPLIFT_MODEL, CHAMPION, version)
        return {"run_id": run.info.run_id, "version": version}


def load_uplift_champion(settings: Settings) -> tuple[Any, str] | None:
    """The champion uplift model and its version, or None when none is registered."""
    version = _alias_version(settings, UPLIFT_MODEL)
    if version is None:
        return None
    mlflow = _mlflow(settings)
    with _registry(settings):
        model = _quietly(
            lambda: mlflow.pyfunc.load_model(f"models:/{UPLIFT_MODEL}/{version.version}")
        )
    return model.unwrap_python_model().model, str(version.version)
