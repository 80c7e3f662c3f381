from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from cxml.demo import World, scaled_feedback, write_corrupted_feedback
from cxml.errors import ConfigError, InputFileError
from cxml.ingest import IngestReport, ingest_file
from cxml.settings import Settings
from cxml.store import Store, records
from tests.conftest import NOW, SHARED_DATA


def ingest(
    store: Store, settings: Settings, kind: str, path: Path | str, **kwargs: object
) -> IngestReport:
    return ingest_file(store, kind, path, settings=settings, now=NOW, **kwargs)  # type: ignore[arg-type]


def counts_add_up(report: IngestReport) -> bool:
    return report.read == report.accepted + report.updated + report.unchanged + report.rejected


def test_reingest_changes_nothing(
    store: Store, settings: Settings, world_files: dict[str, str]
) -> None:
    first = [ingest(store, settings, kind, world_files[kind]) for kind in ("customers", "feedback")]
    stats_before = records.stats(store)
    feedback_before = store.table_frame("feedback")
    second = [
        ingest(store, settings, kind, world_files[kind]) for kind in ("customers", "feedback")
    ]
    assert [r.accepted for r in first] == [r.read for r in first]
    assert [(r.accepted, r.updated, r.rejected) for r in second] == [(0, 0, 0), (0, 0, 0)]
    assert [r.unchanged for r in second] == [r.read for r in second]
    assert records.stats(store) == stats_before
    pd.testing.assert_frame_equal(store.table_frame("feedback"), feedback_before)


def test_changed_feedback_updates_in_place_and_is_counted(
    store: Store, settings: Settings, world: World, world_files: dict[str, str], tmp_path: Path
) -> None:
    ingest(store, settings, "customers", world_files["customers"])
    ingest(store, settings, "feedback", world_files["feedback"])
    changed = world.feedback.copy()
    changed.loc[0, "text"] = "Changed my mind: the service is great."
    changed.loc[1, "csat"] = 1 if changed.loc[1, "csat"] is pd.NA else None
    path = tmp_path / "changed.csv"
    changed.to_csv(path, index=False)
    report = ingest(store, settings, "feedback", path)
    assert (report.accepted, report.updated, report.rejected) == (0, 2, 0)
    assert report.unchanged == len(changed) - 2
    assert counts_add_up(report)
    stored = store.table_frame("feedback").set_index("feedback_id")
    assert (
        stored.loc[changed.loc[0, "feedback_id"], "text"]
        == "Changed my mind: the service is great."
    )
    assert len(stored) == len(changed)


def test_feedback_for_an_unknown_customer_is_held_then_released(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    feedback = tmp_path / "feedback.csv"
    feedback.write_text(
        "feedback_id,customer_id,created_at,channel,text,nps\n"
        "f1,c1,2025-01-01,email,Too expensive,3\n"
        "f2,c2,2025-01-02,chat,Lovely staff,10\n",
        encoding="utf-8",
    )
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,signup_date\nc1,2024-01-01\n", encoding="utf-8")
    ingest(store, settings, "customers", customers)
    report = ingest(store, settings, "feedback", feedback)
    assert (report.accepted, report.rejected, report.held) == (1, 1, 1)
    held = records.rejects_frame(store, "feedback")
    assert held["reason"].tolist() == [
        "customer_id=c2 is not in the store; held until that customer is ingested"
    ]
    assert bool(held["held"].iloc[0]) and held["row"].tolist() == [2]

    more = tmp_path / "more_customers.csv"
    more.write_text("customer_id,signup_date\nc2,2024-02-01\n", encoding="utf-8")
    released = ingest(store, settings, "customers", more)
    assert released.released == 1
    assert records.rejects_frame(store, "feedback").empty
    timeline = records.timeline(store, "c2")
    assert timeline["text"].tolist() == ["Lovely staff"]
    assert int(timeline["nps"].iloc[0]) == 10


def test_a_crash_mid_file_leaves_the_store_consistent_and_a_rerun_completes_it(
    store: Store, settings: Settings, world: World, world_files: dict[str, str]
) -> None:
    settings = settings.model_copy(update={"ingest_batch_rows": 300})
    ingest(store, settings, "customers", world_files["customers"])
    crash_after = 2
    assert len(world.feedback) > 3 * settings.ingest_batch_rows

    def crash(report: IngestReport) -> None:
        if report.read >= crash_after * settings.ingest_batch_rows:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest(store, settings, "feedback", world_files["feedback"], on_batch=crash)
    assert records.stats(store)["feedback"] == crash_after * settings.ingest_batch_rows
    runs = records.runs_frame(store)
    assert runs["status"].iloc[0] == "failed"

    rerun = ingest(store, settings, "feedback", world_files["feedback"])
    assert rerun.unchanged == crash_after * settings.ingest_batch_rows
    assert rerun.accepted == len(world.feedback) - rerun.unchanged
    assert records.stats(store)["feedback"] == len(world.feedback)


def test_a_file_missing_a_required_column_fails_fast_and_writes_nothing(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "feedback.csv"
    path.write_text("id,customer,when\n1,c1,2025-01-01\n", encoding="utf-8")
    with pytest.raises(
        InputFileError, match=r"required column.*feedback_id, customer_id, created_at"
    ):
        ingest(store, settings, "feedback", path)
    assert records.runs_frame(store).empty
    assert records.stats(store)["feedback"] == 0


def test_a_mapping_to_a_missing_column_is_a_config_error(
    store: Store, settings: Settings, world_files: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match="not in the file"):
        ingest(store, settings, "feedback", world_files["feedback"], mapping={"nope": "text"})


def test_customer_rows_merge_attributes_and_keep_unmentioned_fields(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        "customer_id,signup_date,monthly_value,plan\nc1,2024-01-01,30,basic\n", encoding="utf-8"
    )
    second = tmp_path / "b.csv"
    second.write_text("customer_id,region\nc1,north\n", encoding="utf-8")
    ingest(store, settings, "customers", first)
    report = ingest(store, settings, "customers", second)
    assert (report.updated, report.accepted) == (1, 0)
    customer = records.customer(store, "c1")
    assert customer["attributes"] == {"plan": "basic", "region": "north"}
    assert customer["monthly_value"] == 30.0
    assert str(customer["signup_date"]) == "2024-01-01"
    again = ingest(store, settings, "customers", second)
    assert again.unchanged == 1


def test_a_new_customer_without_signup_date_is_rejected_with_the_way_out(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,plan\nc9,gold\n", encoding="utf-8")
    report = ingest(store, settings, "customers", path)
    assert report.rejected == 1
    assert "signup_date is required" in records.rejects_frame(store, "customers")["reason"].iloc[0]


def test_a_tenure_of_a_million_months_is_one_reject_not_an_aborted_file(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "customer_id,tenure_months,monthly_value\nok,12,30\nold,1e6,30\nrich,3,1e308\n",
        encoding="utf-8",
    )
    report = ingest(store, settings, "customers", path)
    assert (report.accepted, report.rejected) == (1, 2)
    refused = records.rejects_frame(store, "customers")
    assert sorted(refused["row"]) == [2, 3]
    assert set(refused["field"]) == {"tenure_months", "monthly_value"}


@pytest.mark.slow
def test_a_corrupted_file_keeps_every_good_row_and_names_every_bad_one(
    store: Store, settings: Settings, world: World, world_files: dict[str, str], tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"ingest_batch_rows": 20_000})
    ingest(store, settings, "customers", world_files["customers"])
    frame = scaled_feedback(world, 100_000)
    path = tmp_path / "corrupted.csv"
    expected, good = write_corrupted_feedback(frame, path, fraction=0.2)
    rejects_path = tmp_path / "rejects.csv"
    report = ingest(store, settings, "feedback", path, rejects_path=rejects_path)

    assert counts_add_up(report)
    assert report.read == 100_000
    assert report.rejected == len(expected) == 20_000
    assert report.accepted == len(good)
    assert report.held == int((expected["corruption"] == "unknown_customer").sum())

    rejected = records.rejects_frame(store, "feedback").set_index("row")
    assert sorted(rejected.index) == sorted(expected["row"])
    got = rejected[["field", "reason"]].rename(columns={"field": "field_got"})
    joined = expected.set_index("row").join(got)
    assert (joined["field"] == joined["field_got"]).all(), joined[
        joined["field"] != joined["field_got"]
    ].head()
    assert joined["reason"].str.len().min() > 10

    stored = store.table_frame("feedback").set_index("feedback_id")
    assert len(stored) == len(good)
    tricky = good[good["text"].str.contains('"no, never"', regex=False)]
    assert len(tricky) > 0
    assert (stored.loc[tricky["feedback_id"], "text"].to_numpy() == tricky["text"].to_numpy()).all()

    in_file = pd.read_csv(rejects_path, dtype=str, keep_default_na=False, encoding_errors="replace")
    assert len(in_file) == 20_000
    assert set(in_file.columns[:4]) == {"row", "field", "value", "reason"}


@pytest.mark.parametrize("file_format", ["parquet", "jsonl"])
def test_parquet_and_jsonl_ingest_like_csv(
    store: Store,
    settings: Settings,
    world: World,
    world_files: dict[str, str],
    tmp_path: Path,
    file_format: str,
) -> None:
    ingest(store, settings, "customers", world_files["customers"])
    path = tmp_path / f"feedback.{file_format}"
    if file_format == "parquet":
        world.feedback.to_parquet(path, index=False)
    else:
        world.feedback.to_json(path, orient="records", lines=True, force_ascii=False)
    report = ingest(store, settings, "feedback", path)
    assert report.accepted == len(world.feedback)
    again = ingest(store, settings, "feedback", world_files["feedback"])
    assert again.unchanged == len(world.feedback), "the same content from CSV must hash the same"


def test_ibm_telco_tables_ingest_with_a_mapping_alone(store: Store, settings: Settings) -> None:
    telco = SHARED_DATA / "telco-ibm"
    assert telco.is_dir(), f"the shared datasets are expected at {SHARED_DATA}"
    classic = ingest(
        store,
        settings,
        "customers",
        telco / "Telco-Customer-Churn.csv",
        mapping={
            "customerID": "customer_id",
            "tenure": "tenure_months",
            "MonthlyCharges": "monthly_value",
        },
    )
    assert (classic.read, classic.accepted, classic.rejected) == (7043, 7043, 0)
    for table in ("services", "demographics", "location", "status"):
        report = ingest(
            store,
            settings,
            "customers",
            telco / f"Telco_customer_churn_{table}.csv",
            mapping={"Customer ID": "customer_id"},
        )
        assert report.rejected == 0 and report.updated == 7043, table
    customer = records.customer(store, "7590-VHVEG")
    assert customer["attributes"]["Churn"] == "No"
    # The services table spells Contract its own way; the later file wins, key by key.
    assert customer["attributes"]["Contract"] == "Month-to-Month"
    assert customer["attributes"]["Satisfaction Score"] == 3
    assert customer["attributes"]["gender"] == "Female"
    assert customer["monthly_value"] == 29.85
    assert records.stats(store)["customers"] == 7043


@pytest.mark.slow
def test_two_overlapping_ingests_at_once_store_every_row_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    """Two `cxml ingest feedback` processes on files sharing 3,000 rows, started together."""
    import json
    import os
    import subprocess

    from tests.conftest import CXML

    (tmp_path / "customers.csv").write_text(
        "customer_id,signup_date\n" + "".join(f"c{i},2024-01-01\n" for i in range(100)),
        encoding="utf-8",
    )

    def rows(ids: range) -> str:
        return "feedback_id,customer_id,created_at,channel,text,nps\n" + "".join(
            f"f{i},c{i % 100},2025-01-01T10:{i % 60:02d}:00,chat,comment number {i},{i % 11}\n"
            for i in ids
        )

    (tmp_path / "a.csv").write_text(rows(range(0, 6000)), encoding="utf-8")
    (tmp_path / "b.csv").write_text(rows(range(3000, 9000)), encoding="utf-8")
    env = {**os.environ, "CXML_DATABASE_URL": database_url}

    def cxml(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [CXML, *args, "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first = cxml("ingest", "customers", "customers.csv")
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    running = [cxml("ingest", "feedback", name) for name in ("a.csv", "b.csv")]
    reports = []
    for process in running:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    store = Store.open(database_url)
    try:
        stored = records.feedback_frame(store, with_text=True)
    finally:
        store.close()
    assert len(stored) == 9000 and stored["feedback_id"].is_unique
    assert sum(r["accepted"] for r in reports) == 9000
    assert sum(r["unchanged"] for r in reports) == 3000
    assert all(r["rejected"] == 0 and r["read"] == 6000 for r in reports)


def test_an_api_batch_answers_its_refused_items_with_the_words_redacted(
    store: Store, settings: Settings
) -> None:
    """An item refused because its comment is too long quotes the value in its reason: the
    e-mail address in it is redacted there; a refused score keeps its number."""
    import json
    from datetime import datetime

    from cxml.ingest import ingest_records

    short = settings.model_copy(update={"max_text_chars": 20})
    now = datetime(2025, 6, 1)
    ingest_records(store, "customers", [{"customer_id": "c1", "signup_date": "2024-01-01"}],
                   settings=short, now=now, source="api:c")  # fmt: skip
    items = [
        {"feedback_id": "f1", "customer_id": "c1", "created_at": "2025-05-01",
         "text": "Write to ann@example.org about the invoice, thanks"},
        {"feedback_id": "f2", "customer_id": "c1", "created_at": "2025-05-01", "nps": 123456789012},
    ]  # fmt: skip
    report, results = ingest_records(
        store, "feedback", items, settings=short, now=now, source="api:f"
    )
    assert report.rejected == 2
    said = json.dumps(results)
    assert "ann@example.org" not in said and "[EMAIL]" in said
    assert results[0]["errors"][0]["field"] == "text"
    assert "123456789012" in results[1]["errors"][0]["value"]  # a number is not a phone


def test_api_batches_ingested_together_answer_and_store_as_each_alone(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The server stores the ingest requests waiting for it in one go (one contract check for
    them all): every answer, stored row, reject and run is what each request gets alone."""
    from datetime import datetime

    from cxml.ingest import ingest_record_batches, ingest_records
    from cxml.store.tables import feedback, rejects

    now = datetime(2025, 6, 1)
    alone_store = Store.open(Settings(database_url=f"sqlite:///{tmp_path / 'alone.db'}"))
    people = [
        {"customer_id": "c1", "signup_date": "2024-01-01"},
        {"customer_id": "c2", "tenure_months": 3},
    ]
    batches: list[tuple[list, str]] = [
        ([{"feedback_id": "f1", "customer_id": "c1", "created_at": "2025-05-01", "text": "Slow app.", "nps": 3},
          {"feedback_id": "f2", "customer_id": "c1", "created_at": "2025-05-02", "nps": 11},
          {"feedback_id": "f1", "customer_id": "c1", "created_at": "2025-05-01", "text": "again"}], "api:a"),
        ([{"feedback_id": "f3", "customer_id": "c9", "created_at": "2025-05-03", "text": "held", "nps": 3},
          "not an object",
          {"feedback_id": "f4", "customer_id": "c2", "created_at": "2026-05-03", "text": "future"}], "api:b"),
        ([{"feedback_id": "f5", "customer_id": "c2", "created_at": "2025-05-04", "text": "Great"}], "api:c"),
        ([{"feedback_id": "f6", "customer_id": "c2", "text": "no date field at all"}], "api:d"),
        ([{"feedback_id": "f1", "customer_id": "c1", "created_at": "2025-05-01", "text": "Slow app.", "nps": 3},
          {"feedback_id": "f7", "customer_id": "c2", "created_at": "2025-05-05", "csat": 4}], "api:e"),
    ]  # fmt: skip
    together_people = ingest_record_batches(
        store, "customers", [(people, "api:p")], settings=settings, now=now
    )
    alone_people = ingest_records(
        alone_store, "customers", people, settings=settings, now=now, source="api:p"
    )
    assert together_people[0][1] == alone_people[1]  # type: ignore[index]
    together = ingest_record_batches(store, "feedback", batches, settings=settings, now=now)
    alone: list[object] = []
    for items, source in batches:
        try:
            alone.append(
                ingest_records(
                    alone_store, "feedback", items, settings=settings, now=now, source=source
                )
            )
        except ConfigError as error:
            alone.append(error)
    # a batch without a required field is refused whole, naming the field (not a "file")
    assert isinstance(together[3], ConfigError) and together[3].field == "created_at"
    assert isinstance(alone[3], ConfigError) and str(alone[3]) == str(together[3])
    for mine, theirs in zip(together[:3] + together[4:], alone[:3] + alone[4:], strict=True):
        assert not isinstance(mine, Exception)
        assert mine[1] == theirs[1]  # type: ignore[index]
        assert mine[0].to_dict() == {  # type: ignore[attr-defined]
            **theirs[0].to_dict(),  # type: ignore[index]
            "run_id": mine[0].run_id,  # type: ignore[attr-defined]
            "seconds": mine[0].seconds,  # type: ignore[attr-defined]
        }
    statuses = [
        [r["status"] for r in answer[1]] for answer in together if isinstance(answer, tuple)
    ]
    assert statuses == [
        ["accepted", "rejected", "rejected"],
        ["held", "rejected", "rejected"],
        ["accepted"],
        ["unchanged", "accepted"],
    ]

    def stored(where: Store) -> tuple[list, list]:
        with where.engine.connect() as connection:
            rows = connection.execute(
                feedback.select()
                .with_only_columns(
                    feedback.c.feedback_id, feedback.c.customer_id, feedback.c.text, feedback.c.nps
                )
                .order_by(feedback.c.feedback_id)
            ).all()
            refused = connection.execute(
                rejects.select()
                .with_only_columns(
                    rejects.c.source,
                    rejects.c.row,
                    rejects.c.field,
                    rejects.c.reason,
                    rejects.c.held,
                )
                .order_by(rejects.c.source, rejects.c.row)
            ).all()
        return [tuple(r) for r in rows], [tuple(r) for r in refused]

    assert stored(store) == stored(alone_store)
    alone_store.close()


def test_api_batches_ingested_together_one_failing_fail_alone(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batches are written in one transaction; when one batch's write fails (a fault
    injected into the store for that batch's source), everything is rolled back and each batch
    tried again alone: the others are stored once each, the failing one answers its error."""
    from datetime import datetime

    from sqlalchemy.exc import OperationalError

    from cxml.ingest import ingest_record_batches
    from cxml.store.tables import feedback, ingest_runs

    now = datetime(2025, 6, 1)
    ingest_record_batches(
        store,
        "customers",
        [([{"customer_id": "c1", "signup_date": "2024-01-01"}], "api:p")],
        settings=settings,
        now=now,
    )
    real_write = records.write_feedback

    def failing(connection, frame, *, source, now, only_new=False):  # type: ignore[no-untyped-def]
        if source == "api:bad":
            raise OperationalError("INSERT INTO feedback", {}, Exception("disk I/O error"))
        return real_write(connection, frame, source=source, now=now, only_new=only_new)

    monkeypatch.setattr(records, "write_feedback", failing)
    item = {"customer_id": "c1", "created_at": "2025-05-01", "text": "Slow app."}
    batches: list[tuple[list, str]] = [
        ([{**item, "feedback_id": "f1"}], "api:a"),
        ([{**item, "feedback_id": "f2"}], "api:bad"),
        ([{**item, "feedback_id": "f3"}, {**item, "feedback_id": "f1"}], "api:c"),
    ]
    answers = ingest_record_batches(store, "feedback", batches, settings=settings, now=now)
    assert isinstance(answers[1], OperationalError)
    assert [r["status"] for r in answers[0][1]] == ["accepted"]  # type: ignore[index]
    assert [r["status"] for r in answers[2][1]] == ["accepted", "unchanged"]  # type: ignore[index]
    with store.engine.connect() as connection:
        ids = connection.execute(select(feedback.c.feedback_id)).scalars().all()
        runs = connection.execute(
            select(ingest_runs.c.source, ingest_runs.c.status).where(
                ingest_runs.c.kind == "feedback"
            )
        ).all()
    assert sorted(ids) == ["f1", "f3"]
    # neither the shared attempt nor the failing batch alone left a trace (not even its run)
    assert sorted(tuple(r) for r in runs) == [("api:a", "completed"), ("api:c", "completed")]
