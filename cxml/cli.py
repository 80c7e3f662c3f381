"""The ``cxml`` command: parse arguments, call the library, print. No logic of its own.

Errors of cxml's own types become one line on stderr with their code and an exit code
(2 configuration, 3 unreadable input, 4 not found, 5 store, 6 promotion refused, 7 model
registry); a database that stops answering mid-command is a store error too. Nothing else is
caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from cxml import __version__
from cxml.churn.explain import LANGUAGES, Language
from cxml.contract import AsOf, parse_as_of
from cxml.errors import ConfigError, CxmlError
from cxml.keys import SCOPES
from cxml.metrics import LEVELS, PERIODS
from cxml.reporting import ALERT_PERIODS, DRIVER_TARGETS, METRICS, Report
from cxml.settings import Settings

PROMOTION_REFUSED = 6  # exit code: scripts can tell a refusal from a promotion
DRIFT_ALERT = 8  # exit code of `cxml drift --fail-on-alert` when a check raised an alert


def _now() -> datetime:
    """The CLI decides what now is (UTC, without zone); the library only receives it."""
    return datetime.now(UTC).replace(tzinfo=None)


def _actor() -> str:
    """Who runs a command, for the audit log: ``cli:<login name>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _say(line: str) -> None:
    """Progress of a long command, on stderr (stdout stays the result)."""
    click.echo(line, err=True)


def _store(ctx: click.Context) -> Any:
    from cxml.store import Store

    if "store" not in ctx.obj:
        ctx.obj["store"] = Store.open(_settings(ctx))
        ctx.find_root().call_on_close(ctx.obj["store"].close)  # its pool ends with the command
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


def _parse_as_of(value: str | None, option: str) -> AsOf | None:
    """An ``--as-of`` option as the library's ``AsOf`` (parsed here, once), or None."""
    return None if value is None else parse_as_of(value, field=option)


def _lang_option(func: Any) -> Any:
    """``--lang en|ja``: the language of the reasons a command prints."""
    return click.option(
        "--lang",
        "language",
        type=click.Choice(LANGUAGES),
        default="en",
        show_default=True,
        help="Language of the printed reasons (themes as the taxonomy labels them).",
    )(func)


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
    from cxml.jobs.ingest import IngestRequest, column_mapping, run_ingest

    request = IngestRequest(
        kind=kind,
        path=path,
        mapping=column_mapping(options["maps"], options["mapping_file"]),
        encoding=options["encoding"],
        file_format=options["file_format"],
        date_format=options["date_format"],
        as_of=_parse_as_of(options["as_of"], "--as-of"),
        rejects_path=options["rejects_path"],
        id_from_row=options.get("id_from_row", False),
        created_at=_parse_date(options.get("created_at"), "--created-at"),
        anonymous=options.get("anonymous", False),
    )
    store = _store(ctx)
    with _progress_bar(path, options["progress"]) as progress:
        report = run_ingest(store, _settings(ctx), request, now=_now(), progress=progress)
    if report.all_refused:  # nothing stored: a wrong mapping or format, not a few bad rows
        store.close()
        raise SystemExit(_all_refused(kind, path, report, as_json=options["as_json"]))
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


#: The exit code of an ingestion in which every row was refused (README's list of exit codes).
EXIT_ALL_REJECTED = 9


def _all_refused(kind: str, path: Path, report: Any, *, as_json: bool) -> int:
    """Say that every row was refused, how many, and the most common reasons; the exit code."""
    if as_json:
        _echo_json(report.to_dict())
    where = report.rejects_file or "cxml rejects"
    lines = [f"every row of {path} was rejected ({report.rejected:,} {kind} rows); most common:"]
    lines += [f"  {count:,} × {reason}" for reason, count in report.common_reasons()]
    lines.append(f"every row and its reasons: {where}")
    click.echo("\n".join(lines), err=True)
    return EXIT_ALL_REJECTED


@ingest.command("customers")
@_ingest_options
@click.pass_context
def ingest_customers(ctx: click.Context, path: Path, **options: Any) -> None:
    """Load customers: customer_id, signup_date, churn_date, monthly_value, any attributes."""
    _run_ingest(ctx, "customers", path, **options)


@ingest.command("feedback")
@_ingest_options
@click.option(
    "--id-from-row",
    is_flag=True,
    help="Derive feedback_id from each row's content and the file's name (a survey export "
    "without response ids); ingesting the same file again changes nothing.",
)
@click.option(
    "--created-at",
    metavar="DATE",
    help="The survey's date (ISO 8601) for every row of a file without dates, or its blank ones.",
)
@click.option(
    "--anonymous",
    is_flag=True,
    help="Rows naming no customer (or a file without a customer column) are each their own "
    "anonymous respondent: counted in NPS, themes and drivers, never scored or listed at risk.",
)
@click.pass_context
def ingest_feedback(ctx: click.Context, path: Path, **options: Any) -> None:
    """Load feedback: feedback_id, customer_id, created_at, channel, text, nps, csat, ces, language.

    Other columns are kept as the respondent's attributes at that response (journey stage,
    plan, segment), for `cxml metrics nps --by COLUMN`. Exit code 9 when every row was
    rejected. A survey export without ids or dates:

    \b
    cxml ingest feedback nps.csv --map user_id=customer_id --map NPS_Score=nps
    --id-from-row --created-at 2024-05-01

    An export that names no respondent at all (text and score only):

    \b
    cxml ingest feedback survey.csv --map score=nps --id-from-row --anonymous
    --created-at 2024-05-01
    """
    _run_ingest(ctx, "feedback", path, **options)


# --- reading the store ----------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of customers and feedback, by channel and by language; without feedback, what
    to load (in the JSON too, as ``message``)."""
    from cxml.jobs.reads import run_stats
    from cxml.lines import stats_lines

    found = run_stats(_store(ctx))
    counts = found.as_dict() | ({"message": found.message} if found.message else {})
    if as_json:
        _echo_json(counts)
        return
    for line in stats_lines(counts):
        click.echo(line)


@cli.command()
@click.argument("customer_id")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the customer and the timeline as JSON."
)
@click.option(
    "--pii",
    is_flag=True,
    help="Show the raw words (e-mail addresses, phone and card numbers are redacted otherwise).",
)
@click.pass_context
def timeline(ctx: click.Context, customer_id: str, as_json: bool, pii: bool) -> None:
    """One customer's interactions across every channel, oldest first."""
    from cxml.jobs.reads import TimelineRequest, run_timeline
    from cxml.lines import timeline_lines

    request = TimelineRequest(customer_id, pii=pii)
    found = run_timeline(_store(ctx), request, actor=_actor(), now=_now())
    if as_json:
        _echo_json({"customer": found.customer, "timeline": found.records})
        return
    for line in timeline_lines(found.customer, found.events):
        click.echo(line)


@cli.command()
@click.option("--kind", type=click.Choice(["customers", "feedback"]), help="Only this kind.")
@click.option("--source", help="Only rejects of this file (absolute path as ingested).")
@click.option("--out", type=click.Path(path_type=Path), help="Write them to CSV/Parquet/JSONL.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON lines.")
@click.option("--limit", default=20, show_default=True, help="Rows printed (not written).")
@click.option(
    "--pii",
    is_flag=True,
    help="Show values as sent (e-mail addresses, phone and card numbers in words are redacted "
    "otherwise; ids, numbers and dates are always shown).",
)
@click.pass_context
def rejects(
    ctx: click.Context,
    kind: str | None,
    source: str | None,
    out: Path | None,
    as_json: bool,
    limit: int,
    pii: bool,
) -> None:
    """Rows refused at ingestion, with their row numbers, fields, values and reasons."""
    from cxml.io import write_frame
    from cxml.store.records import rejects_frame
    from cxml.text.redact import redacted_reject

    frame = rejects_frame(_store(ctx), kind, source)
    if not pii and len(frame):
        frame = pd.DataFrame(
            [redacted_reject(r) for r in frame.to_dict(orient="records")], columns=frame.columns
        )
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


# --- engines --------------------------------------------------------------------------


def _engine_options(func: Any) -> Any:
    """--engine, --master, --conf, --parquet: where a heavy command runs and reads."""
    options = [
        click.option(
            "--engine",
            type=click.Choice(["local", "spark"]),
            default="local",
            show_default=True,
            help="Run here, a bucket of customers at a time, or on Apache Spark.",
        ),
        click.option(
            "--master",
            default="local[*]",
            show_default=True,
            help="With --engine spark: local[*], spark://host:7077, yarn, k8s://…",
        ),
        click.option(
            "--conf",
            "spark_conf",
            multiple=True,
            metavar="KEY=VALUE",
            help="With --engine spark: a Spark setting (repeatable).",
        ),
        click.option(
            "--parquet",
            "parquet_dir",
            type=click.Path(path_type=Path),
            help="With --engine spark: read Parquet files (cxml export) instead of the store.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _engine(engine: str, master: str, spark_conf: tuple[str, ...], parquet_dir: Path | None) -> Any:
    from cxml.jobs.engine import Engine

    return Engine(name=engine, master=master, conf=spark_conf, parquet=parquet_dir)


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
    help="Register as a cxml-text version (champion when there is none; "
    "otherwise `cxml promote --model text` decides).",
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
    """Fit the text pipeline (sentiment, themes, intents), grade it on the newest comments
    beside the champion, and log it to MLflow.

    The grade comes from a fit on the older comments applied to the newest 20 % (at most
    20,000); the registered model is fitted on all of them. The first version becomes
    champion; later ones are promoted by `cxml promote --model text`."""
    from cxml.jobs.train_text import TrainTextRequest, run_train_text
    from cxml.lines import text_grade_lines, text_registration_line

    request = TrainTextRequest(
        input_path, text_column, label_column, taxonomy_path, n_themes, register, actor=_actor()
    )
    result = run_train_text(_settings(ctx), lambda: _store(ctx), request, say=_say).report
    if as_json:
        _echo_json(result)
        return
    click.echo(
        f"text pipeline fitted on {result['texts']:,} comments ({', '.join(result['languages'])}); "
        f"sentiment from {result['label_source']}; {result['themes']} themes, coverage {result['coverage']:.1%}"
    )
    for line in text_grade_lines(result):
        click.echo(line)
    if result.get("version"):
        click.echo(text_registration_line(result))


@train.command("uplift")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap fits.")
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Register as a cxml-uplift version (the worklist uses it when it is good enough).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def train_uplift(ctx: click.Context, seed: int, register: bool, as_json: bool) -> None:
    """Learn who is moved by a call from the randomised pulls whose horizon has passed
    (contact vs control), grade it on the newest pulls by the Qini coefficient beside random
    order and the risk ranking, and log it to MLflow (cxml-uplift).

    Needs CXML_UPLIFT_MIN_PER_ARM outcomes in each arm (default 200). The worklist is ranked
    by expected revenue saved = uplift × value only when the model beats the risk ranking."""
    from cxml.jobs.train_uplift import TrainUpliftRequest, run_train_uplift

    result = run_train_uplift(
        _settings(ctx),
        lambda: _store(ctx),
        TrainUpliftRequest(register=register, seed=seed),
        now=_now(),
        say=_say,
    ).report
    if as_json:
        _echo_json(result)
        return
    click.echo(result["message"])
    if result.get("version"):
        click.echo(f"registered as cxml-uplift version {result['version']} (champion)")


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
@_engine_options
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
    engine: str = "local",
    master: str = "local[*]",
    spark_conf: tuple[str, ...] = (),
    parquet_dir: Path | None = None,
) -> None:
    """Train a churn model (graded against baselines), log it and register a cxml-churn version."""
    from cxml.jobs.train_churn import TrainChurnRequest, run_train_churn
    from cxml.lines import grade_lines

    request = TrainChurnRequest(
        customers_path=customers_path,
        label_column=label_column,
        positive=positive,
        maps=maps,
        as_of=None if customers_path else _parse_as_of(as_of, "--as-of"),
        horizon_days=horizon_days,
        n_snapshots=n_snapshots,
        without_text=without_text,
        definition=definition,
        inactive_days=inactive_days,
        engine=_engine(engine, master, spark_conf, parquet_dir),
        actor=_actor(),
    )
    result = run_train_churn(_settings(ctx), lambda: _store(ctx), request, now=_now(), say=_say)
    if as_json:
        _echo_json(result.report)
        return
    for warning in result.leak_warnings:
        click.echo(f"warning: possible leak: {warning}", err=True)
    for line in grade_lines(result.report):
        click.echo(line)


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
@click.option(
    "--version",
    "model_version",
    help="Score with this cxml-churn version (default: the champion of the right mode).",
)
@_lang_option
@_engine_options
@click.pass_context
def score(
    ctx: click.Context,
    as_of: str | None,
    customers_path: Path | None,
    maps: tuple[str, ...],
    out_path: Path | None,
    top: int,
    model_version: str | None = None,
    engine: str = "local",
    master: str = "local[*]",
    spark_conf: tuple[str, ...] = (),
    parquet_dir: Path | None = None,
    language: Language = "en",
) -> None:
    """Score churn risk with the champion: probability, band, revenue at risk, reasons."""
    from cxml.jobs.score import ScoreRequest, run_score
    from cxml.lines import at_risk_lines, newer_version_line

    request = ScoreRequest(
        as_of=None if customers_path else _parse_as_of(as_of, "--as-of"),
        customers_path=customers_path,
        maps=maps,
        out_path=out_path,
        top=top,
        model_version=model_version,
        engine=_engine(engine, master, spark_conf, parquet_dir),
        language=language,
    )
    result = run_score(_settings(ctx), lambda: _store(ctx), request, now=_now(), say=_say)
    click.echo(
        f"{result.count:,} customers scored with cxml-churn version {result.version} "
        f"(reasons: {result.attribution})"
        + (f"; written to {out_path}" if out_path is not None else "")
    )
    for line in at_risk_lines(result.top, language):
        click.echo(line)
    if result.newer:  # a newer version of this mode waits, unpromoted
        click.echo(newer_version_line(result.newer, result.version), err=True)
    if result.unanalysed:  # their words are not in these scores
        click.echo(
            f"note: {result.unanalysed:,} comment(s) in the store have not been analysed, so "
            "their sentiment, themes and churn intent are not in these scores: run `cxml "
            "analyze --store`, then score again",
            err=True,
        )


@cli.command()
@click.option(
    "--model",
    "model",
    type=click.Choice(["churn", "text"]),
    default="churn",
    show_default=True,
    help="Which model's champion to move.",
)
@click.option("--version", help="The version to promote (default: the newest).")
@click.option(
    "--force",
    is_flag=True,
    help="Promote without comparing (when the data can no longer grade "
    "the champion: say, an attribute it used is gone).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def promote(
    ctx: click.Context, model: str, version: str | None, force: bool, as_json: bool
) -> None:
    """Make a version champion, only if it is good enough against the champion on one yardstick.

    churn: it must beat the champion's ROC-AUC by the margin on the challenger's own backtest
    (the champion graded on the challenger's validation snapshot). text: it must be at least as
    good (within the tolerance) on the challenger's held-out newest comments in sentiment
    macro-F1, theme coverage and theme coherence; what it does to the themes (the lineage) is
    shown first."""
    from cxml.jobs.promote import ModelKind, run_promote

    decision = run_promote(
        _settings(ctx),
        _store(ctx),
        ModelKind(model),
        version,
        force=force,
        actor=_actor(),
        clock=_now,
    )
    if as_json:
        _echo_json(decision.to_dict())
    else:
        for line in (*decision.lineage, *decision.comparison):
            click.echo(line)
        click.echo(("promoted: " if decision.promoted else "refused: ") + decision.reason)
    if not decision.promoted and "already" not in decision.reason:
        raise SystemExit(PROMOTION_REFUSED)


@cli.command()
@click.option(
    "--taxonomy", "taxonomy_path", type=click.Path(path_type=Path), help="Theme taxonomy YAML."
)
@click.option("--snapshots", "n_snapshots", default=4, show_default=True)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Train as of this date instead of today (a backfill, or a store whose data ends earlier).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def retrain(
    ctx: click.Context,
    taxonomy_path: Path | None,
    n_snapshots: int,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    """Retrain the text and churn models as of today and promote the winners (for a scheduler).

    Exit code 0 when the new churn model became champion, 6 when the champion was kept (the
    new model did not beat it on its own backtest), others as for every command."""
    from cxml.jobs.retrain import run_retrain

    result = run_retrain(
        _settings(ctx),
        _store(ctx),
        now=as_of or _now(),
        taxonomy_path=taxonomy_path,
        n_snapshots=n_snapshots,
        actor=_actor(),
        clock=_now,
        say=_say,
    )
    if as_json:
        _echo_json(result.to_dict())
    else:
        click.echo(
            f"{'model':<11} {'trained':>7} {'champion before':>15} {'champion now':>12}  decision"
        )
        for row in result.models:
            click.echo(
                f"{row['model']:<11} {row['trained'] or '-':>7} {row['champion_before'] or '-':>15} "
                f"{row['champion_now'] or '-':>12}  {row['decision']}"
            )
    if not result.churn_promoted:
        raise SystemExit(PROMOTION_REFUSED)


@cli.command()
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    help="A file to analyse (CSV, Parquet or JSON Lines); without --out: CSV on stdout, one "
    "row per input row (its id, language, sentiment, sentiment_score, themes, intents, "
    "key_phrases, redacted_text).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path),
    help="With --input: write JSON Lines here instead, every field with its evidence spans.",
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
@_engine_options
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
    engine: str = "local",
    master: str = "local[*]",
    spark_conf: tuple[str, ...] = (),
    parquet_dir: Path | None = None,
) -> None:
    """Analyse every row's text: language, sentiment, themes, key phrases, intents, redacted text.

    \b
    cxml analyze --input feedback.csv                      # CSV on stdout
    cxml analyze --input feedback.csv --out analysed.jsonl
    cxml analyze --store
    """
    from cxml.jobs.analyze import AnalyzeRequest, run_analyze

    request = AnalyzeRequest(
        input_path,
        out_path,
        into_store,
        everything,
        text_column,
        id_column,
        language_column,
        _engine(engine, master, spark_conf, parquet_dir),
    )
    to_stdout = input_path is not None and out_path is None and not into_store
    rows = _csv_rows() if to_stdout else None
    done = run_analyze(
        _settings(ctx), lambda: _store(ctx), request, now=_now(), say=_say, rows=rows
    )
    if done.on == "file":
        coverage = f"(theme coverage {done.coverage or 0.0:.1%})"
        if to_stdout:  # stdout is the rows: the summary goes with the progress, to stderr
            _say(f"{done.count:,} rows analysed with {done.model} {coverage}")
        else:
            click.echo(f"{done.count:,} rows analysed with {done.model} into {out_path} {coverage}")
        return
    where = " and stored" if done.stored else f" and written to {out_path}"
    on = " on Spark" if done.on == "spark" else ""
    click.echo(f"{done.count:,} comments analysed with model {done.model}{on}{where}")


def _csv_rows() -> Any:
    """Prints a file's analysed rows as CSV on stdout, the header before the first batch;
    text cells spreadsheet-safe (shown, never run)."""
    import csv
    import io

    from cxml.io import spreadsheet_safe_row
    from cxml.lines import ANALYSIS_COLUMNS, analysis_cells

    started = False

    def rows(records: list[dict[str, Any]], id_column: str | None) -> None:
        nonlocal started
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not started:
            writer.writerow(
                spreadsheet_safe_row([*([id_column] if id_column else []), *ANALYSIS_COLUMNS])
            )
            started = True
        writer.writerows(spreadsheet_safe_row(analysis_cells(r, id_column)) for r in records)
        click.echo(buffer.getvalue(), nl=False)

    return rows


# --- metrics ---------------------------------------------------------------------------


#: Under a table with undefined cells, what their '-' means.
UNDEFINED = "-: not defined for that row (too few answers or customers to compute it)"


def _print_report(report: Report, as_json: bool, csv_path: Path | None) -> None:
    """A report's rows as a table, JSON rows or a CSV file; a report without rows that says
    why (a churn figure without churn data, a survey metric nobody answered) says that
    instead. Undefined numbers are '-' in the table (explained under it), null in JSON."""
    from cxml.io import write_frame

    frame = report.rows
    if frame.empty and report.message is not None:
        if as_json:
            _echo_json({**report.answer_fields(), "message": report.message, "rows": []})
        else:
            click.echo(report.message)
    elif csv_path is not None:
        write_frame(frame, csv_path)
        click.echo(f"{len(frame):,} rows written to {csv_path}")
    elif as_json:
        _echo_json(report.records)
    elif frame.empty:
        click.echo("(no rows)")
    else:
        click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:,.1f}", na_rep="-"))
        if frame.isna().any(axis=None):
            click.echo(UNDEFINED)


@cli.command()
@click.argument("metric", type=click.Choice(METRICS))
@click.option(
    "--by",
    "by",
    multiple=True,
    help="Group by: channel, language, theme, or a customer attribute (repeatable).",
)
@click.option("--period", type=click.Choice(PERIODS), help="Group by period.")
@click.option("--from", "start", help="First day included (ISO date).")
@click.option("--to", "end", help="First day excluded (ISO date).")
@click.option("--level", type=click.Choice(LEVELS), default="response", show_default=True)
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
    from cxml.jobs.reads import MetricRequest, run_metric

    request = MetricRequest(
        metric,
        by=by,
        period=period,
        start=_parse_date(start, "--from"),
        end=_parse_date(end, "--to"),
        level=level,
    )
    _print_report(run_metric(_store(ctx), request), as_json, csv_path)


@cli.command()
@click.option("--target", type=click.Choice(DRIVER_TARGETS), default="nps", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path))
@click.pass_context
def drivers(ctx: click.Context, target: str, as_json: bool, csv_path: Path | None) -> None:
    """Themes ranked by their impact on NPS or churn (not by volume)."""
    from cxml.jobs.reads import DriverRequest, run_drivers

    report = run_drivers(_store(ctx), DriverRequest(target), as_of=_now())
    _print_report(report, as_json, csv_path)


@cli.command()
@click.option("--period", type=click.Choice(ALERT_PERIODS), default="month", show_default=True)
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
    from cxml.jobs.reads import AlertRequest, run_alerts

    request = AlertRequest(
        period,
        segment=segment,
        baseline_periods=baseline_periods,
        min_count=min_count,
        show_all=show_all,
    )
    _print_report(run_alerts(_store(ctx), request), as_json, None)


# --- service --------------------------------------------------------------------------


@cli.command()
@click.option(
    "--reference",
    help="The period to compare against: 2025, 2025-Q1, 2025-03, 2025-03-15 or "
    "2025-01-01..2025-03-31 (default: the three months before the current period).",
)
@click.option(
    "--current", help="The period to check (default: the last complete month); same forms."
)
@click.option(
    "--keep/--no-keep",
    default=True,
    show_default=True,
    help="Log the report to MLflow (experiment cxml-drift) and keep it for GET /v1/drift.",
)
@click.option(
    "--fail-on-alert",
    is_flag=True,
    help=f"Exit with code {DRIFT_ALERT} when any check raises an alert (for schedulers).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def drift(
    ctx: click.Context,
    reference: str | None,
    current: str | None,
    keep: bool,
    fail_on_alert: bool,
    as_json: bool,
) -> None:
    """Has anything moved between two periods? Theme, sentiment, language and channel mix
    (PSI and chi-square), each churn feature (PSI; bands 0.1 and 0.25), and the churn model's
    realised ROC-AUC and calibration on the latest snapshot whose outcomes are known, against
    its backtest."""
    from cxml.jobs.drift import DriftRequest, run_drift
    from cxml.lines import drift_lines

    now = _now()
    drift = run_drift(
        _settings(ctx),
        _store(ctx),
        DriftRequest(reference, current, keep=keep),
        today=pd.Timestamp(now).normalize(),
        made_at=now,
        say=_say,
    )
    report = drift.report
    if as_json:
        _echo_json(report)
    else:
        for line in drift_lines(report):
            click.echo(line)
        if keep:
            click.echo(
                f"logged as MLflow run {report['run_id']}; kept as report {report['report_id']}"
            )
    if fail_on_alert and drift.alerts:
        raise SystemExit(DRIFT_ALERT)


@cli.group()
def followups() -> None:
    """Follow-ups with at-risk customers: did they work?"""


@followups.command("impact")
@click.option(
    "--by",
    "splits",
    multiple=True,
    type=click.Choice(["owner", "channel", "theme", "band"]),
    help="Also the effect per owner, contact channel, theme raised, or band (repeatable).",
)
@click.option(
    "--horizon",
    "horizon_days",
    type=int,
    help="Days after a score run in which churn counts (default: the churn champion's horizon, "
    "else 90).",
)
@click.option(
    "--window",
    "contact_window_days",
    default=14,
    show_default=True,
    help="Days after a score run in which a follow-up counts as contact from it.",
)
@click.option(
    "--segment",
    help="Also split the randomised read by this customer attribute (e.g. plan).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def followups_impact(
    ctx: click.Context,
    splits: tuple[str, ...],
    horizon_days: int | None,
    contact_window_days: int,
    segment: str | None,
    as_json: bool,
) -> None:
    """What contact did: first the randomised comparison of the worklist pulls (contact vs
    control, 95 % intervals; before the horizon, the date to read), then the observational
    comparison of follow-ups with comparable uncontacted customers, labelled as such."""
    from cxml.jobs.followups import run_contact_impact
    from cxml.lines import contact_impact_lines

    report = run_contact_impact(
        _settings(ctx),
        _store(ctx),
        now=_now(),
        horizon_days=horizon_days,
        contact_window_days=contact_window_days,
        by=splits,
        segment=segment,
    )
    if as_json:
        _echo_json(report)
        return
    for line in contact_impact_lines(report):
        click.echo(line)


@followups.command("overdue")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def followups_overdue(ctx: click.Context, as_json: bool) -> None:
    """Open follow-ups past their due date (from the customer's band), most overdue first."""
    from cxml.jobs.escalation import overdue

    rows = overdue(_store(ctx), now=_now())
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no follow-up is overdue")
    for row in rows:
        click.echo(
            f"{row['customer_id']:<20} {row['owner'] or '(no owner)':<20} due "
            f"{row['due_at']:%Y-%m-%d}, {row['days_overdue']} days overdue"
        )


@followups.command("escalate")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def followups_escalate(ctx: click.Context, as_json: bool) -> None:
    """Hand open follow-ups long past due (CXML_ESCALATE_AFTER_DAYS) to the escalation owner
    (CXML_ESCALATION_OWNER); each hand-over is kept in the follow-up's history."""
    from cxml.jobs.escalation import escalate

    rows = escalate(_store(ctx), _settings(ctx), now=_now(), actor=_actor())
    if as_json:
        _echo_json(rows)
        return
    click.echo(f"escalated {len(rows)} overdue follow-up(s)")
    for row in rows:
        click.echo(
            f"  {row['customer_id']}: {row['previous_owner'] or '(no owner)'} -> {row['owner']}"
        )


@cli.group()
def worklist() -> None:
    """Pull the worklist for action with a randomised holdout; read what contact did."""


@worklist.command("pull")
@click.option("--capacity", type=int, required=True, help="How many the team will contact.")
@click.option(
    "--holdout",
    "holdout_share",
    type=float,
    help="Share held out at random per band as controls (default CXML_HOLDOUT_SHARE, 0.10).",
)
@click.option("--seed", type=int, help="Seed of the random assignment (default: a new one).")
@click.option("--json", "as_json", is_flag=True)
@_lang_option
@click.pass_context
def worklist_pull(
    ctx: click.Context,
    capacity: int,
    holdout_share: float | None,
    seed: int | None,
    as_json: bool,
    language: Language,
) -> None:
    """Pull the top customers to contact now; a random share per band is held out as controls
    (do not contact them) so the pull can later show what contact did."""
    from cxml.jobs.pulls import pull
    from cxml.jobs.serving import churn_horizon, reasons_in

    settings = _settings(ctx)
    result = pull(
        _store(ctx),
        settings,
        today=_now(),
        capacity=capacity,
        actor=_actor(),
        horizon_days=churn_horizon(settings),
        holdout_share=holdout_share,
        seed=seed,
    )
    if as_json:
        _echo_json({**result, "items": reasons_in(settings, result["items"], language)})
        return
    if result["pull_id"] is None:
        click.echo(result["message"])
        return
    click.echo(
        f"pull {result['pull_id']}: {result['contact']} to contact, {result['control']} held out "
        f"(seed {result['seed']}); read it after {result['read_after']:%Y-%m-%d}"
    )
    for item in result["items"]:
        arm = "CONTROL — do not contact" if item["arm"] == "control" else "contact"
        click.echo(f"  {item['customer_id']:<20} {item['band']:<7} {arm}")


@worklist.command("pulls")
@click.option("--pull", "pull_id", type=int, help="Only this pull.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def worklist_pulls(ctx: click.Context, pull_id: int | None, as_json: bool) -> None:
    """Each pull and, once its horizon has passed, retention of contact vs control."""
    from cxml.jobs.pulls import read_pulls

    result = read_pulls(_store(ctx), today=_now(), pull_id=pull_id)
    if as_json:
        _echo_json(result)
        return
    if result["message"]:
        click.echo(result["message"])
    for read in result["pulls"]:
        click.echo(f"pull {read['pull_id']} ({read['pulled_at']:%Y-%m-%d}): {read['message']}")
    if result["overall"]:
        click.echo(f"all pulls read: {result['overall']['message']}")


@cli.group()
def webhooks() -> None:
    """Tell other systems (CRM, ticketing) what happened: signed, at-least-once webhooks."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    help="An event to send (repeatable): customer.high_risk, follow_up.overdue, "
    "model.promoted, drift.alert, theme.emerging, pull.readable.",
)
@click.option("--include-text", is_flag=True, help="Add feedback words to payloads that have them.")
@click.pass_context
def webhooks_add(ctx: click.Context, url: str, events: tuple[str, ...], include_text: bool) -> None:
    """Register URL for events; prints its signing secret, the only time it is shown."""
    from cxml.webhooks import register

    settings = _settings(ctx)
    made = register(
        _store(ctx),
        url,
        list(events),
        actor=_actor(),
        now=_now(),
        include_text=include_text,
        allow_private=settings.webhook_allow_private,
    )
    click.echo(f"endpoint {made['endpoint_id']} for {', '.join(made['events'])}")
    click.echo(f"signing secret (shown once): {made['secret']}")


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def webhooks_list(ctx: click.Context, as_json: bool) -> None:
    """Registered endpoints."""
    from cxml.webhooks import endpoints

    rows = endpoints(_store(ctx))
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        state = "disabled" if row["disabled_at"] else "active"
        click.echo(f"{row['endpoint_id']}  {state:<8} {row['url']}  {', '.join(row['events'])}")


@webhooks.command("deliveries")
@click.argument("endpoint_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def webhooks_deliveries(ctx: click.Context, endpoint_id: str, as_json: bool) -> None:
    """An endpoint's deliveries, newest first."""
    from cxml.webhooks import deliveries

    rows = deliveries(_store(ctx), endpoint_id)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['delivery_id']:>6} {row['event_type']:<20} {row['status']:<9} "
            f"attempts {row['attempts']}, last answer {row['last_status'] or row['last_error'] or '-'}"
        )


@cli.group()
def keys() -> None:
    """API keys for the HTTP service: create, list, revoke."""


@keys.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="Repeatable; admin implies every scope but pii (reading customers' raw words).",
)
@click.option("--name", help="Who or what uses the key (shown in `cxml keys list`).")
@click.pass_context
def keys_create(ctx: click.Context, scopes: tuple[str, ...], name: str | None) -> None:
    """Create a key; it is printed once, alone on the last line, and stored only as a hash."""
    from cxml.keys import create_key

    key = create_key(_store(ctx), scopes, now=_now(), name=name, actor=_actor())
    click.echo(
        f"scopes: {', '.join(sorted(set(scopes)))}; keep the key now, it is not shown again:"
    )
    click.echo(key)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """Every key's id, name, scopes, creation and revocation (never the key itself)."""
    from cxml.store.keys import list_api_keys

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

    click.echo(f"revoked {revoke_key(_store(ctx), key_or_id, now=_now(), actor=_actor())}")


@cli.command()
@click.option("--action", help="Only this action (key.created, key.revoked, model.promoted …).")
@click.option(
    "--kind",
    type=click.Choice(["read", "admin"]),
    help="read: reads and exports of personal data (a customer's story, lists, subject "
    "exports, erasures); admin: everything else.",
)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit(
    ctx: click.Context, action: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """Who did what, when, newest first: keys, models, and reads of personal data."""
    from cxml.store.audit import audit_rows

    rows = audit_rows(_store(ctx), limit=limit, action=action, kind=kind)
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['at']:%Y-%m-%d %H:%M:%S}  {row['actor']:<20} {row['action']:<16} "
            f"{row['target'] or ''}  {json.dumps(row['detail'], ensure_ascii=False)}"
        )


@cli.command()
@click.option("--customer", "customer_id", required=True, help="The customer's id.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--allow-back",
    is_flag=True,
    help="Instead: let an erased customer who comes back on purpose be loaded again.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def erase(ctx: click.Context, customer_id: str, yes: bool, allow_back: bool, as_json: bool) -> None:
    """Erase a customer everywhere (GDPR Art. 17, APPI): every row about them, unrecoverably;
    they stay erased (an old file cannot bring them back). Idempotent."""
    from cxml.jobs.privacy import erase as erase_job
    from cxml.jobs.privacy import take_back

    if allow_back:
        taken = take_back(_store(ctx), _settings(ctx), customer_id, actor=_actor(), now=_now())
        click.echo(
            f"{customer_id} may be loaded again" if taken else f"{customer_id} was not erased"
        )
        return
    if not yes and not as_json:
        click.confirm(f"erase customer {customer_id} and everything about them?", abort=True)
    result = erase_job(_store(ctx), _settings(ctx), customer_id, actor=_actor(), now=_now())
    if as_json:
        _echo_json(result.as_dict())
        return
    if result.nothing_held:
        click.echo(f"nothing held about {customer_id} (erased before, or never stored)")
        return
    click.echo(f"erased {customer_id}: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    if result.model_versions:
        click.echo("models that read their data: " + ", ".join(result.model_versions))
    click.echo(result.unreachable)


@cli.command("export-subject")
@click.option("--customer", "customer_id", required=True, help="The customer's id.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="FILE.json: one document; FILE.zip: the same as CSV files, one per part.",
)
@click.pass_context
def export_subject(ctx: click.Context, customer_id: str, out: Path) -> None:
    """Everything held about one customer (GDPR Art. 15, APPI 開示), for a person to read."""
    from cxml.export import write_subject
    from cxml.jobs.privacy import export_subject as export_job

    record = export_job(_store(ctx), customer_id, actor=_actor(), now=_now())
    write_subject(record, out)
    click.echo(f"wrote everything held about {customer_id} to {out}")


@cli.group()
def retention() -> None:
    """Keep raw text only as long as allowed (setting CXML_TEXT_RETENTION_DAYS)."""


@retention.command("apply")
@click.option(
    "--days",
    "days",
    multiple=True,
    metavar="CHANNEL=DAYS",
    help="Override the setting for a channel (repeatable), e.g. --days chat=365.",
)
@click.option("--empty", is_flag=True, help="Remove expired text instead of keeping it redacted.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def retention_apply(ctx: click.Context, days: tuple[str, ...], empty: bool, as_json: bool) -> None:
    """Replace raw text older than its channel's retention by its redacted form; analyses,
    themes, scores and metrics stay as they are."""
    from cxml.jobs.privacy import apply_retention

    policy = None
    if days:
        policy = {}
        for item in days:
            channel, _, value = item.partition("=")
            if not channel or not value.isdigit():
                raise ConfigError(
                    f"--days {item!r}: expected CHANNEL=DAYS, e.g. chat=365", field="--days"
                )
            policy[channel] = int(value)
    result = apply_retention(_store(ctx), _settings(ctx), now=_now(), policy=policy, empty=empty)
    if as_json:
        _echo_json({"expired": result.expired, "policy": result.policy})
        return
    if not result.policy:
        click.echo("no retention set: every channel keeps its text (CXML_TEXT_RETENTION_DAYS)")
        return
    for channel, n in result.expired.items():
        click.echo(f"{channel}: {n:,} comments older than {result.policy[channel]} days expired")


@cli.command("export-models")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder to write into (default: CXML_MODEL_DIR, exported-models/).",
)
@click.pass_context
def export_models(ctx: click.Context, out: Path | None) -> None:
    """Write the champions (churn.joblib, text.joblib) for a server without an MLflow registry."""
    from cxml.jobs.serving import export_models as run_export

    out = out or _settings(ctx).model_dir
    exported = run_export(_settings(ctx), out)
    for model in exported.models:
        click.echo(f"{model.kind}: version {model.version} → {out / (model.kind + '.joblib')}")


@cli.command("export")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--format", "file_format", type=click.Choice(["parquet"]), default="parquet", show_default=True
)
@click.option(
    "--pii",
    is_flag=True,
    help="Write the raw words (e-mail addresses, phone and card numbers are redacted otherwise).",
)
@click.pass_context
def export(ctx: click.Context, directory: Path, file_format: str, pii: bool) -> None:
    """Write the store as Parquet files under the contract's names (for Spark and notebooks)."""
    from cxml.export import export_parquet

    written = export_parquet(_store(ctx), directory, pii=pii)
    for table, rows in written.items():
        click.echo(f"{table}: {rows:,} rows → {directory / (table + '.parquet')}")


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
    from serve.telemetry import log_config

    uvicorn.run(
        "serve.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config(),
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
    from cxml.jobs.demo import run_demo

    settings = _settings(ctx)
    store = _store(ctx)
    run = run_demo(
        settings, store, n_customers=n_customers, out=out, seed=seed, now=_now(), say=click.echo
    )
    click.echo("\nnext:")
    width = max(len(command) for command, _ in run.next_commands)
    for command, what in run.next_commands:
        click.echo(f"  {command:<{width}}  {what}")
    click.echo(f"  planted truth for tests and evaluation: {run.paths['feedback_truth']}")
    if not start_server:
        return
    from cxml.keys import create_key

    key = create_key(store, ["read", "score", "act"], now=_now(), name="demo")
    base = f"http://127.0.0.1:{port}"
    click.echo(
        f"\n11. the HTTP API at {base} (OpenAPI at {base}/docs; the retention team's page at {base}/)"
    )
    click.echo(
        "    a key with scopes read, score and act was created for you; the ten most at risk:"
    )
    click.echo(f"    curl -s -H 'X-API-Key: {key}' '{base}/v1/at-risk?limit=10'")
    click.echo("    (Ctrl-C stops the server)", nl=True)
    _run_server(settings, "127.0.0.1", port, 1, "warning")


def _warnings_to_log() -> None:
    """Libraries' warnings go to a log file (``CXML_LOG_FILE``, default ``cxml.log`` in the
    temporary directory), not to the user's terminal: they are for whoever maintains cxml."""
    import logging
    import tempfile

    logging.captureWarnings(True)
    logger = logging.getLogger("py.warnings")
    logger.propagate = False
    if not logger.handlers:
        path = os.environ.get("CXML_LOG_FILE") or str(Path(tempfile.gettempdir()) / "cxml.log")
        handler = logging.FileHandler(path, delay=True, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from sqlalchemy.exc import OperationalError

    _warnings_to_log()

    try:
        cli.main(args=argv, prog_name="cxml", standalone_mode=False)
    except CxmlError as exc:
        click.echo(f"error [{exc.code}]: {exc}", err=True)
        return exc.exit_code
    except OperationalError as exc:  # the database stopped answering, or its disk is full
        from cxml.errors import StoreError

        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        click.echo(
            f"error [{StoreError.code}]: the store failed: {reason} (the transaction in progress "
            "was rolled back; what earlier transactions wrote stays, and running the command "
            "again continues from there)",
            err=True,
        )
        return StoreError.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exception as exc:  # a bug: one line for the user, the traceback in a file to report
        return _internal_error(exc)
    return 0


def _internal_error(exc: Exception) -> int:
    """Write the traceback to a log file and say where, in one line (exit code 1)."""
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile(
        "w", prefix="cxml-error-", suffix=".log", delete=False, encoding="utf-8"
    ) as log:
        log.write(f"cxml {__version__}, {' '.join(sys.argv)}\n")
        log.write("".join(traceback.format_exception(exc)))
    click.echo(
        f"error [CX100]: internal error ({type(exc).__name__}: {str(exc)[:200]}); the details are "
        f"in {log.name} — please include that file when you report it",
        err=True,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
