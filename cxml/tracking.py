"""The one door to MLflow: log and register fitted models, load the champion.

Models are saved with joblib inside an MLflow pyfunc model, so the same object
serves in the CLI, the API and on Spark (``mlflow.pyfunc.spark_udf``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from cxml.settings import Settings

TEXT_MODEL = "cxml-text"
CHAMPION = "champion"


def _mlflow(settings: Settings) -> Any:
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return mlflow


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

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
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
    register: bool = True,
) -> dict[str, Any]:
    """Log a fitted TextPipeline as an MLflow run, register it and make it the champion."""

    mlflow = _mlflow(settings)
    mlflow.set_experiment("cxml-text")
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(metrics)
        folder = Path(tmp)
        pipeline.theme_table().to_csv(folder / "themes.csv", index=False)
        (folder / "lineage.json").write_text(
            json.dumps(pipeline.themes_.lineage_, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (folder / "sample_annotated.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in sample) + "\n", encoding="utf-8"
        )
        for name in ("themes.csv", "lineage.json", "sample_annotated.jsonl"):
            mlflow.log_artifact(str(folder / name))
        info = _log_pyfunc(
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
        version = None
        if register:
            client = mlflow.MlflowClient()
            version = str(info.registered_model_version)
            client.set_registered_model_alias(TEXT_MODEL, CHAMPION, version)
        return {"run_id": run.info.run_id, "model_uri": info.model_uri, "version": version}


def load_text_champion(settings: Settings) -> tuple[Any, str] | None:
    """The champion TextPipeline and its version, or None when nothing is registered yet."""
    mlflow = _mlflow(settings)
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(TEXT_MODEL, CHAMPION)
    except Exception:  # no registry, no model, or no alias yet: a fresh install
        return None
    model = mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL}@{CHAMPION}")
    return model.unwrap_python_model().pipeline, str(version.version)


CHURN_MODEL = "cxml-churn"


class ChurnPyfunc(_Base):
    """pyfunc wrapper: a feature frame → calibrated churn probability per row."""

    def load_context(self, context: Any) -> None:
        import joblib

        self.bundle = joblib.load(context.artifacts["bundle"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        return pd.DataFrame({"probability": self.bundle["model"].predict_proba(model_input)})


def log_churn_model(
    bundle: dict[str, Any],
    settings: Settings,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifacts: dict[str, Any],
    input_example: pd.DataFrame,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Log a churn model bundle as an MLflow run and register it as a new ``cxml-churn`` version.

    The first version becomes champion; later ones wait for ``promote``.
    """

    mlflow = _mlflow(settings)
    mlflow.set_experiment("cxml-churn")
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
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
        # Whole numbers logged as floats: a missing value at scoring time must fit the schema.
        example = input_example.copy()
        for column in example.columns:
            if pd.api.types.is_integer_dtype(example[column]):
                example[column] = example[column].astype("float64")
        info = _log_pyfunc(
            mlflow,
            folder,
            python_model=ChurnPyfunc(),
            name="bundle",
            payload=bundle,
            input_example=example,
            registered_model_name=CHURN_MODEL,
        )
        client = mlflow.MlflowClient()
        version = str(info.registered_model_version)
        client.set_model_version_tag(CHURN_MODEL, version, "backtest", params.get("backtest", ""))
        champion = None
        try:
            champion = client.get_model_version_by_alias(CHURN_MODEL, CHAMPION)
        except Exception:  # no champion yet: the first model becomes it
            client.set_registered_model_alias(CHURN_MODEL, CHAMPION, version)
        return {
            "run_id": run.info.run_id,
            "version": version,
            "champion": version if champion is None else str(champion.version),
        }


def promote_churn(
    settings: Settings, version: str | None = None, metric: str = "roc_auc"
) -> dict[str, Any]:
    """Make ``version`` (default: the newest) champion if it beats the champion on the same backtest.

    Refuses, saying why, when the backtests differ or the challenger is not better.
    """
    from cxml.errors import ConfigError

    mlflow = _mlflow(settings)
    client = mlflow.MlflowClient()
    versions = client.search_model_versions(f"name='{CHURN_MODEL}'")
    if not versions:
        raise ConfigError("no cxml-churn model is registered yet: run `cxml train churn` first")
    chosen = (
        max(versions, key=lambda v: int(v.version))
        if version is None
        else next((v for v in versions if str(v.version) == str(version)), None)
    )
    if chosen is None:
        raise ConfigError(f"cxml-churn has no version {version}")
    champion = client.get_model_version_by_alias(CHURN_MODEL, CHAMPION)
    if str(champion.version) == str(chosen.version):
        return {"promoted": False, "reason": f"version {chosen.version} is already the champion"}
    challenger_run = client.get_run(chosen.run_id).data
    champion_run = client.get_run(champion.run_id).data
    same = challenger_run.params.get("backtest") == champion_run.params.get("backtest")
    if not same:
        return {
            "promoted": False,
            "reason": (
                f"version {chosen.version} was graded on a different backtest "
                f"({challenger_run.params.get('backtest')}) than champion {champion.version} "
                f"({champion_run.params.get('backtest')}): retrain both on the same data and as-of date"
            ),
        }
    new = challenger_run.metrics.get(f"model_{metric}", float("nan"))
    old = champion_run.metrics.get(f"model_{metric}", float("nan"))
    if not new > old:
        return {
            "promoted": False,
            "reason": f"version {chosen.version} {metric} {new:.4f} does not beat champion {champion.version} ({old:.4f})",
        }
    client.set_registered_model_alias(CHURN_MODEL, CHAMPION, str(chosen.version))
    return {
        "promoted": True,
        "reason": f"version {chosen.version} {metric} {new:.4f} beats {old:.4f}",
        "champion": str(chosen.version),
    }


def load_churn_champion(settings: Settings) -> tuple[dict[str, Any], str]:
    """The champion churn bundle and its version; ConfigError when none is registered."""
    from cxml.errors import ConfigError

    mlflow = _mlflow(settings)
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(CHURN_MODEL, CHAMPION)
    except Exception as exc:  # no registry or no alias yet
        raise ConfigError("no cxml-churn champion yet: run `cxml train churn` first") from exc
    model = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}@{CHAMPION}")
    return model.unwrap_python_model().bundle, str(version.version)


def load_churn_for_mode(settings: Settings, mode: str) -> tuple[dict[str, Any], str]:
    """The champion churn bundle when it was trained in ``mode`` ('flat' or 'store'), else the
    newest version trained in that mode; ConfigError when there is none."""
    from cxml.errors import ConfigError

    bundle, version = load_churn_champion(settings)
    if bundle["mode"] == mode:
        return bundle, version
    mlflow = _mlflow(settings)
    client = mlflow.MlflowClient()
    versions = sorted(
        client.search_model_versions(f"name='{CHURN_MODEL}'"),
        key=lambda v: int(v.version),
        reverse=True,
    )
    for candidate in versions:
        if client.get_run(candidate.run_id).data.params.get("mode") == mode:
            loaded = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}/{candidate.version}")
            return loaded.unwrap_python_model().bundle, str(candidate.version)
    how = (
        "cxml train churn --customers FILE --label-column COLUMN"
        if mode == "flat"
        else "cxml train churn --as-of DATE"
    )
    raise ConfigError(f"no cxml-churn version was trained in {mode} mode: run `{how}`")


def champion_version(settings: Settings, name: str) -> str | None:
    """The version behind ``name@champion``, or None (no registry, model or alias yet)."""
    mlflow = _mlflow(settings)
    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
    except Exception:  # a fresh install: nothing registered yet
        return None


def export_champions(settings: Settings, directory: Path) -> dict[str, str]:
    """Write the champions as bundles a server can load without a registry:
    ``churn.joblib`` and ``text.joblib`` in ``directory``. Returns {kind: version}."""
    import joblib

    from cxml.errors import ConfigError

    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    text = load_text_champion(settings)
    if text is not None:
        joblib.dump({"pipeline": text[0], "version": text[1]}, directory / "text.joblib")
        written["text"] = text[1]
    try:
        bundle, version = load_churn_champion(settings)
    except ConfigError:
        bundle = None
    if bundle is not None:
        joblib.dump({**bundle, "version": version}, directory / "churn.joblib")
        written["churn"] = version
    if not written:
        raise ConfigError(
            "no champion to export: train with `cxml train text` / `cxml train churn`"
        )
    return written
