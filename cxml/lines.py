"""Plain-text lines for people: what the store holds, a customer's timeline, the most at-risk customers, training
grades. The CLI prints them; the demo walk-through and notebooks use the same ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd


def stats_lines(stats: dict[str, Any]) -> Iterator[str]:
    """What the store holds: customers, feedback (by channel, by language), rejects; without
    feedback, its ``message`` (what to load) instead of empty feedback lines."""
    customers = (
        f"customers: {stats['customers']:,} ({stats['customers_active']:,} active, "
        f"{stats['customers_churned']:,} churned)"
    )
    rejects = (
        f"rejects:   {stats['rejects']:,} (held for unknown customers: {stats['rejects_held']:,})"
    )
    if not stats["feedback"]:
        from cxml.reporting import no_feedback_message

        yield stats.get("message") or no_feedback_message(stats["customers"], stats["rejects_held"])
        if stats["customers"]:
            yield customers
        if stats["rejects"]:
            yield rejects
        return
    yield customers
    yield (
        f"feedback:  {stats['feedback']:,} ({stats['feedback_with_text']:,} with text), "
        f"{stats['feedback_first']} to {stats['feedback_last']}"
    )
    if stats.get("anonymous_responses"):
        yield (
            f"  anonymous responses: {stats['anonymous_responses']:,} (no customer id: not "
            "counted as customers)"
        )
    for title, key in (
        ("by channel", "feedback_by_channel"),
        ("by language", "feedback_by_language"),
    ):
        yield f"  {title}: " + ", ".join(f"{k} {v:,}" for k, v in stats[key].items())
    yield rejects


#: The columns of an analysed row as CSV (after its id column, when it has one).
ANALYSIS_COLUMNS = (
    "language",
    "sentiment",
    "sentiment_score",
    "themes",
    "intents",
    "key_phrases",
    "redacted_text",
)


def analysis_cells(record: dict[str, Any], id_column: str | None) -> list[Any]:
    """One analysed comment (as `cxml analyze` writes it in JSON Lines) as flat cells in the
    order of ``ANALYSIS_COLUMNS``, after its id: theme labels, intents (``leave`` with its
    kind) and key phrases joined by "; ", spans left out; a missing value is an empty cell."""
    sentiment = record.get("sentiment") or {}
    intents = [
        f"{hit['intent']} ({hit['kind']})" if hit.get("kind") else str(hit["intent"])
        for hit in record.get("intents") or []
    ]
    cells = [
        record.get("language"),
        sentiment.get("label"),
        sentiment.get("score"),
        "; ".join(str(theme["label"]) for theme in record.get("themes") or []),
        "; ".join(intents),
        "; ".join(str(phrase) for phrase in record.get("key_phrases") or []),
        record.get("redacted_text"),
    ]
    if id_column is not None:
        cells.insert(0, record.get(id_column))
    return [
        "" if cell is None or (isinstance(cell, float) and cell != cell) else cell for cell in cells
    ]


def timeline_lines(customer: dict[str, Any], events: pd.DataFrame) -> Iterator[str]:
    """A customer's profile line, attributes, and one line per interaction (oldest first)."""
    customer_id = customer["customer_id"]
    status = f"churned {customer['churn_date']}" if customer["churn_date"] else "active"
    value = customer["monthly_value"]
    yield (
        f"{customer_id}: signed up {customer['signup_date']}, {status}"
        + (f", {value:,.2f}/month" if value is not None else "")
    )
    if customer["attributes"]:
        yield "  " + ", ".join(f"{k}={v}" for k, v in customer["attributes"].items())
    yield f"{len(events)} interaction(s)"
    for event in events.itertuples(index=False):
        scores = " ".join(
            f"{name.upper()} {int(value)}"
            for name, value in (("nps", event.nps), ("csat", event.csat), ("ces", event.ces))
            if not pd.isna(value)
        )
        text = (event.text or "").replace("\n", " ⏎ ")
        yield (
            f"{pd.Timestamp(event.created_at):%Y-%m-%d %H:%M}  {event.channel:<10} "
            f"{scores:<14} {text}"
        )


_BANDS_JA = {"high": "高", "medium": "中", "low": "低"}


def at_risk_lines(rows: Iterable[dict[str, Any]], language: str = "en") -> Iterator[str]:
    """Each scored customer on a line (probability, band, revenue at risk, reasons), with the
    customer's own words under it when a reason quotes them; ``language`` "ja" words the line
    around the figures in Japanese (the reasons come already worded)."""
    ja = language == "ja"
    for row in rows:
        reasons = "; ".join(r["text"] for r in row["reasons"])
        quote = next(
            (r["evidence"]["quote"] for r in row["reasons"] if "quote" in r.get("evidence", {})),
            None,
        )
        revenue = row["revenue_at_risk"]
        at_risk = "-" if revenue is None or revenue != revenue else f"{revenue:,.2f}"
        expected = row.get("expected_days")
        if expected is None or expected != expected:
            timing = ""
        elif ja:
            timing = f"  90日後も継続 {row['survival_90']:.0%}、解約まで約{expected:.0f}日"
        else:
            timing = (
                f"  {row['survival_90']:.0%} still here in 90 days, ~{expected:.0f} days expected"
            )
        band = _BANDS_JA.get(row["band"], row["band"]) if ja else f"{row['band']:<6}"
        yield (
            f"  {row['customer_id']}  {row['probability']:.1%}  {band} "
            + (f"リスク額 {at_risk}" if ja else f"at risk {at_risk}")
            + f"{timing}  — {reasons}"
        )
        if quote:
            yield f"      «{quote}»"


def grade_lines(result: dict[str, Any]) -> Iterator[str]:
    """A churn training run: mode, rows, what it was graded on, each family's grades."""
    yield f"{result['mode']} mode, {result['rows']:,} rows; graded on {result['backtest']}"
    for name, g in result["grades"].items():
        yield (
            f"  {name:<9} ROC-AUC {g['roc_auc']:.4f}  PR-AUC {g['pr_auc']:.3f}  "
            f"Brier {g['brier']:.4f}  lift@10% {g['lift_top10']:.2f}"
        )
    for name, g in (result.get("survival_grades") or {}).items():
        yield (
            f"  time to churn, {name.replace('_', '-')}: concordance {g['concordance']:.3f}  "
            f"integrated Brier {g['integrated_brier']:.4f}"
        )
    yield (
        f"registered cxml-churn version {result['version']}; "
        f"champion is version {result['champion']}"
    )


def text_grade_lines(result: dict[str, Any]) -> Iterator[str]:
    """A text training run: what it was graded on, its grades beside the champion's, and what
    it did to the champion's themes."""
    from cxml.text.evaluate import lineage_lines

    grades, champion = result.get("grades") or {}, result.get("champion_grades") or {}
    yield f"graded on {result['heldout']}"
    if result.get("intent_corrections"):
        yield result["intent_corrections"]["summary"]
    if grades:
        header = f"  {'':<20} {'this model':>10}"
        if champion:
            header += f" {'champion ' + str(result['champion_version']):>12}"
        yield header
        for name in (
            "sentiment_macro_f1",
            "sentiment_accuracy",
            "theme_coverage",
            "theme_coherence",
        ):
            line = f"  {name:<20} {_number(grades.get(name)):>10}"
            if champion:
                line += f" {_number(champion.get(name)):>12}"
            yield line
    selection = result.get("sentiment_selection") or {}
    if any(g["macro_f1"] is not None for grades_ in selection.values() for g in grades_):
        cut = [
            f"{language} {folds}"
            for language, grades_ in selection.items()
            if (folds := next((g.get("folds") for g in grades_ if g.get("folds")), None))
        ]
        yield (
            "sentiment candidates (macro-F1, 3-fold cross-validation on the training comments"
            + (f"; folds: {', '.join(cut)}" if cut else "")
            + "):"
        )
        for language, grades_ in selection.items():
            for g in grades_:
                if g["macro_f1"] is None:
                    continue
                chosen = "  ← serves" if g["chosen"] else ""
                yield (
                    f"  {language}  {g['family'] + ' C=' + format(g['C'], 'g'):<24} "
                    f"{g['macro_f1']:.4f} ± {g['sd']:.4f}{chosen}"
                )
    if result.get("champion_version"):
        yield f"themes against champion {result['champion_version']}:"
        yield from (f"  {line}" for line in lineage_lines(result.get("lineage") or []))


def _number(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.4f}"


def drift_lines(report: dict[str, Any], *, features: int = 10) -> Iterator[str]:
    """A drift report for people: each mix, the most drifted churn features, the realised
    performance, and the alerts."""
    reference, current = report["reference"], report["current"]
    yield f"reference {reference['label']} against current {current['label']}"
    yield f"  {'mix':<16} {'PSI':>7} {'band':<12} {'chi² p':>8}  most moved"
    for mix, r in report["mixes"].items():
        top = r["rows"][0] if r["rows"] else None
        moved = (
            f"{top['label']} {top['reference_share'] or 0:.1%} → {top['current_share'] or 0:.1%}"
            if top
            else "-"
        )
        p_value = "-" if r["p_value"] is None else f"{r['p_value']:.2g}"
        yield f"  {mix:<16} {_number(r['psi']):>7} {r['band']:<12} {p_value:>8}  {moved}"
    if report["features"]:
        counts = report.get("feature_customers", {})
        bands = [row["band"] for row in report["features"]]
        yield (
            f"churn features of model {report['model_version']} ({counts.get('reference', 0):,} / "
            f"{counts.get('current', 0):,} customers): {bands.count('significant')} significant, "
            f"{bands.count('moderate')} moderate, {bands.count('stable')} stable"
        )
        for row in report["features"][:features]:
            means = (
                f"mean {row['reference_mean']:.3g} → {row['current_mean']:.3g}"
                if row["reference_mean"] is not None and row["current_mean"] is not None
                else ""
            )
            missing = (row["reference_missing"] or 0, row["current_missing"] or 0)
            if abs(missing[1] - missing[0]) >= 0.01:
                means += f"{'; ' if means else ''}missing {missing[0]:.1%} → {missing[1]:.1%}"
            yield f"  {row['feature']:<40} {_number(row['psi']):>7} {row['band']:<12} {means}"
    performance = report.get("performance")
    if performance:
        if "roc_auc" in performance:
            promised = performance.get("promised_roc_auc")
            yield (
                f"realised on the {performance['snapshot']} snapshot ({performance['customers']:,} "
                f"customers, outcomes by {performance['outcomes_known_by']}): ROC-AUC "
                f"{performance['roc_auc']:.3f}"
                + (f" (backtest {promised:.3f})" if promised is not None else "")
                + f", predicted {performance['predicted_rate']:.1%} vs observed "
                f"{performance['observed_rate']:.1%}: {performance['status']}"
            )
        if performance.get("note"):
            yield f"  note: {performance['note']}"
    for skipped in report.get("skipped", []):
        yield f"skipped: {skipped}"
    alerts = report["alerts"]
    yield f"{len(alerts)} alert(s)" + (":" if alerts else "")
    for alert in alerts:
        yield f"  [{alert['band']}] {alert['message']}"


def impact_lines(result: dict[str, Any]) -> Iterator[str]:
    """The follow-ups' impact for people: the score runs used, overall, per split, left out."""
    runs = ", ".join(result["score_runs"]) or "none with known outcomes"
    yield f"score runs: {runs} (outcomes within {result['horizon_days']} days)"
    yield result["overall"]["message"]
    for split, rows in result["by"].items():
        yield f"by {split}:"
        for row in rows:
            yield f"  {row['label']}: {row['message']}"
    excluded = result["excluded"]
    yield (
        f"left out: {excluded['not_reached']} follow-ups that never reached the customer, "
        f"{excluded['no_matured_score_run']} not within {result['contact_window_days']} days of a "
        f"score run with known outcomes, {excluded['low_risk']} with low-risk customers"
    )


def _interval(values: list[float], unit: str = "") -> str:
    return f"[{values[0]:+,.1f}{unit}, {values[1]:+,.1f}{unit}]"


def randomised_lines(result: dict[str, Any]) -> Iterator[str]:
    """The randomised comparison of the pulls for people: overall, per pull, per split."""
    overall = result["overall"]
    if overall is None:
        yield f"  {result['message']}"
    else:
        yield f"  over {overall['pulls']} pull(s) past their horizon: {overall['message']}"
        if overall.get("adjusted_interval_pts") is not None:
            yield (
                f"  retention: contacted {overall['retained_contact']:.1%}, held out "
                f"{overall['retained_control']:.1%}; unadjusted {overall['effect_pts']:+.1f} pts "
                f"{_interval(overall['interval_pts'])}, CUPED-adjusted "
                f"{overall['adjusted_effect_pts']:+.1f} pts "
                f"{_interval(overall['adjusted_interval_pts'])}"
            )
            yield (
                f"  saves: {overall['saves']:+.1f} customers {_interval(overall['saves_interval'])}; "
                f"revenue saved {overall['revenue_saved']:+,.0f} "
                f"{_interval(overall['revenue_saved_interval'])}; minimum detectable effect "
                f"{overall['mde_pts']:.1f} pts"
            )
    for read in result["pulls"]:
        yield f"  pull {read['pull_id']} ({read['pulled_at']:%Y-%m-%d}): {read['message']}"
    for split in (overall or {}).get("splits", []):
        kind = "randomised" if split["randomised"] else "NOT randomised"
        yield f"  by {split['by']} ({kind}):"
        for row in split["rows"]:
            yield f"    {row['label']}: {row['message']}"


def contact_impact_lines(report: dict[str, Any]) -> Iterator[str]:
    """What contact did: the randomised comparison first, the observational one second."""
    yield "randomised comparison (worklist pulls with a holdout) — read this first:"
    yield from randomised_lines(report["randomised"])
    yield "observational comparison (second; " + report["observational"]["label"] + "):"
    for line in impact_lines(report["observational"]):
        yield f"  {line}"


def text_registration_line(result: dict[str, Any]) -> str:
    """Which cxml-text version a training registered, and whether it is the champion."""
    return f"registered as cxml-text version {result['version']}, run {result['run_id']}; " + (
        "it is the champion (there was none)"
        if result["champion"] == result["version"]
        else f"champion stays version {result['champion']} until "
        f"`cxml promote --model text --version {result['version']}`"
    )


def newer_version_line(newer: str, version: str) -> str:
    """A newer churn version of the same mode waits, unpromoted: how to use it."""
    return (
        f"note: cxml-churn version {newer} is newer than version {version} and not the "
        f"champion: `cxml promote` compares it with the champion, or score with it now "
        f"with `--version {newer}`"
    )
