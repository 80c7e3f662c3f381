"""The demo, step by step, as a library function: the CLI's `cxml demo` and a notebook call it.

Generate a world, ingest it, train and apply the text pipeline, read NPS and its drivers,
train and grade the churn model, score every active customer, and read one customer's story.
Every step says what it did through ``say``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cxml.contract import parse_as_of
from cxml.settings import Settings
from cxml.store import Store

Say = Callable[[str], None]


@dataclass
class DemoRun:
    """What the demo made: files, model versions, and the customer it showed."""

    paths: dict[str, str] = field(default_factory=dict)
    text_version: str | None = None
    churn_version: str | None = None
    scored: int = 0
    busiest_customer: str = ""
    next_commands: list[tuple[str, str]] = field(default_factory=list)


def run_demo(
    settings: Settings,
    store: Store,
    *,
    n_customers: int,
    out: Path,
    seed: int,
    now: datetime,
    say: Say,
) -> DemoRun:
    """Run the whole flow on a generated world (see the module's docstring)."""
    from cxml.batch import printable, score_store
    from cxml.demo import generate, write_world
    from cxml.demo_team import SEGMENT, plant_follow_ups
    from cxml.followups import follow_up_impact
    from cxml.ingest import ingest_file
    from cxml.io import FrameWriter
    from cxml.jobs.analyze import analyze_store
    from cxml.jobs.promote import promote_text
    from cxml.jobs.serving import churn_model, text_model
    from cxml.jobs.train_churn import train_churn
    from cxml.lines import (
        at_risk_lines,
        grade_lines,
        randomised_lines,
        text_grade_lines,
        timeline_lines,
    )
    from cxml.pulls import pull_impact
    from cxml.reporting import driver_table, metric_table
    from cxml.store.records import customer, feedback_frame, stats, timeline
    from cxml.story import redacted_column
    from cxml.text.training import train_text_pipeline
    from cxml.tracking import load_text_champion

    run = DemoRun()
    say(f"1. generating a world of {n_customers:,} customers (seed {seed}) in {out}/")
    world = generate(n_customers, seed=seed, end=now.date())
    run.paths = write_world(world, out)
    say(f"2. ingesting into {store.url}")
    for kind in ("customers", "feedback"):
        report = ingest_file(
            store,
            kind,
            Path(run.paths[kind]),
            settings=settings,
            now=now,
            rejects_path=out / f"rejects_{kind}.csv",
        )
        say(
            f"   {kind}: read {report.read:,}, accepted {report.accepted:,}, updated "
            f"{report.updated:,}, unchanged {report.unchanged:,}, rejected {report.rejected:,} "
            f"({report.seconds:.1f}s)"
        )
    counts = stats(store)
    say(
        f"3. the store now holds {counts['customers']:,} customers "
        f"({counts['customers_active']:,} active) and {counts['feedback']:,} feedback rows: "
        + ", ".join(f"{k} {v:,}" for k, v in counts["feedback_by_channel"].items())
    )
    say(f"4. training the text pipeline on the store's comments (taxonomy {run.paths['taxonomy']})")
    trained = train_text_pipeline(
        settings,
        frame=feedback_frame(store, with_text=True),
        taxonomy_path=Path(run.paths["taxonomy"]),
        champion=load_text_champion(settings),
    )
    run.text_version = trained.get("version")
    status = "champion"
    if trained["champion"] != trained["version"]:  # a store trained before: through the gate
        decision = promote_text(settings, trained["version"])
        status = "champion" if decision.promoted else f"not promoted: {decision.reason}"
    say(
        f"   {trained['texts']:,} comments ({', '.join(trained['languages'])}); sentiment from "
        f"{trained['label_source']}; {trained['themes']} themes; coverage {trained['coverage']:.1%}; "
        f"registered as cxml-text version {trained['version']} ({status})"
    )
    for line in text_grade_lines(trained):
        say(f"   {line}")
    analysed = analyze_store(store, settings, now=now)
    say(f"   {analysed['analysed']:,} comments analysed and stored")
    say("5. NPS by quarter (95 % interval), and the themes that move it most:")
    quarterly = metric_table(store, "nps", period="quarter").tail(4)
    for row in quarterly.itertuples(index=False):
        say(
            f"   {row.period}: NPS {row.nps:+.1f} [{row.ci_low:+.1f}, {row.ci_high:+.1f}] (n={row.n:,})"
        )
    for row in driver_table(store, "nps").head(3).itertuples(index=False):
        say(
            f"   {row.theme_label}: impact {row.impact:+.1f} NPS points "
            f"[{row.impact_ci_low:+.1f}, {row.impact_ci_high:+.1f}], {row.mentions:,} mentions"
        )
    say("6. training the churn model (snapshots every 90 days, graded forward in time)")
    today = parse_as_of(now).normalize()
    result = train_churn(settings, store=store, as_of=today, say=lambda line: say(f"   … {line}"))
    for line in grade_lines(result):
        say(f"   {line}")
    serving = churn_model(settings, mode="store")
    predictor, version = serving.model, serving.version
    run.churn_version = version
    truth = plant_follow_ups(
        store,
        settings,
        predictor,
        model_version=version,
        today=now,
        folder=out,
        seed=seed,
    )
    planted = truth["randomised"]
    say(
        f"   the retention team's last months: {len(truth['runs'])} worklist pulls with a "
        f"{planted['holdout_share']:.0%} holdout, {truth['contacted']:,} at-risk customers "
        f"called and {planted['pulled'] - truth['contacted']:,} held out (planted: a call keeps "
        f"some basic and standard customers and drives some premium ones away; "
        f"{planted['effect_pts'] or 0:+.1f} pts overall)"
    )
    say("7. the ten customers most at risk today, with their reasons:")
    scores_path = out / "scores.csv"
    with FrameWriter(scores_path) as writer:
        scored = score_store(
            store,
            predictor,
            model_version=version,
            as_of=today,
            scored_at=now,
            bucket_customers=settings.bucket_customers,
            sink=lambda part: writer.write(printable(part)),
        )
    run.scored = scored.scored
    say(
        f"   {scored.scored:,} customers scored with cxml-churn version {version} "
        f"(reasons: {scored.attribution}), written to {scores_path}"
    )
    for line in at_risk_lines(scored.top):
        say(line)
    busiest = str(world.feedback["customer_id"].value_counts().index[0])
    run.busiest_customer = busiest
    say(f"8. one customer's conversation across channels ({busiest}):")
    events = timeline(store, busiest)
    events["text"] = redacted_column(events["text"])  # what leaves cxml is redacted
    for line in timeline_lines(customer(store, busiest), events):
        say(line)
    recent = events.dropna(subset=["text"]).tail(3)
    say("9. what the text pipeline reads in their latest comments:")
    for text, read in zip(
        recent["text"], text_model(settings).model.analyze(recent["text"].tolist()), strict=True
    ):
        themes = ", ".join(f"{t['label']} ({t['sentiment']['label']})" for t in read["themes"])
        intents = ", ".join(i["intent"] for i in read["intents"]) or "-"
        say(
            f"   «{text[:70]}» → {read['sentiment']['label']}; themes: {themes}; intents: {intents}"
        )
    impact = follow_up_impact(store, today=now, horizon_days=predictor.horizon_days)
    say("10. what did contact do? The randomised comparison of the pulls first:")
    read = pull_impact(store, today=now, segment=SEGMENT)
    if read["overall"] is not None:  # the plan split only: the rest is a command away
        splits = [s for s in read["overall"]["splits"] if s["by"] == SEGMENT]
        read = {**read, "overall": {**read["overall"], "splits": splits}}
    for line in randomised_lines({**read, "pulls": []}):
        say(f"  {line}")
    say(
        f"    planted truth: {planted['effect_pts'] or 0:+.1f} pts overall; "
        + ", ".join(f"{plan} {t['effect_pts']:+.1f}" for plan, t in planted["by_plan"].items())
        + f" (in {out / 'truth_follow_ups.json'})"
    )
    say(f"   observational (second; who was called was chosen): {impact['overall']['message']}")
    run.next_commands = [
        ("cxml stats --json", "counts by channel and language"),
        (f"cxml timeline {busiest}", "one customer's story"),
        (f"cxml analyze --input {run.paths['feedback']} --out analysed.jsonl", "read any file"),
        ("cxml metrics nps --period month --by channel --json", "metrics with intervals"),
        ("cxml drivers --target churn", "themes ranked by excess churn"),
        ("cxml alerts --all", "emerging themes"),
        (
            f"cxml followups impact --segment {SEGMENT} --by owner",
            "what contact did: randomised first, by plan",
        ),
        ("cxml drift", "has anything moved since last month"),
        (f"cxml score --out {scores_path}", "every active customer's risk, band and reasons"),
        ("cxml score --lang ja", "the reasons in Japanese, themes as the taxonomy's labels.ja"),
        (
            f"cxml train text --taxonomy {run.paths['taxonomy']}",
            f"after editing {run.paths['taxonomy']}",
        ),
        (
            f"mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}",
            "runs and the model registry",
        ),
    ]
    return run
