"""The score job: churn risk with the model that serves — probability, band, revenue at risk,
reasons — for a file of customers (flat mode) or the store's active customers (here or on
Spark), written to a file and, for the store, kept there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cxml.churn.explain import Language
from cxml.contract import AsOf, parse_as_of
from cxml.errors import ConfigError
from cxml.jobs.engine import Engine, OpenStore
from cxml.jobs.serving import ModelOrigin, Serving, churn_model, churn_origin, reasons_in
from cxml.settings import Settings


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ScoreRequest:
    """What to score, with which model, and where to write it."""

    as_of: AsOf | None = None  # store mode: customers active on this day (default: now)
    customers_path: Path | None = None  # flat mode: a customer table
    maps: tuple[str, ...] = ()  # flat mode: SOURCE=TARGET column renames
    out_path: Path | None = None
    top: int = 10
    model_version: str | None = None  # default: the model that serves this mode
    engine: Engine = field(default_factory=Engine)
    language: Language = (
        "en"  # of the top rows' reasons (the file and the store keep them as scored)
    )

    @property
    def mode(self) -> str:
        return "flat" if self.customers_path else "store"


@dataclass(frozen=True)
class ScoreResult:
    """How many were scored, with which model (and why that one, from where, trained on which
    store), the most at risk."""

    count: int
    version: str
    attribution: str
    top: list[dict[str, Any]]
    out_path: Path | None
    serving: Serving
    newer: str | None = None  # a newer version of this mode, not the champion
    unanalysed: int = 0  # store mode, a model that reads text: comments no text model read
    origin: ModelOrigin | None = None  # where the model came from, the store it learnt from


def run_score(
    settings: Settings,
    store: OpenStore,
    request: ScoreRequest,
    *,
    now: datetime,
    say: Callable[[str], None] = _quiet,
) -> ScoreResult:
    """Score, write, keep; ``say`` hears the progress of a store run."""
    from cxml.batch import printable, score_store
    from cxml.contract import parse_mapping
    from cxml.io import FrameWriter
    from cxml.scoring import attribution_for
    from cxml.scoring import score as score_features
    from cxml.text.training import read_table

    customers_path, out_path, top, engine = (
        request.customers_path,
        request.out_path,
        request.top,
        request.engine,
    )
    serving = churn_model(settings, mode=request.mode, version=request.model_version)
    predictor, version = serving.model, serving.version
    from_store = customers_path is None and engine.parquet is None
    origin = churn_origin(settings, serving, scoring=store().url if from_store else None)
    say(origin.describe())  # before a long run: which model, and whose
    if origin.warning:
        say(origin.warning)
    if customers_path is not None:
        if engine.spark:
            raise ConfigError(
                "--engine spark scores the store's history (or --parquet); a table of customers "
                "is scored with --engine local",
                field="engine",
            )
        if out_path is None:
            raise ConfigError("flat mode writes a file: give --out FILE", field="out")
        table = read_table(customers_path).rename(columns=parse_mapping(request.maps))
        features = predictor.table(table)
        scored = score_features(
            predictor,
            features,
            as_of=parse_as_of(now).normalize(),
            scored_at=now,
            model_version=version,
            attribution=attribution_for(len(features)),
        )
        with FrameWriter(out_path) as file:
            file.write(printable(scored))
        top_rows = scored.sort_values("probability", ascending=False).head(top)
        rows, attribution = top_rows.to_dict(orient="records"), scored["attribution"].iloc[0]
        count = len(scored)
    elif engine.spark:
        from cxml.spark.jobs import score_with_spark

        day = parse_as_of(request.as_of, now=now).normalize()
        spark, source = engine.session(settings), engine.source(settings, store)
        done = score_with_spark(
            spark,
            source,
            predictor,
            model_version=version,
            as_of=day,
            scored_at=now,
            bucket_customers=settings.bucket_customers,
            out=out_path,
            record=source.database_url is not None,
            top=top,
        )
        rows, attribution, count = done["top"], done["attribution"], done["scored"]
    else:
        engine.local_only()
        day = parse_as_of(request.as_of, now=now).normalize()

        def progress(done: int, total: int) -> None:
            say(f"scored {done:,} of {total:,} active customers")

        writer: FrameWriter | None
        with FrameWriter(out_path) if out_path is not None else _no_file() as writer:
            run = score_store(
                store(),
                predictor,
                model_version=version,
                as_of=day,
                scored_at=now,
                bucket_customers=settings.bucket_customers,
                sink=(lambda part: writer.write(printable(part))) if writer is not None else None,
                top=top,
                progress=progress,
            )
        rows, attribution, count = run.top, run.attribution, run.scored
    unanalysed = 0
    if (
        customers_path is None
        and not engine.spark
        and predictor.spec is not None
        and predictor.spec.with_text
    ):
        from cxml.store.analysis import never_analysed

        unanalysed = never_analysed(store())
    return ScoreResult(
        count=count,
        version=version,
        attribution=attribution,
        top=reasons_in(settings, rows, request.language),
        out_path=out_path,
        serving=serving,
        newer=_newer(settings, version, request.mode),
        unanalysed=unanalysed,
        origin=origin,
    )


def _newer(settings: Settings, version: str, mode: str) -> str | None:
    """The newest version of this mode newer than ``version``, waiting unpromoted."""
    from cxml.tracking import churn_versions

    newer = (
        [
            v.version
            for v in churn_versions(settings)
            if v.mode == mode and int(v.version) > int(version)
        ]
        if version.isdigit()
        else []
    )
    return newer[-1] if newer else None


@contextmanager
def _no_file() -> Iterator[None]:
    yield None
