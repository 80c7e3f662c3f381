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
    import joblib

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
        model_path = folder / "pipeline.joblib"
        joblib.dump(pipeline, model_path)
        from cxml import __version__

        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=TextPyfunc(),
            artifacts={"pipeline": str(model_path)},
            input_example=pd.DataFrame(
                {"text": ["The app keeps crashing.", "スタッフが親切でした。"]}
            ),
            pip_requirements=[f"cxml=={__version__}"],
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
