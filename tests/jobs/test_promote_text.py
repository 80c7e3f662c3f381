"""The text model's champion gate: graded on the newest comments, the champion on the same ones,
promoted only when at least as good, with the lineage shown. Real store (SQLite and
PostgreSQL), real MLflow registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxml.demo import DEMO_TAXONOMY, World
from cxml.jobs.promote import promote_text
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.records import feedback_frame
from cxml.text.evaluate import _npmi, compare_text, holdout_split, lineage_lines
from cxml.text.training import AS_MODEL, AS_RECIPE, train_text_pipeline
from cxml.tracking import TEXT_MODEL, champion_version, load_text_champion
from tests.conftest import load_world, working_directory


@pytest.mark.parametrize(
    ("frame", "expected_ids", "how"),
    [
        (
            pd.DataFrame(
                {
                    "feedback_id": [f"f{i}" for i in range(10)],
                    "created_at": pd.date_range("2025-01-01", periods=10).astype(str)[::-1],
                    "text": [f"comment {i} mail me at a{i}@example.com" for i in range(10)],
                    "nps": [0, 3, 5, 7, 8, 9, 10, 10, 2, 6],
                }
            ),
            {"f0", "f1"},  # the two newest (dates run backwards)
            "newest",
        ),
        (
            pd.DataFrame({"text": [f"comment {i}" for i in range(10)], "nps": [9] * 10}),
            None,
            "random",
        ),
    ],
)
def test_the_newest_comments_are_held_out_redacted_with_their_labels(
    frame: pd.DataFrame, expected_ids: set[str] | None, how: str
) -> None:
    split = holdout_split(frame, share=0.2, min_rows=1)
    assert len(split.heldout) == 2 and len(split.train) == 8 and how in split.how
    if expected_ids is not None:
        assert set(split.heldout["feedback_id"]) == expected_ids
        assert split.heldout["text"].str.contains("[EMAIL]", regex=False).all()
        assert not split.heldout["text"].str.contains("@").any()
        assert split.heldout["label"].tolist() == ["negative", "negative"]  # NPS 0 and 3
    assert holdout_split(frame, share=0.2, min_rows=5).heldout.empty


@pytest.mark.parametrize(
    ("terms", "docs", "expected"),
    [
        # a and b always together, each in half the documents: PMI log 2, NPMI 1
        (["a", "b"], [{"a", "b"}, {"c"}], 1.0),
        # never together: -1
        (["a", "b"], [{"a"}, {"b"}], -1.0),
        # independent: P(a)=P(b)=1/2, P(ab)=1/4 -> NPMI 0
        (["a", "b"], [{"a", "b"}, {"a"}, {"b"}, set()], 0.0),
    ],
)
def test_coherence_is_normalised_pmi(
    terms: list[str], docs: list[set[str]], expected: float
) -> None:
    assert _npmi(terms, docs) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("challenger", "champion", "ok"),
    [
        ({"sentiment_macro_f1": 0.70, "theme_coverage": 0.9}, {"sentiment_macro_f1": 0.705}, True),
        ({"sentiment_macro_f1": 0.60, "theme_coverage": 0.9}, {"sentiment_macro_f1": 0.70}, False),
        ({"theme_coverage": 0.9}, {"sentiment_macro_f1": 0.7}, False),  # nothing in common
    ],
)
def test_the_gate_needs_every_shared_grade_within_the_tolerance(
    challenger: dict[str, float], champion: dict[str, float], ok: bool
) -> None:
    assert compare_text(challenger, champion, 0.01)[0] is ok


def test_lineage_lines_name_what_changed() -> None:
    lines = lineage_lines(
        [
            {"id": "t-en-0001", "event": "kept", "label": "a / b", "was": "a / b"},
            {"id": "t-en-0002", "event": "renamed", "label": "c / d", "was": "c / e"},
            {"id": "network", "event": "merged", "into": "outage", "was": "Network"},
        ]
    )
    assert lines[0] == "1 kept, 1 renamed, 1 merged"
    assert any("“c / e” → “c / d”" in line for line in lines)
    assert any("network" in line and "outage" in line for line in lines)


@pytest.fixture
def gate(settings: Settings, store: Store, world: World, tmp_path: Path) -> dict[str, Any]:
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(DEMO_TAXONOMY, encoding="utf-8")
    return {
        "settings": settings.model_copy(
            update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}
        ),
        "store": store,
        "world": world,
        "folder": tmp_path,
        "taxonomy": taxonomy,
    }


def _train(gate: dict[str, Any], **options: Any) -> dict[str, Any]:
    with working_directory(gate["folder"]):
        return train_text_pipeline(
            gate["settings"],
            frame=feedback_frame(gate["store"], with_text=True),
            champion=load_text_champion(gate["settings"]),
            **options,
        )


@pytest.mark.slow  # three trainings, each logged to MLflow
def test_a_worse_recipe_is_refused_and_an_equal_one_promoted(gate: dict[str, Any]) -> None:
    settings = gate["settings"]
    load_world(gate["store"], settings, gate["world"], gate["folder"] / "w", analyse=False)
    first = _train(gate, taxonomy_path=gate["taxonomy"])
    assert first["version"] == first["champion"] == "1"  # the first model: champion at once
    assert first["grades"]["heldout"] > 0 and first["grades"]["sentiment_macro_f1"] > 0.4

    worse = _train(gate)  # the taxonomy forgotten: fewer comments get a theme
    assert worse["champion"] == "1" and worse["champion_graded_as"] == AS_RECIPE
    assert worse["grades"]["theme_coverage"] < worse["champion_grades"]["theme_coverage"] - 0.01
    with working_directory(gate["folder"]):
        refused = promote_text(settings, worse["version"])
    assert not refused.promoted and champion_version(settings, TEXT_MODEL) == "1"
    assert "theme_coverage" in refused.reason and "below the champion" in refused.reason
    # what the challenger would do to the themes is part of the decision: the taxonomy's go
    assert refused.lineage[0] == "lineage against version 1"
    assert any("retired billing" in line for line in refused.lineage)

    same = _train(gate, taxonomy_path=gate["taxonomy"])
    for name in ("sentiment_macro_f1", "theme_coverage", "theme_coherence"):
        assert same["grades"][name] == pytest.approx(same["champion_grades"][name])
    with working_directory(gate["folder"]):
        promoted = promote_text(settings, same["version"])
    assert promoted.promoted, promoted.reason
    assert champion_version(settings, TEXT_MODEL) == same["version"]


@pytest.mark.slow
def test_a_champion_that_never_saw_the_newest_comments_is_graded_itself(
    gate: dict[str, Any],
) -> None:
    settings, world = gate["settings"], gate["world"]
    cut = pd.Timestamp("2025-03-01")
    load_world(gate["store"], settings, world, gate["folder"] / "old", before=cut, analyse=False)
    first = _train(gate, taxonomy_path=gate["taxonomy"])
    load_world(gate["store"], settings, world, gate["folder"] / "all", analyse=False)
    second = _train(gate, taxonomy_path=gate["taxonomy"])
    assert second["champion_graded_as"] == AS_MODEL
    heldout_from = pd.Timestamp(second["heldout"].split("(from ")[1].rstrip(")"))
    assert first["version"] == "1" and heldout_from >= cut  # version 1 saw none of them
    grades = second["champion_grades"]
    assert all(np.isfinite(grades[n]) for n in ("sentiment_macro_f1", "theme_coverage"))
    with working_directory(gate["folder"]):
        decision = promote_text(settings, second["version"])
    assert decision.comparison and decision.promoted == (
        all("below" not in line for line in decision.comparison)
    )
