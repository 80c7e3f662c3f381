"""The ``cxml`` command: parse arguments, call the library, print. No logic of its own.

Errors of cxml's own types become one line on stderr and an exit code
(2 configuration, 3 unreadable input, 4 not found, 5 store); nothing else
is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from cxml import __version__
from cxml.errors import ConfigError, CxmlError
from cxml.settings import Settings


def _now() -> datetime:
    """The CLI decides what now is (UTC, without zone); the library only receives it."""
    return datetime.now(UTC).replace(tzinfo=None)


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _store(ctx: click.Context) -> Any:
    from cxml.store import Store

    if "store" not in ctx.obj:
        ctx.obj["store"] = Store.open(_settings(ctx))
    return ctx.obj["store"]


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _parse_date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}={value!r} is not an ISO date (expected YYYY-MM-DD)") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cxml")
@click.option(
    "--database-url",
    envvar="CXML_DATABASE_URL",
    default=None,
    help="Store URL (default: sqlite:///cxml.db in the working directory).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """cxml: customer feedback in, churn risk and its reasons out."""
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    ctx.obj = {"settings": Settings(**overrides)}


# --- ingestion ------------------------------------------------------------------------


@cli.group()
def ingest() -> None:
    """Validate and load a file of customers or feedback into the store."""


def _ingest_options(func: Any) -> Any:
    options = [
        click.argument("path", type=click.Path(path_type=Path)),
        click.option(
            "--map",
            "maps",
            multiple=True,
            metavar="SOURCE=TARGET",
            help="Rename a file column to a contract column (repeatable), e.g. customerID=customer_id.",
        ),
        click.option(
            "--mapping",
            "mapping_file",
            type=click.Path(path_type=Path),
            help="YAML/JSON file with `columns: {source: target}`.",
        ),
        click.option(
            "--rejects",
            "rejects_path",
            type=click.Path(path_type=Path),
            help="Write rejected rows (with reasons) to this CSV.",
        ),
        click.option(
            "--encoding",
            default="utf-8",
            show_default=True,
            help="Text encoding of CSV/JSONL files.",
        ),
        click.option(
            "--format",
            "file_format",
            type=click.Choice(["csv", "tsv", "parquet", "jsonl"]),
            help="File format (default: from the extension).",
        ),
        click.option(
            "--date-format",
            help="strftime format of the file's dates when they are not ISO 8601, e.g. %d/%m/%Y.",
        ),
        click.option(
            "--as-of", help="Date a tenure_months column counts back from (default: today)."
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the counts as one JSON object."
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress bar on stderr (default: when stderr is a terminal).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextmanager
def _progress_bar(path: Path, enabled: bool | None) -> Iterator[Any]:
    from cxml.io import progress_total

    show = sys.stderr.isatty() if enabled is None else enabled
    if not show or not path.is_file():
        yield None
        return
    try:
        total = progress_total(path)
    except CxmlError:
        yield None
        return
    with click.progressbar(length=total, label=f"ingesting {path.name}", file=sys.stderr) as bar:
        state = {"done": 0}

        def advance(done: int) -> None:
            bar.update(max(done - state["done"], 0))
            state["done"] = done

        yield advance


def _run_ingest(ctx: click.Context, kind: str, path: Path, **options: Any) -> None:
    from cxml.contract import parse_mapping
    from cxml.ingest import ingest_file, load_mapping_file

    mapping: dict[str, str] = {}
    if options["mapping_file"]:
        mapping.update(load_mapping_file(options["mapping_file"]))
    mapping.update(parse_mapping(options["maps"]))
    store = _store(ctx)
    with _progress_bar(path, options["progress"]) as progress:
        report = ingest_file(
            store,
            kind,
            path,
            settings=_settings(ctx),
            now=_now(),
            mapping=mapping,
            encoding=options["encoding"],
            file_format=options["file_format"],
            date_format=options["date_format"],
            as_of=_parse_date(options["as_of"], "--as-of"),
            rejects_path=options["rejects_path"],
            progress=progress,
        )
    if options["as_json"]:
        _echo_json(report.to_dict())
        return
    click.echo(
        f"{kind} from {path}: read {report.read:,}, accepted {report.accepted:,}, "
        f"updated {report.updated:,}, unchanged {report.unchanged:,}, rejected {report.rejected:,}"
        + (f" (held until their customer arrives: {report.held:,})" if report.held else "")
        + (f"; released {report.released:,} held feedback" if report.released else "")
        + f" in {report.seconds:.1f}s"
    )
    if report.rejected:
        where = report.rejects_file or "the store (cxml rejects)"
        click.echo(f"rejected rows and their reasons: {where}")


@ingest.command("customers")
@_ingest_options
@click.pass_context
def ingest_customers(ctx: click.Context, path: Path, **options: Any) -> None:
    """Load customers: customer_id, signup_date, churn_date, monthly_value, any attributes."""
    _run_ingest(ctx, "customers", path, **options)


@ingest.command("feedback")
@_ingest_options
@click.pass_context
def ingest_feedback(ctx: click.Context, path: Path, **options: Any) -> None:
    """Load feedback: feedback_id, customer_id, created_at, channel, text, nps, csat, ces, language."""
    _run_ingest(ctx, "feedback", path, **options)


# --- reading the store ----------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of customers and feedback, by channel and by language."""
    result = _store(ctx).stats()
    if as_json:
        _echo_json(result)
        return
    click.echo(
        f"customers: {result['customers']:,} ({result['customers_active']:,} active, "
        f"{result['customers_churned']:,} churned)"
    )
    click.echo(
        f"feedback:  {result['feedback']:,} ({result['feedback_with_text']:,} with text), "
        f"{result['feedback_first'] or '-'} to {result['feedback_last'] or '-'}"
    )
    for title, key in (
        ("by channel", "feedback_by_channel"),
        ("by language", "feedback_by_language"),
    ):
        click.echo(f"  {title}: " + ", ".join(f"{k} {v:,}" for k, v in result[key].items()))
    click.echo(
        f"rejects:   {result['rejects']:,} (held for unknown customers: {result['rejects_held']:,})"
    )


@cli.command()
@click.argument("customer_id")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the customer and the timeline as JSON."
)
@click.pass_context
def timeline(ctx: click.Context, customer_id: str, as_json: bool) -> None:
    """One customer's interactions across every channel, oldest first."""
    store = _store(ctx)
    customer = store.customer(customer_id)
    events = store.timeline(customer_id)
    if as_json:
        records = events.astype(object).where(events.notna(), None).to_dict(orient="records")
        _echo_json({"customer": customer, "timeline": records})
        return
    status = f"churned {customer['churn_date']}" if customer["churn_date"] else "active"
    value = customer["monthly_value"]
    click.echo(
        f"{customer_id}: signed up {customer['signup_date']}, {status}"
        + (f", {value:,.2f}/month" if value is not None else "")
    )
    if customer["attributes"]:
        click.echo("  " + ", ".join(f"{k}={v}" for k, v in customer["attributes"].items()))
    click.echo(f"{len(events)} interaction(s)")
    for event in events.itertuples(index=False):
        scores = " ".join(
            f"{name.upper()} {int(value)}"
            for name, value in (("nps", event.nps), ("csat", event.csat), ("ces", event.ces))
            if not pd.isna(value)
        )
        text = (event.text or "").replace("\n", " ⏎ ")
        click.echo(
            f"{pd.Timestamp(event.created_at):%Y-%m-%d %H:%M}  {event.channel:<10} "
            f"{scores:<14} {text}"
        )


@cli.command()
@click.option("--kind", type=click.Choice(["customers", "feedback"]), help="Only this kind.")
@click.option("--source", help="Only rejects of this file (absolute path as ingested).")
@click.option("--out", type=click.Path(path_type=Path), help="Write them to CSV/Parquet/JSONL.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON lines.")
@click.option("--limit", default=20, show_default=True, help="Rows printed (not written).")
@click.pass_context
def rejects(
    ctx: click.Context,
    kind: str | None,
    source: str | None,
    out: Path | None,
    as_json: bool,
    limit: int,
) -> None:
    """Rows refused at ingestion, with their row numbers, fields, values and reasons."""
    from cxml.io import write_frame

    frame = _store(ctx).rejects_frame(kind, source)
    if out is not None:
        printable = frame.copy()
        for column in ("errors", "raw", "normalized"):
            printable[column] = [json.dumps(v, ensure_ascii=False) for v in printable[column]]
        write_frame(printable, out)
        click.echo(f"{len(frame):,} reject(s) written to {out}")
        return
    if as_json:
        for record in frame.head(limit).to_dict(orient="records"):
            click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return
    click.echo(f"{len(frame):,} reject(s)")
    for record in frame.head(limit).itertuples(index=False):
        held = " [held]" if record.held else ""
        click.echo(f"{Path(record.source).name} row {record.row}{held}: {record.reason}")


@cli.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply migrations up to the newest schema (ingestion does this too)."""
    store = _store(ctx)
    click.echo(f"store at schema revision {store.schema_revision()}")


# --- text -----------------------------------------------------------------------------


@cli.group()
def train() -> None:
    """Fit models and track them in MLflow."""


@train.command("text")
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    help="Train on this file instead of the store's feedback.",
)
@click.option("--text-column", default="text", show_default=True)
@click.option(
    "--label-column",
    help="Column with positive/neutral/negative labels (else weak labels from scores).",
)
@click.option(
    "--taxonomy", "taxonomy_path", type=click.Path(path_type=Path), help="Theme taxonomy YAML."
)
@click.option(
    "--themes",
    "n_themes",
    type=int,
    help="Discovered themes per language (default: from the data size).",
)
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Register as cxml-text and make it champion.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def train_text(
    ctx: click.Context,
    input_path: Path | None,
    text_column: str,
    label_column: str | None,
    taxonomy_path: Path | None,
    n_themes: int | None,
    register: bool,
    as_json: bool,
) -> None:
    """Fit the text pipeline (sentiment, themes, intents) and log it to MLflow."""
    from cxml.text.training import train_text_pipeline

    settings = _settings(ctx)
    frame = None if input_path else _store(ctx).feedback_frame(with_text=True)
    result = train_text_pipeline(
        settings,
        frame=frame,
        input_path=input_path,
        text_column=text_column,
        label_column=label_column,
        taxonomy_path=taxonomy_path,
        n_themes=n_themes,
        previous=_champion_text(settings),
        register=register,
    )
    if as_json:
        _echo_json(result)
        return
    click.echo(
        f"text pipeline fitted on {result['texts']:,} comments ({', '.join(result['languages'])}); "
        f"sentiment from {result['label_source']}; {result['themes']} themes, coverage {result['coverage']:.1%}"
    )
    if result.get("version"):
        click.echo(
            f"registered as cxml-text version {result['version']} (alias champion), run {result['run_id']}"
        )


@train.command("churn")
@click.option(
    "--customers",
    "customers_path",
    type=click.Path(path_type=Path),
    help="Flat mode: a labelled customer table.",
)
@click.option("--label-column", help="Flat mode: the column that says who churned.")
@click.option(
    "--positive",
    default="Yes",
    show_default=True,
    help="Flat mode: the label value meaning churned.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="SOURCE=TARGET",
    help="Rename columns (id to customer_id).",
)
@click.option("--as-of", help="Store mode: the date labels must be complete by (default: today).")
@click.option(
    "--horizon",
    "horizon_days",
    default=90,
    show_default=True,
    help="Days after a snapshot a churn counts.",
)
@click.option(
    "--snapshots",
    "n_snapshots",
    default=4,
    show_default=True,
    help="Store mode: snapshots to train on.",
)
@click.option("--without-text", is_flag=True, help="Store mode: leave the text features out.")
@click.option(
    "--definition",
    type=click.Choice(["subscription", "inactivity"]),
    default="subscription",
    show_default=True,
    help="Store mode: churn is the stored churn_date, or no interaction for --inactive-days.",
)
@click.option(
    "--inactive-days",
    default=90,
    show_default=True,
    help="With --definition inactivity: days without any interaction that count as churn.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def train_churn_command(
    ctx: click.Context,
    customers_path: Path | None,
    label_column: str | None,
    positive: str,
    maps: tuple[str, ...],
    as_of: str | None,
    horizon_days: int,
    n_snapshots: int,
    without_text: bool,
    definition: str,
    inactive_days: int,
    as_json: bool,
) -> None:
    """Train a churn model (graded against baselines), log it and register a cxml-churn version."""
    import pandas as pd

    from cxml.churn.training import train_churn
    from cxml.contract import parse_mapping
    from cxml.text.training import read_table

    settings = _settings(ctx)
    if customers_path is not None:
        table = read_table(customers_path).rename(columns=parse_mapping(maps))
        result = train_churn(
            settings,
            flat=table,
            label_column=label_column,
            positive=positive,
            horizon_days=horizon_days,
        )
    else:
        day = _parse_date(as_of, "--as-of") or _now()
        result = train_churn(
            settings,
            inputs=_store(ctx).churn_inputs(),
            as_of=pd.Timestamp(day).normalize(),
            horizon_days=horizon_days,
            n_snapshots=n_snapshots,
            with_text=not without_text,
            definition={"kind": definition, "inactive_days": inactive_days}
            if definition == "inactivity"
            else {"kind": "subscription"},
        )
    if as_json:
        _echo_json(result)
        return
    for warning in result["leak_warnings"]:
        click.echo(f"warning: possible leak: {warning}", err=True)
    grades = result["grades"]
    click.echo(f"{result['mode']} mode, {result['rows']:,} rows; graded on {result['backtest']}")
    for name in ("model", "logistic", "rule"):
        g = grades[name]
        click.echo(
            f"  {name:<9} ROC-AUC {g['roc_auc']:.4f}  PR-AUC {g['pr_auc']:.3f}  Brier {g['brier']:.4f}  "
            f"lift@10% {g['lift_top10']:.2f}"
        )
    click.echo(
        f"registered cxml-churn version {result['version']}; champion is version {result['champion']}"
    )


@cli.command()
@click.option("--as-of", help="Store mode: score customers active on this date (default: today).")
@click.option(
    "--customers",
    "customers_path",
    type=click.Path(path_type=Path),
    help="Flat mode: a customer table to score.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="SOURCE=TARGET",
    help="Rename columns (id to customer_id).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    help="Also write the scores to CSV/Parquet/JSONL.",
)
@click.option(
    "--top", default=10, show_default=True, help="How many of the most at-risk customers to print."
)
@click.pass_context
def score(
    ctx: click.Context,
    as_of: str | None,
    customers_path: Path | None,
    maps: tuple[str, ...],
    out_path: Path | None,
    top: int,
) -> None:
    """Score churn risk with the champion: probability, band, revenue at risk, reasons."""
    import pandas as pd

    from cxml.contract import parse_mapping
    from cxml.io import write_frame
    from cxml.scoring import score_flat, score_store
    from cxml.text.training import read_table
    from cxml.tracking import load_churn_for_mode

    settings = _settings(ctx)
    # A file of customers needs a flat-mode model, the store a store-mode one: the champion
    # when it is of that kind, else the newest version that is.
    bundle, version = load_churn_for_mode(settings, "flat" if customers_path else "store")
    now = _now()
    if customers_path is not None:
        table = read_table(customers_path).rename(columns=parse_mapping(maps))
        scored = score_flat(bundle, table, model_version=version, now=now)
        if out_path is None:
            raise ConfigError("flat mode writes a file: give --out FILE")
    else:
        day = pd.Timestamp(_parse_date(as_of, "--as-of") or now).normalize()
        scored = score_store(
            bundle, _store(ctx).churn_inputs(), day, model_version=version, now=now
        )
        _store(ctx).write_scores(scored)
    if out_path is not None:
        printable = scored.assign(
            reasons=[json.dumps(r, ensure_ascii=False, default=str) for r in scored["reasons"]]
        )
        write_frame(printable, out_path)
    click.echo(
        f"{len(scored):,} customers scored with cxml-churn version {version} "
        f"(reasons: {scored['attribution'].iloc[0] if len(scored) else '-'})"
    )
    for row in scored.sort_values("probability", ascending=False).head(top).itertuples(index=False):
        reasons = "; ".join(r["text"] for r in row.reasons)
        quote = next((r["evidence"]["quote"] for r in row.reasons if "evidence" in r), None)
        click.echo(
            f"  {row.customer_id}  {row.probability:.1%}  {row.band:<6} at risk {row.revenue_at_risk:,.2f}  — {reasons}"
        )
        if quote:
            click.echo(f"      «{quote}»")


@cli.command()
@click.option("--version", help="The version to promote (default: the newest).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def promote(ctx: click.Context, version: str | None, as_json: bool) -> None:
    """Make a cxml-churn version champion, only if it beats the champion on the same backtest."""
    from cxml.tracking import promote_churn

    result = promote_churn(_settings(ctx), version)
    if as_json:
        _echo_json(result)
    else:
        click.echo(("promoted: " if result["promoted"] else "refused: ") + result["reason"])
    if not result["promoted"] and "already" not in result["reason"]:
        raise SystemExit(6)  # scripts can tell a refusal from a promotion


def _champion_text(settings: Settings) -> Any:
    from cxml.tracking import load_text_champion

    loaded = load_text_champion(settings)
    return loaded[0] if loaded else None


@cli.command()
@click.option("--input", "input_path", type=click.Path(path_type=Path), help="A file to analyse.")
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path), help="JSON Lines output (with --input)."
)
@click.option(
    "--store",
    "into_store",
    is_flag=True,
    help="Analyse the store's feedback and keep the results there.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="With --store: also re-analyse comments this model already read.",
)
@click.option("--text-column", default="text", show_default=True)
@click.option(
    "--id-column", help="Column carried into the output (default: feedback_id or id when present)."
)
@click.option("--language-column", default="language", show_default=True)
@click.pass_context
def analyze(
    ctx: click.Context,
    input_path: Path | None,
    out_path: Path | None,
    into_store: bool,
    everything: bool,
    text_column: str,
    id_column: str | None,
    language_column: str,
) -> None:
    """Analyse every row's text: language, sentiment, themes, key phrases, intents, redacted text."""
    from cxml.text.training import analyze_file, analyze_store

    settings = _settings(ctx)
    if into_store:
        done = analyze_store(_store(ctx), settings, now=_now(), everything=everything)
        click.echo(
            f"{done['analysed']:,} comments analysed with model {done['model_version']} and stored"
        )
        return
    if input_path is None or out_path is None:
        raise ConfigError("give --input FILE --out FILE.jsonl, or --store")
    summary = analyze_file(
        settings,
        input_path,
        out_path,
        text_column=text_column,
        id_column=id_column,
        language_column=language_column,
    )
    click.echo(
        f"{summary['rows']:,} rows analysed with {summary['model']} into {out_path} "
        f"(theme coverage {summary['coverage']:.1%})"
    )


# --- metrics ---------------------------------------------------------------------------


def _print_table(frame: pd.DataFrame, as_json: bool, csv_path: Path | None) -> None:
    from cxml.reporting import records

    if csv_path is not None:
        frame.to_csv(csv_path, index=False)
        click.echo(f"{len(frame):,} rows written to {csv_path}")
    elif as_json:
        _echo_json(records(frame))
    elif frame.empty:
        click.echo("(no rows)")
    else:
        click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))


@cli.command()
@click.argument("metric", type=click.Choice(["nps", "csat", "ces", "churn-rate", "retention"]))
@click.option(
    "--by",
    "by",
    multiple=True,
    help="Group by: channel, language, theme, or a customer attribute (repeatable).",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    help="Group by period.",
)
@click.option("--from", "start", help="First day included (ISO date).")
@click.option("--to", "end", help="First day excluded (ISO date).")
@click.option(
    "--level", type=click.Choice(["response", "customer"]), default="response", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of rows.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the rows to CSV.")
@click.pass_context
def metrics(
    ctx: click.Context,
    metric: str,
    by: tuple[str, ...],
    period: str | None,
    start: str | None,
    end: str | None,
    level: str,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """NPS, CSAT, CES, churn and retention rates per group, with 95 % intervals and counts."""
    from cxml.reporting import metric_table

    frame = metric_table(
        _store(ctx),
        metric,
        by=[b for part in by for b in part.split(",") if b],
        period=period,
        start=_parse_date(start, "--from"),
        end=_parse_date(end, "--to"),
        level=level,
    )
    _print_table(frame, as_json, csv_path)


@cli.command()
@click.option("--target", type=click.Choice(["nps", "churn"]), default="nps", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path))
@click.pass_context
def drivers(ctx: click.Context, target: str, as_json: bool, csv_path: Path | None) -> None:
    """Themes ranked by their impact on NPS or churn (not by volume)."""
    from cxml.reporting import driver_table

    _print_table(driver_table(_store(ctx), target, as_of=_now()), as_json, csv_path)


@cli.command()
@click.option(
    "--period", type=click.Choice(["week", "month", "quarter"]), default="month", show_default=True
)
@click.option("--by", "segment", help="A customer attribute to split by.")
@click.option(
    "--baseline", "baseline_periods", default=3, show_default=True, help="Periods in the baseline."
)
@click.option(
    "--min-count",
    default=10,
    show_default=True,
    help="Fewest mentions in the latest period to alert.",
)
@click.option("--all", "show_all", is_flag=True, help="Show every theme, not only alerts.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alerts(
    ctx: click.Context,
    period: str,
    segment: str | None,
    baseline_periods: int,
    min_count: int,
    show_all: bool,
    as_json: bool,
) -> None:
    """Emerging themes: rising share in the latest period against the baseline (z-test)."""
    from cxml.reporting import alert_table

    frame = alert_table(
        _store(ctx),
        period=period,
        segment=segment,
        baseline_periods=baseline_periods,
        min_count=min_count,
    )
    if not show_all and not frame.empty:
        frame = frame[frame["alert"]]
    _print_table(frame, as_json, None)


# --- service --------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """API keys for the HTTP service: create, list, revoke."""


@keys.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(["score", "ingest", "read", "admin"]),
    help="Repeatable; admin implies every scope.",
)
@click.option("--name", help="Who or what uses the key (shown in `cxml keys list`).")
@click.pass_context
def keys_create(ctx: click.Context, scopes: tuple[str, ...], name: str | None) -> None:
    """Create a key; it is printed once, alone on the last line, and stored only as a hash."""
    from cxml.keys import create_key

    key = create_key(_store(ctx), scopes, now=_now(), name=name)
    click.echo(
        f"scopes: {', '.join(sorted(set(scopes)))}; keep the key now, it is not shown again:"
    )
    click.echo(key)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """Every key's id, name, scopes, creation and revocation (never the key itself)."""
    from cxml.store.service import list_api_keys

    rows = list_api_keys(_store(ctx))
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['key_id']}  {','.join(row['scopes']):<24} {state:<18} {row['name'] or ''}"
        )


@keys.command("revoke")
@click.argument("key_or_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_or_id: str) -> None:
    """Revoke a key (give the key or its id); it stops working at once."""
    from cxml.keys import revoke_key

    click.echo(f"revoked {revoke_key(_store(ctx), key_or_id, now=_now())}")


@cli.command("export-models")
@click.option("--out", type=click.Path(path_type=Path), default=Path("models"), show_default=True)
@click.pass_context
def export_models(ctx: click.Context, out: Path) -> None:
    """Write the champions as bundles (churn.joblib, text.joblib) a server can load without MLflow."""
    from cxml.tracking import export_champions

    written = export_champions(_settings(ctx), out)
    for kind, version in written.items():
        click.echo(f"{kind}: version {version} → {out / (kind + '.joblib')}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Worker processes.")
@click.option("--log-level", default="info", show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, log_level: str) -> None:
    """Start the HTTP API (uvicorn): /v1/..., the OpenAPI spec at /docs, the team's page at /."""
    _run_server(_settings(ctx), host, port, workers, log_level)


def _run_server(settings: Settings, host: str, port: int, workers: int, log_level: str) -> None:
    import os
    import tempfile

    import uvicorn

    # Workers are separate processes: they read the same settings from the environment.
    os.environ["CXML_DATABASE_URL"] = settings.database_url
    os.environ["CXML_MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cxml-metrics-")
    uvicorn.run(
        "serve.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


# --- demo -----------------------------------------------------------------------------


@cli.command("demo-data")
@click.option(
    "--customers", "n_customers", default=2000, show_default=True, help="Customers to generate."
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo"), show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--end", help="Last day of the world (default: today).")
def demo_data(n_customers: int, out: Path, seed: int, end: str | None) -> None:
    """Write a synthetic world: customers, multi-channel EN/JA feedback, planted truth."""
    from cxml.demo import generate, write_world

    end_day = _parse_date(end, "--end")
    world = generate(n_customers, seed=seed, end=(end_day or _now()).date())
    paths = write_world(world, out)
    click.echo(
        f"{len(world.customers):,} customers and {len(world.feedback):,} feedback rows "
        f"({world.params['start']} to {world.params['end']}) written to {out}/"
    )
    for name, path in paths.items():
        click.echo(f"  {name:<16} {path}")


@cli.command()
@click.option("--customers", "n_customers", default=2000, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo"), show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--serve/--no-serve",
    "start_server",
    default=True,
    show_default=True,
    help="End by starting the HTTP API (Ctrl-C stops it).",
)
@click.option("--port", default=8000, show_default=True, help="Port of the HTTP API.")
@click.pass_context
def demo(
    ctx: click.Context, n_customers: int, out: Path, seed: int, start_server: bool, port: int
) -> None:
    """Run the whole flow on generated data: generate, ingest, text, metrics, churn, serve."""
    from cxml.demo import generate, write_world
    from cxml.ingest import ingest_file

    settings = _settings(ctx)
    now = _now()
    click.echo(f"1. generating a world of {n_customers:,} customers (seed {seed}) in {out}/")
    world = generate(n_customers, seed=seed, end=now.date())
    paths = write_world(world, out)
    store = _store(ctx)
    click.echo(f"2. ingesting into {settings.resolved_database_url()}")
    for kind in ("customers", "feedback"):
        report = ingest_file(
            store,
            kind,
            paths[kind],
            settings=settings,
            now=now,
            rejects_path=out / f"rejects_{kind}.csv",
        )
        click.echo(
            f"   {kind}: read {report.read:,}, accepted {report.accepted:,}, updated "
            f"{report.updated:,}, unchanged {report.unchanged:,}, rejected {report.rejected:,} "
            f"({report.seconds:.1f}s)"
        )
    click.echo("3. the store now holds:")
    ctx.invoke(stats, as_json=False)
    from cxml.text.training import train_text_pipeline
    from cxml.tracking import load_text_champion

    click.echo(
        f"4. training the text pipeline on the store's comments (taxonomy {paths['taxonomy']})"
    )
    previous = load_text_champion(settings)
    trained = train_text_pipeline(
        settings,
        frame=store.feedback_frame(with_text=True),
        taxonomy_path=Path(paths["taxonomy"]),
        previous=previous[0] if previous else None,
    )
    click.echo(
        f"   {trained['texts']:,} comments ({', '.join(trained['languages'])}); sentiment from "
        f"{trained['label_source']}; {trained['themes']} themes; coverage {trained['coverage']:.1%}; "
        f"registered as cxml-text version {trained['version']} (champion)"
    )
    from cxml.reporting import driver_table, metric_table
    from cxml.text.training import analyze_store

    analysed = analyze_store(store, settings, now=now)
    click.echo(f"   {analysed['analysed']:,} comments analysed and stored")
    click.echo("5. NPS by quarter (95 % interval), and the themes that move it most:")
    quarterly = metric_table(store, "nps", period="quarter").tail(4)
    for row in quarterly.itertuples(index=False):
        click.echo(
            f"   {row.period}: NPS {row.nps:+.1f} [{row.ci_low:+.1f}, {row.ci_high:+.1f}] (n={row.n:,})"
        )
    for row in driver_table(store, "nps").head(3).itertuples(index=False):
        click.echo(
            f"   {row.theme_label}: impact {row.impact:+.1f} NPS points "
            f"[{row.impact_ci_low:+.1f}, {row.impact_ci_high:+.1f}], {row.mentions:,} mentions"
        )
    click.echo("6. training the churn model (snapshots every 90 days, graded forward in time)")
    ctx.invoke(
        train_churn_command,
        customers_path=None,
        label_column=None,
        positive="Yes",
        maps=(),
        as_of=None,
        horizon_days=90,
        n_snapshots=4,
        without_text=False,
        definition="subscription",
        inactive_days=90,
        as_json=False,
    )
    click.echo("7. the ten customers most at risk today, with their reasons:")
    ctx.invoke(score, as_of=None, customers_path=None, maps=(), out_path=out / "scores.csv", top=10)
    busiest = world.feedback["customer_id"].value_counts().index[0]
    click.echo(f"8. one customer's conversation across channels ({busiest}):")
    ctx.invoke(timeline, customer_id=busiest, as_json=False)
    loaded = load_text_champion(settings)
    assert loaded is not None
    recent = store.timeline(busiest).dropna(subset=["text"]).tail(3)
    click.echo("9. what the text pipeline reads in their latest comments:")
    for text, result in zip(
        recent["text"], loaded[0].analyze(recent["text"].tolist()), strict=True
    ):
        themes = ", ".join(f"{t['label']} ({t['sentiment']['label']})" for t in result["themes"])
        intents = ", ".join(i["intent"] for i in result["intents"]) or "-"
        click.echo(
            f"   «{text[:70]}» → {result['sentiment']['label']}; themes: {themes}; intents: {intents}"
        )
    click.echo("\nnext:")
    click.echo("  cxml stats --json                          counts by channel and language")
    click.echo(f"  cxml timeline {busiest}                   one customer's story")
    click.echo(f"  cxml analyze --input {paths['feedback']} --out analysed.jsonl")
    click.echo("  cxml metrics nps --period month --by channel --json      metrics with intervals")
    click.echo("  cxml drivers --target churn                 themes ranked by excess churn")
    click.echo("  cxml alerts --all                           emerging themes")
    click.echo(
        f"  {out / 'scores.csv'}: every active customer's risk, band, revenue at risk, reasons"
    )
    click.echo(
        f"  edit {paths['taxonomy']} and run: cxml train text --taxonomy {paths['taxonomy']}"
    )
    click.echo(
        f"  mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}   runs and the model registry"
    )
    click.echo(f"  planted truth for tests and evaluation: {paths['feedback_truth']}")
    if not start_server:
        return
    from cxml.keys import create_key

    key = create_key(store, ["read", "score"], now=_now(), name="demo")
    base = f"http://127.0.0.1:{port}"
    click.echo(
        f"\n10. the HTTP API at {base} (OpenAPI at {base}/docs; the retention team's page at {base}/)"
    )
    click.echo("    a key with scopes read and score was created for you; the ten most at risk:")
    click.echo(f"    curl -s -H 'X-API-Key: {key}' '{base}/v1/at-risk?limit=10'")
    click.echo("    (Ctrl-C stops the server)", nl=True)
    _run_server(settings, "127.0.0.1", port, 1, "warning")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        cli.main(args=argv, prog_name="cxml", standalone_mode=False)
    except CxmlError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
