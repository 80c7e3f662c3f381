"""Train, evaluate and apply the text pipeline: the library behind `cxml train text` and `cxml analyze`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from cxml.errors import ConfigError, InputFileError
from cxml.settings import Settings
from cxml.text.pipeline import TextPipeline
from cxml.text.themes import Taxonomy, ThemeModel


def read_table(path: Path) -> pd.DataFrame:
    """A whole CSV/Parquet/JSONL file as a frame of raw values."""
    from cxml.io import read_chunks

    _, chunks = read_chunks(path, chunk_rows=100_000)
    frames = [c.frame for c in chunks]
    if not frames:
        raise InputFileError(str(path), "has a header but no rows")
    return pd.concat(frames, ignore_index=True)


def default_pipeline() -> TextPipeline:
    """The pipeline a fresh install uses: shipped sentiment defaults, lexicon, no learned themes."""
    return TextPipeline().fit(pd.DataFrame({"text": pd.Series([], dtype=object)}))


def _quiet(_: str) -> None:
    return None


AS_MODEL = "the champion model, which never saw the held-out comments"
AS_RECIPE = (
    "the champion's settings refitted on the same older comments "
    "(the champion model saw the held-out ones)"
)


def champion_yardstick(settings: Settings, version: str, heldout: pd.DataFrame) -> str:
    """How the champion is graded on a challenger's held-out comments: the model itself when it
    was fitted only on comments older than them (a true out-of-time comparison), else its
    recipe (taxonomy, theme count, parts) refitted on the challenger's older comments, so that
    neither side has seen what it is graded on."""
    from cxml.tracking import text_versions

    run = next((v for v in text_versions(settings) if v.version == version), None)
    seen_until = run.params.get("data_end") if run is not None else None
    starts = pd.to_datetime(heldout["created_at"], errors="coerce").min()
    if seen_until and not pd.isna(starts) and pd.Timestamp(seen_until) < starts:
        return AS_MODEL
    return AS_RECIPE


def refit_like(
    champion: TextPipeline, frame: pd.DataFrame, label_column: str | None
) -> TextPipeline:
    """The champion's recipe (its constructor parameters: taxonomy, theme count, parts) fitted
    anew on ``frame``, with the labels this run uses."""
    from sklearn.base import clone

    recipe = clone(champion)
    taxonomy = recipe.themes.taxonomy if recipe.themes is not None else None
    return recipe.fit(frame, label_column=label_column, taxonomy=taxonomy)


def train_text_pipeline(
    settings: Settings,
    *,
    frame: pd.DataFrame | None = None,
    input_path: Path | None = None,
    text_column: str = "text",
    label_column: str | None = None,
    taxonomy_path: Path | None = None,
    n_themes: int | None = None,
    champion: tuple[TextPipeline, str] | None = None,
    register: bool = True,
    say: Callable[[str], None] = _quiet,
    corrections: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Fit the text pipeline on ``frame`` or a file, grade it on the newest comments, log it to
    MLflow and register it (champion only when there is none yet: later versions go through
    ``promote_text``).

    The grade comes from a fit on the older comments only, applied to the newest ones
    (``cxml.text.evaluate``); ``champion`` (pipeline, version) is graded on the same comments,
    and its themes give the new ones their ids (the lineage). The registered model is then
    fitted on every comment.

    ``corrections``: people's churn-intent corrections (``cxml.corrections.leave_corrections``)
    and the taxonomy's example phrases are taught on top of the shipped detector; when there
    are enough, the newest corrections are held out and leave precision and recall on them
    reported before and after (``cxml.text.corrections.teach_leave``). None or empty, and no
    examples: the shipped detector, as before."""
    from cxml.text.corrections import FrozenLeave, taxonomy_config, teach_leave
    from cxml.text.evaluate import grade_text, holdout_split
    from cxml.text.intents import IntentDetector
    from cxml.tracking import log_text_pipeline

    if frame is None:
        if input_path is None:
            raise ConfigError("give either a frame or --input FILE")
        frame = read_table(input_path)
    if text_column not in frame.columns:
        raise ConfigError(
            f"text column {text_column!r} is not in the input; it has: {', '.join(map(str, frame.columns))}"
        )
    if label_column is not None and label_column not in frame.columns:
        raise ConfigError(f"label column {label_column!r} is not in the input")
    if text_column != "text":
        frame = frame.rename(columns={text_column: "text"})
        text_column = "text"
    for score in ("nps", "csat", "ces", "rating"):
        if score in frame.columns:
            frame[score] = pd.to_numeric(frame[score], errors="coerce")
    taxonomy = Taxonomy.from_yaml(taxonomy_path) if taxonomy_path else None
    reference = list(champion[0].themes_.themes_.values()) if champion is not None else None
    # its summary is the result's (intent_corrections), shown once by whoever shows the result
    taught = teach_leave(
        corrections if corrections is not None else pd.DataFrame(), taxonomy_config(taxonomy)
    )
    intents = (
        IntentDetector(
            extra=taxonomy.intents if taxonomy else None, leave=FrozenLeave(taught.detector)
        )
        if taught.detector is not None
        else None
    )

    def fit(data: pd.DataFrame) -> TextPipeline:
        themes = ThemeModel(taxonomy=taxonomy, n_themes=n_themes, reference_themes=reference)
        return TextPipeline(themes=themes, intents=intents).fit(
            data, label_column=label_column, taxonomy=taxonomy
        )

    split = holdout_split(frame, label_column=label_column)
    grades: dict[str, float] = {}
    champion_grades: dict[str, float] = {}
    graded_as = ""
    if not split.heldout.empty:
        say(f"grading on {split.how}: fitting on the {len(split.train):,} older rows first")
        grades = grade_text(fit(split.train), split.heldout)
        if champion is not None:
            graded_as = champion_yardstick(settings, champion[1], split.heldout)
            say(f"champion {champion[1]}: {graded_as}")
            judged = (
                champion[0]
                if graded_as == AS_MODEL
                else refit_like(champion[0], split.train, label_column)
            )
            champion_grades = grade_text(judged, split.heldout)
    say(f"fitting on all {len(frame):,} rows")
    pipeline = fit(frame)
    with_text = frame[frame["text"].astype(object).fillna("").astype(str).str.strip() != ""]
    sample_frame = (
        with_text.sample(min(200, len(with_text)), random_state=0) if len(with_text) else with_text
    )
    sample = pipeline.analyze(
        sample_frame["text"].tolist(),
        sample_frame["language"].tolist() if "language" in sample_frame.columns else None,
    )
    coverage = pipeline.coverage(sample)
    selection = getattr(pipeline.sentiment_, "selection_", {})
    metrics = {
        "texts": float(pipeline.n_texts_),
        "labelled": float(pipeline.labelled_),
        "theme_coverage": coverage,
        **{f"heldout_{k}": v for k, v in grades.items() if v == v},
        **{f"champion_{k}": v for k, v in champion_grades.items() if v == v},
        **{
            f"sentiment_cv_{language}_{grade['family'].replace('+', '_')}_C{grade['C']:g}": grade[
                "macro_f1"
            ]
            for language, grades_ in selection.items()
            for grade in grades_
            if grade["macro_f1"] is not None
        },
        **taught.metrics(),
    }
    newest = (
        pd.to_datetime(frame["created_at"], errors="coerce").max()
        if "created_at" in frame.columns
        else None
    )
    heldout_from = (
        pd.to_datetime(split.heldout["created_at"], errors="coerce").min()
        if not split.heldout.empty and split.heldout["created_at"].notna().any()
        else None
    )
    params = {
        "label_source": pipeline.label_source_,
        "label_column": label_column or "",
        "languages": ",".join(pipeline.languages_),
        "n_themes": n_themes or "auto",
        "taxonomy": str(taxonomy_path) if taxonomy_path else "",
        "taxonomy_version": taxonomy.version if taxonomy else "",
        "sentiment_sources": json.dumps(
            {lang: pipeline.sentiment_.source(lang) for lang in pipeline.languages_}
        ),
        "sentiment_families": json.dumps(
            {
                language: next(f"{g['family']} C={g['C']:g}" for g in grades_ if g["chosen"])
                for language, grades_ in selection.items()
            }
        ),
        "sentiment_folds": json.dumps(
            {
                language: next((g["folds"] for g in grades_ if g.get("folds")), "")
                for language, grades_ in selection.items()
            }
        ),
        "heldout": split.how,
        "data_end": "" if newest is None or pd.isna(newest) else newest.isoformat(),
        "heldout_from": ""
        if heldout_from is None or pd.isna(heldout_from)
        else heldout_from.isoformat(),
        **(
            {"champion_version": champion[1], "champion_comparison": graded_as}
            if champion is not None and champion_grades
            else {}
        ),
        "lineage_against": champion[1] if champion is not None else "",
        "leave_detector": "shipped"
        if taught.detector is None
        else f"shipped + taught ({taught.corrections} corrections, {taught.examples} examples)",
        "intent_corrections_heldout": taught.how,
    }
    logged = log_text_pipeline(
        pipeline,
        settings,
        params=params,
        metrics=metrics,
        sample=sample,
        tables={"heldout.parquet": split.heldout} if not split.heldout.empty else None,
        register=register,
    )
    return {
        **logged,
        "texts": pipeline.n_texts_,
        "languages": pipeline.languages_,
        "label_source": pipeline.label_source_,
        "themes": len(pipeline.themes_.themes_),
        "coverage": coverage,
        "sentiment_folds": json.dumps(
            {
                language: next((g["folds"] for g in grades_ if g.get("folds")), "")
                for language, grades_ in selection.items()
            }
        ),
        "heldout": split.how,
        "grades": grades,
        "champion_version": champion[1] if champion is not None else None,
        "champion_grades": champion_grades,
        "champion_graded_as": graded_as,
        "lineage": pipeline.themes_.lineage_,
        "sentiment_selection": selection,
        "intent_corrections": taught.report(),
    }


def analyze_feedback(
    store: Any, pipeline: Any, version: str, feedback_ids: list[str], *, now: Any
) -> list[str]:
    """Analyse these stored comments with ``pipeline`` and keep the results; returns the ids
    analysed (those with text)."""
    from cxml.store.analysis import write_analysis
    from cxml.store.records import feedback_frame

    frame = feedback_frame(store, with_text=True, feedback_ids=feedback_ids)
    if frame.empty:
        return []
    results = pipeline.analyze(frame["text"].tolist(), frame["language"].tolist())
    analysis, themes = analysis_frames(frame["feedback_id"].tolist(), results, version, now)
    write_analysis(store, analysis, themes)
    return [str(i) for i in frame["feedback_id"]]


def _stored_intent(hit: dict[str, Any]) -> dict[str, Any]:
    """An intent as the store keeps it: name and span in the redacted text, and for ``leave``
    its kind and confidence (never the evidence text: the span finds it again)."""
    keep = ("intent", "kind", "confidence", "start", "end")
    return {key: hit[key] for key in keep if key in hit}


def analysis_frames(
    feedback_ids: list[str], results: list[dict[str, Any]], version: str, now: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pipeline's results as the store keeps them: one analysis row per comment, one theme
    row per (comment, theme)."""
    analysis = pd.DataFrame(
        {
            "feedback_id": feedback_ids,
            "language": [r["language"] for r in results],
            "sentiment_label": [
                r["sentiment"]["label"] if r["sentiment"] else None for r in results
            ],
            "sentiment_score": [
                r["sentiment"]["score"] if r["sentiment"] else None for r in results
            ],
            "intents": [[_stored_intent(i) for i in r["intents"]] for r in results],
            "model_version": version,
            "analysed_at": now,
        }
    )
    themes = pd.DataFrame(
        [
            {
                "feedback_id": feedback_id,
                "theme_id": theme["id"],
                "theme_label": theme["label"],
                "confidence": theme["confidence"],
                "sentiment_score": theme["sentiment"]["score"],
                "span_start": theme["span"][0] if theme["span"] else None,
                "span_end": theme["span"][1] if theme["span"] else None,
            }
            for feedback_id, result in zip(feedback_ids, results, strict=True)
            for theme in result["themes"]
        ],
        columns=[
            "feedback_id",
            "theme_id",
            "theme_label",
            "confidence",
            "sentiment_score",
            "span_start",
            "span_end",
        ],
    )
    for column in ("span_start", "span_end"):  # None for ``other``: whole numbers otherwise
        themes[column] = themes[column].astype("Int64")
    return analysis, themes
