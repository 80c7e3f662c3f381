"""The models a server worker serves, loaded once and swapped whole on reload.

Sources, best first, as ``cxml.jobs.serving`` (the one resolver) decides: the MLflow registry's
``champion`` aliases (``cxml-churn``, ``cxml-text``); bundles exported to ``settings.model_dir``
(``cxml export-models``); for text, the shipped defaults. A reload builds the new set completely before swapping one reference, so requests
in flight finish on the models they started with and none is dropped.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxml.churn.predictor import ChurnPredictor
from cxml.settings import Settings


@dataclass(frozen=True)
class Loaded:
    """One consistent set of models."""

    churn: ChurnPredictor | None = None
    churn_version: str | None = None
    churn_source: str | None = None
    text: Any = None
    text_version: str | None = None
    text_source: str | None = None
    loaded_at: float = field(default_factory=time.time)
    problems: tuple[str, ...] = ()


class Models:
    """Holds the current ``Loaded`` set; ``check`` reloads when a champion changed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current = Loaded()
        self._lock = threading.Lock()

    def _wanted(self) -> dict[str, str | None]:
        """What should serve now: a registry version, or a bundle file's identity."""
        from cxml.jobs.serving import wanted_source

        bundles = Path(self.settings.model_dir)
        return {
            kind: _identity(wanted_source(self.settings, kind, bundles=bundles))
            for kind in ("churn", "text")
        }

    def load(self) -> Loaded:
        """Load what should serve now and swap it in; returns the new set."""
        from cxml.errors import ModelNotFoundError
        from cxml.jobs.serving import churn_model, text_model

        bundles = Path(self.settings.model_dir)
        with self._lock:
            wanted = self._wanted()
            # A model whose version did not change is kept as it is: loading and warming it
            # again would only hold the worker (a registry version never changes content; a
            # bundle's identity includes its file time).
            now = self.current
            keep_churn = now.churn is not None and wanted["churn"] == _identity(now.churn_source)
            keep_text = now.text is not None and wanted["text"] == _identity(now.text_source)
            problems: list[str] = []
            churn = churn_version = churn_source = None
            if keep_churn:
                churn, churn_version, churn_source = (
                    now.churn,
                    now.churn_version,
                    now.churn_source,
                )
            else:
                try:
                    serving = churn_model(self.settings, bundles=bundles)
                    churn, churn_version, churn_source = (
                        serving.model,
                        serving.version,
                        serving.source,
                    )
                except ModelNotFoundError:
                    problems.append(
                        "no churn model: train one with `cxml train churn` (registry "
                        f"{self.settings.mlflow_tracking_uri}) or put an exported churn.joblib in "
                        f"{self.settings.model_dir}/ (`cxml export-models`), then POST /v1/models/reload"
                    )
            if keep_text:
                text, text_version, text_source = now.text, now.text_version, now.text_source
            else:
                served = text_model(self.settings, bundles=bundles)
                text, text_version, text_source = served.model, served.version, served.source
            _warm_up(None if keep_churn else churn, None if keep_text else text)
            # The models hold millions of long-lived objects (dictionaries, vocabularies,
            # trees): keep them out of the collector's full passes, which otherwise pause a
            # request for hundreds of milliseconds now and then.
            gc.collect()
            gc.freeze()
            self.current = Loaded(
                churn=churn,
                churn_version=churn_version,
                churn_source=churn_source,
                text=text,
                text_version=text_version,
                text_source=text_source,
                problems=tuple(problems),
            )
            return self.current

    def check(self) -> bool:
        """Reload when a champion or bundle changed since the last load; True when it did."""
        current = self.current
        serving = {"churn": _identity(current.churn_source), "text": _identity(current.text_source)}
        if self._wanted() == serving:
            return False
        self.load()
        return True

    def describe(self) -> dict[str, Any]:
        """What serves now, for GET /v1/models."""
        current = self.current
        return {
            "churn": None
            if current.churn is None
            else {
                "version": current.churn_version,
                "source": current.churn_source,
                **current.churn.describe(),
            },
            "text": {"version": current.text_version, "source": current.text_source},
            "loaded_at": current.loaded_at,
            "problems": list(current.problems),
        }


def _identity(source: str | None) -> str | None:
    """A loaded source in the form ``_wanted`` gives: a registry version or a bundle identity."""
    if source is None or source == "defaults":
        return None
    if source.startswith("registry:"):
        return source.rsplit(":", 1)[1]
    return source


def _warm_up(churn: ChurnPredictor | None, text: Any) -> None:
    """Run each model once on a dummy input, so the first request does not pay for compiling
    (numba), dictionaries (Sudachi) or lazy imports."""
    import numpy as np
    import pandas as pd

    if churn is not None:
        model = churn.estimator
        row = pd.DataFrame({c: [np.nan] for c in churn.columns})
        model.walk(row, k=3)
        model.contributions(row)
    if text is not None:
        text.analyze(["warming up", "準備中です"], [None, None])
