"""The analyze job: every comment's language, sentiment, themes, key phrases, intents and
redacted text, from a file into JSON Lines or from the store back into it, with the text model
that serves (``cxml.jobs.serving``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cxml.errors import ConfigError, InputFileError
from cxml.jobs.engine import Engine, OpenStore
from cxml.jobs.serving import text_model
from cxml.settings import Settings
from cxml.text.training import analysis_frames, read_table

#: Takes a file's analysed rows a batch at a time, in input order: each row as the JSON Lines
#: output has it (the id column first when there is one), and the id column's name or None.
Rows = Callable[[list[dict[str, Any]], str | None], None]


def analyze_file(
    settings: Settings,
    input_path: Path,
    out_path: Path | None = None,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    language_column: str = "language",
    batch_rows: int = 5000,
    rows: Rows | None = None,
) -> dict[str, Any]:
    """Analyse every row of a file, in input order, with the champion or the defaults: into
    JSON Lines at ``out_path`` and/or to ``rows``, a batch at a time. Writes nothing else (the
    champion is read from the registry; a registry not made yet is not made by reading it)."""
    frame = read_table(input_path)
    if text_column not in frame.columns:
        raise InputFileError(
            str(input_path),
            f"no text column {text_column!r}; its columns are: {', '.join(frame.columns)}",
        )
    if id_column is None:
        id_column = next((c for c in ("feedback_id", "id") if c in frame.columns), None)
    elif id_column not in frame.columns:
        raise InputFileError(str(input_path), f"no id column {id_column!r}")
    serving = text_model(settings)
    pipeline, model = (
        (serving.model, f"cxml-text version {serving.version}")
        if serving.from_registry
        else (serving.model, "the shipped defaults")
    )
    covered = analysed = 0
    with ExitStack() as stack:
        out = None
        if out_path is not None:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(open(out_path, "w", encoding="utf-8"))
        for start in range(0, len(frame), batch_rows):
            part = frame.iloc[start : start + batch_rows]
            languages = part[language_column].tolist() if language_column in part.columns else None
            results = pipeline.analyze(part[text_column].tolist(), languages)
            ids = part[id_column].tolist() if id_column else [None] * len(part)
            records = [
                {**({id_column: row_id} if id_column else {}), **result}
                for row_id, result in zip(ids, results, strict=True)
            ]
            if out is not None:
                out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            if rows is not None:
                rows(records, id_column)
            analysed += sum(1 for r in results if r["themes"])
            covered += sum(1 for r in results if any(t["id"] != "other" for t in r["themes"]))
    return {"rows": len(frame), "model": model, "coverage": covered / analysed if analysed else 0.0}


def analyze_store(
    store: Any,
    settings: Settings,
    *,
    now: Any,
    everything: bool = False,
    batch_rows: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Analyse the store's feedback with the champion (or the defaults) and store the results.

    Only comments not yet analysed by this model version are read, unless ``everything``;
    ``batch_rows`` at a time (in id order), so memory does not grow with the store. Each batch
    is one transaction; rerunning continues where a crash stopped.
    """
    from cxml.store.analysis import unanalysed_feedback, usual_languages, write_analysis

    serving = text_model(settings)
    pipeline, version = serving.model, serving.version
    done = 0
    after: str | None = None
    while True:
        part = unanalysed_feedback(
            store, version, everything=everything, after=after, limit=batch_rows
        )
        if part.empty:
            break
        # A short comment the detector is unsure of takes its customer's (or channel's) usual one.
        fallback = usual_languages(store, part["feedback_id"].astype(str).tolist())
        results = pipeline.analyze(part["text"].tolist(), part["language"].tolist(), fallback)
        analysis, themes = analysis_frames(part["feedback_id"].tolist(), results, version, now)
        write_analysis(store, analysis, themes)
        done += len(part)
        after = str(part["feedback_id"].iloc[-1])
        if progress is not None:
            progress(done)
    return {"analysed": done, "model_version": version}


def _announce_emerging(store: OpenStore, now: datetime) -> None:
    """Tell the subscribers of ``theme.emerging`` about themes the new analysis shows
    emerging (once per theme and period: rerunning announces nothing twice)."""
    from cxml.webhooks import announce_emerging_themes

    announce_emerging_themes(store(), now=now)


# --- the job, as `cxml analyze` asks for it --------------------------------------------------


@dataclass(frozen=True)
class AnalyzeRequest:
    input_path: Path | None = None  # a file to analyse into out_path (JSON Lines) or to rows
    out_path: Path | None = None
    into_store: bool = False  # the store's feedback, the results kept there
    everything: bool = False  # with into_store: also what this model already read
    text_column: str = "text"
    id_column: str | None = None
    language_column: str = "language"
    engine: Engine = field(default_factory=Engine)


@dataclass(frozen=True)
class Analysed:
    """How many were read, by which model, and where the results went."""

    on: str  # "spark", "store" or "file"
    count: int
    model: str
    stored: bool
    out_path: Path | None = None
    coverage: float | None = None  # a file's theme coverage


def run_analyze(
    settings: Settings,
    store: OpenStore,
    request: AnalyzeRequest,
    *,
    now: datetime,
    say: Callable[[str], None] | None = None,
    rows: Rows | None = None,
) -> Analysed:
    """Analyse what ``request`` names: the store's feedback (kept there), on Spark or here, or
    a file, into ``request.out_path`` and/or handed to ``rows`` a batch at a time."""
    engine, out_path = request.engine, request.out_path
    if engine.spark:
        from cxml.spark.jobs import analyze_with_spark

        if not request.into_store and engine.parquet is None:
            raise ConfigError("--engine spark analyses the store (--store) or --parquet DIR")
        serving = text_model(settings)
        pipeline, version = serving.model, serving.version
        spark, source = engine.session(settings), engine.source(settings, store)
        done = analyze_with_spark(
            spark,
            source,
            pipeline,
            model_version=version,
            now=now,
            everything=request.everything,
            out=out_path,
        )
        if source.database_url:
            _announce_emerging(store, now)
        return Analysed(
            "spark",
            done["analysed"],
            done["model_version"],
            stored=bool(source.database_url),
            out_path=out_path,
        )
    engine.local_only()
    if request.into_store:
        done = analyze_store(
            store(),
            settings,
            now=now,
            everything=request.everything,
            progress=(lambda n: say(f"analysed {n:,} comments")) if say is not None else None,
        )
        _announce_emerging(store, now)
        return Analysed("store", done["analysed"], done["model_version"], stored=True)
    if request.input_path is None or (out_path is None and rows is None):
        raise ConfigError("give --input FILE (and --out FILE.jsonl to write the rows), or --store")
    summary = analyze_file(
        settings,
        request.input_path,
        out_path,
        text_column=request.text_column,
        id_column=request.id_column,
        language_column=request.language_column,
        rows=rows,
    )
    return Analysed(
        "file",
        summary["rows"],
        summary["model"],
        stored=False,
        out_path=out_path,
        coverage=summary["coverage"],
    )
