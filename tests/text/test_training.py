"""`cxml train text` and `cxml analyze` end to end: real store, real MLflow registry on SQLite."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cxml.demo import DEMO_TAXONOMY
from tests.conftest import run_cxml

pytestmark = pytest.mark.slow  # the whole CLI flow in subprocesses


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cxml(args, cwd, timeout=600)


def test_analyze_works_before_any_training_then_uses_the_champion(tmp_path: Path) -> None:
    made = run(["demo-data", "--customers", "250", "--out", "w", "--end", "2025-06-30"], tmp_path)
    assert made.returncode == 0, made.stderr
    fresh = run(["analyze", "--input", "w/feedback.csv", "--out", "fresh.jsonl"], tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert "the shipped defaults" in fresh.stdout

    for kind in ("customers", "feedback"):
        assert run(["ingest", kind, f"w/{kind}.csv"], tmp_path).returncode == 0
    trained = run(["train", "text", "--taxonomy", "w/taxonomy.yaml", "--json"], tmp_path)
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout[trained.stdout.index("{") :])
    assert report["version"] == "1" and report["label_source"] == "weak labels from scores"

    done = run(["analyze", "--input", "w/feedback.csv", "--out", "out.jsonl"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cxml-text version 1" in done.stdout
    rows = [
        json.loads(line)
        for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    source = pd.read_csv(tmp_path / "w" / "feedback.csv")
    assert [r["feedback_id"] for r in rows] == source["feedback_id"].tolist()
    with_text = [r for r in rows if r["sentiment"]]
    assert {"language", "sentiment", "themes", "key_phrases", "intents", "redacted_text"} <= set(
        with_text[0]
    )

    stored = run(["analyze", "--store"], tmp_path)
    assert stored.returncode == 0, stored.stderr
    assert "analysed with model 1 and stored" in stored.stdout
    nps = json.loads(
        run(["metrics", "nps", "--period", "quarter", "--by", "channel", "--json"], tmp_path).stdout
    )
    assert {"period", "channel", "nps", "ci_low", "ci_high", "n", "small"} <= set(nps[0])
    assert all(-100 <= row["nps"] <= 100 for row in nps)
    by_theme = json.loads(run(["metrics", "nps", "--by", "theme", "--json"], tmp_path).stdout)
    assert "billing" in {row["theme"] for row in by_theme}
    nps_drivers = json.loads(run(["drivers", "--target", "nps", "--json"], tmp_path).stdout)
    impacts = [row["impact"] for row in nps_drivers]
    assert impacts == sorted(impacts)  # ranked by impact, most harmful first
    churn = run(["drivers", "--target", "churn", "--json"], tmp_path)
    assert churn.returncode == 0, churn.stderr
    assert all("monthly_revenue_at_risk" in row for row in json.loads(churn.stdout))
    alerts = run(["alerts", "--all", "--json"], tmp_path)
    assert alerts.returncode == 0, alerts.stderr
    assert all("z" in row for row in json.loads(alerts.stdout))
    wrong = run(["metrics", "churn-rate", "--by", "channel"], tmp_path)
    assert wrong.returncode == 2 and "cannot be split by channel" in wrong.stderr

    churn = run(["train", "churn", "--as-of", "2025-06-30", "--snapshots", "3", "--json"], tmp_path)
    assert churn.returncode == 0, churn.stderr
    assert json.loads(churn.stdout[churn.stdout.index("{") :])["mode"] == "store"
    scored = run(["score", "--as-of", "2025-06-30", "--out", "scores.csv", "--top", "3"], tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "customers scored with cxml-churn version 1" in scored.stdout
    table = pd.read_csv(tmp_path / "scores.csv")
    assert {
        "customer_id",
        "probability",
        "band",
        "revenue_at_risk",
        "reasons",
        "model_version",
    } <= set(table.columns)
    assert table["probability"].between(0, 1).all()
    reasons = json.loads(table.sort_values("probability").iloc[-1]["reasons"])
    assert reasons and all({"feature", "contribution", "text"} <= set(r) for r in reasons)
    # in Japanese: the same customers, the reasons in Japanese with the taxonomy's labels.ja
    japanese = run(["score", "--as-of", "2025-06-30", "--top", "3", "--lang", "ja"], tmp_path)
    assert japanese.returncode == 0, japanese.stderr
    said = [line for line in japanese.stdout.splitlines() if " — " in line]
    assert [line.split()[0] for line in said] == [
        line.split()[0] for line in scored.stdout.splitlines() if " — " in line
    ]
    written = [r for line in said for r in line.split(" — ", 1)[1].split("; ")]
    assert written and all(re.search(r"[ぁ-んァ-ヶ一-龥]", r) for r in written), written
    english = [t["label"] for t in yaml.safe_load(DEMO_TAXONOMY)["themes"]]
    assert not any(label in japanese.stdout for label in english)

    drifted = run(
        ["drift", "--reference", "2025-01..2025-03", "--current", "2025-06", "--fail-on-alert"],
        tmp_path,
    )
    assert drifted.returncode in (0, 8), drifted.stderr
    assert (drifted.returncode == 8) is ("\n0 alert(s)" not in drifted.stdout)
    assert "reference 2025-01..2025-03 against current 2025-06" in drifted.stdout
    assert "realised on the 2025-04-02 snapshot" in drifted.stdout
    assert "kept as report 1" in drifted.stdout

    again = run(["train", "text", "--taxonomy", "w/taxonomy.yaml", "--json"], tmp_path)
    second = json.loads(again.stdout[again.stdout.index("{") :])
    assert second["version"] == "2" and second["champion"] == "1"  # waits for the gate
    assert any(entry["event"] == "kept" for entry in second["lineage"])
    assert set(second["grades"]) >= {"sentiment_macro_f1", "theme_coverage", "theme_coherence"}

    # without the taxonomy the themes cover fewer comments: the gate refuses, lineage first
    worse = run(["train", "text"], tmp_path)
    assert worse.returncode == 0 and "champion stays version 1" in worse.stdout, worse.stderr
    # the sentiment families compared, one table: every candidate per language, one serves
    candidates = [line for line in worse.stdout.splitlines() if line.startswith("  en  ")]
    assert len(candidates) == 4 and sum("← serves" in line for line in candidates) == 1
    assert "folds: en forward in time" in worse.stdout  # the comments have dates
    assert {"lemmas+lexicon", "words", "words+chars"} <= {line.split()[1] for line in candidates}
    refused = run(["promote", "--model", "text"], tmp_path)
    assert refused.returncode == 6, refused.stdout + refused.stderr
    lines = refused.stdout.splitlines()
    assert lines[0] == "lineage against version 1" and "retired billing" in refused.stdout
    assert lines[-1].startswith("refused: version 3 is worse than champion 1")
    # refused on a theme grade: fewer discovered Japanese themes (#30) cover more, cohere less
    assert "theme_coverage" in lines[-1] or "theme_coherence" in lines[-1]

    promoted = run(["promote", "--model", "text", "--version", "2"], tmp_path)
    assert promoted.returncode == 0 and "promoted: version 2" in promoted.stdout, promoted.stdout
    audit = json.loads(run(["audit", "--json"], tmp_path).stdout)
    assert {"cxml-text/2", "cxml-text/3"} <= {row["target"] for row in audit}
