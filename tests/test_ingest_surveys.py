"""Survey exports as they come: no response ids, no dates, respondent columns (issue #30)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.cli import EXIT_ALL_REJECTED, main
from cxml.errors import ConfigError, InputFileError
from cxml.ingest import IngestReport, ingest_file
from cxml.reporting import metric_table
from cxml.settings import Settings
from cxml.store import Store, records
from tests.conftest import NOW

SAAS_EXPORT = (
    "user_id,text,NPS_Score,plan,journey\n"
    "U1,Great product,10,pro,onboarding\n"
    "U2,Too expensive,3,free,renewal\n"
    "U2,Too expensive,3,free,renewal\n"  # the same words twice: two responses, two ids
    "U3,Few templates,6,free,\n"
    "U1,,9,pro,renewal\n"
)
MAPPING = {"user_id": "customer_id", "NPS_Score": "nps"}


def _customers(store: Store, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,signup_date,segment\nU1,2023-01-01,smb\nU2,2023-02-01,smb\n"
        "U3,2023-03-01,enterprise\n",
        encoding="utf-8",
    )
    ingest_file(store, "customers", path, settings=settings, now=NOW)


def _survey(store: Store, settings: Settings, path: Path) -> IngestReport:
    return ingest_file(
        store,
        "feedback",
        path,
        settings=settings,
        now=NOW,
        mapping=MAPPING,
        id_from_row=True,
        created_at=NOW.replace(year=NOW.year - 1),
    )


def test_a_survey_export_ingests_with_ids_from_its_rows_and_again_changes_nothing(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _customers(store, settings, tmp_path)
    path = tmp_path / "saas_nps.csv"
    path.write_text(SAAS_EXPORT, encoding="utf-8")
    first = _survey(store, settings, path)
    stored = store.table_frame("feedback").sort_values("nps")
    second = _survey(store, settings, path)
    assert (first.read, first.accepted, first.rejected) == (5, 5, 0)
    assert (second.accepted, second.updated, second.unchanged, second.rejected) == (0, 0, 5, 0)
    assert stored["feedback_id"].is_unique
    assert stored["feedback_id"].str.startswith("saas_nps.csv:").all()
    assert (stored["created_at"].dt.year == NOW.year - 1).all()
    # the respondent's columns are the response's attributes, not the customer's
    by_text = stored.set_index("nps")
    assert by_text.loc[10, "attributes"] == {"plan": "pro", "journey": "onboarding"}
    assert by_text.loc[6, "attributes"] == {"plan": "free"}
    customers = store.table_frame("customers").set_index("customer_id")
    assert customers.loc["U1", "attributes"] == {"segment": "smb"}


def test_nps_groups_by_a_response_attribute_and_a_customer_one(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _customers(store, settings, tmp_path)
    path = tmp_path / "saas_nps.csv"
    path.write_text(SAAS_EXPORT, encoding="utf-8")
    _survey(store, settings, path)
    by_journey = metric_table(store, "nps", by=["journey"]).set_index("journey")
    assert by_journey.loc["renewal", "n"] == 3
    assert by_journey.loc["onboarding", "nps"] == 100.0
    by_segment = metric_table(store, "nps", by=["segment"]).set_index("segment")
    assert by_segment["n"].to_dict() == {"smb": 4, "enterprise": 1}
    with pytest.raises(ConfigError, match="cannot group by 'journey'"):
        metric_table(store, "churn-rate", by=["journey"])


def test_the_missing_column_hint_names_only_columns_that_could_hold_the_field(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "telecom.csv"
    path.write_text(
        "CUSTOMER_RESPONSE_DATE,user_id,SURVEY_SUB_TYPE,NPS_SCORE,text\n"
        "11/04/2018 20:09,U1,Order,7,The process was good\n"
        "01/05/2018 20:23,U1,First Payment,0,Lack of communication\n"
        "07/04/2018 13:37,U2,Order,10,It was so easy and good\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError) as raised:
        ingest_file(store, "feedback", path, settings=settings, now=NOW)
    message = str(raised.value)
    assert "feedback_id: no column is unique per row" in message
    assert "--id-from-row" in message
    assert "'user_id=feedback_id'" not in message and "DATE=feedback_id" not in message
    assert "--map 'user_id=customer_id'" in message
    assert "--map 'CUSTOMER_RESPONSE_DATE=created_at' --date-format '%d/%m/%Y %H:%M'" in message
    once = tmp_path / "once.csv"  # each user answered once: user_id is unique, still no id
    once.write_text("user_id,text\nU1001,Good\nU1002,Bad\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no column is unique per row") as raised:
        ingest_file(store, "feedback", once, settings=settings, now=NOW)
    assert "'user_id=feedback_id'" not in str(raised.value)
    response_ids = tmp_path / "with_ids.csv"
    response_ids.write_text("response,user_id,when\nr1,U1,x\nr2,U1,y\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="--map 'response=feedback_id'") as raised:
        ingest_file(store, "feedback", response_ids, settings=settings, now=NOW)
    assert "--created-at YYYY-MM-DD" in str(raised.value)
    assert records.stats(store)["feedback"] == 0


def test_id_from_row_with_an_id_column_mapped_is_a_config_error(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,customer_id,created_at,nps\n1,c1,2025-01-01,3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="--id-from-row"):
        ingest_file(
            store,
            "feedback",
            path,
            settings=settings,
            now=NOW,
            mapping={"id": "feedback_id"},
            id_from_row=True,
        )


@pytest.mark.parametrize("kind", ["feedback", "customers"])
def test_a_run_that_rejects_every_row_exits_9_with_the_count_and_the_common_reasons(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / f"{kind}.csv"
    if kind == "feedback":
        path.write_text(
            "feedback_id,customer_id,created_at,nps\n"
            "a,c1,11/04/2018,5\nb,c1,12/04/2018,5\nc,c1,2018-04-13,11\n",
            encoding="utf-8",
        )
    else:
        path.write_text("customer_id,signup_date\nc1,11/04/2018\nc2,12/04/2018\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:  # as the console script exits
        main(["--database-url", database_url, "ingest", kind, str(path)])
    err = capsys.readouterr().err
    assert exited.value.code == EXIT_ALL_REJECTED == 9
    assert f"every row of {path} was rejected" in err
    assert "× signup_date='…' is not an ISO 8601 date" in err or (
        "2 × created_at='…' is not an ISO 8601 date" in err and "1 × nps=… is outside 0-10" in err
    )


def test_an_api_batch_keeps_its_extra_fields_as_the_responses_attributes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from cxml.ingest import ingest_records

    _customers(store, settings, tmp_path)
    item = {
        "feedback_id": "api-1",
        "customer_id": "U1",
        "created_at": "2025-01-02T10:00:00Z",
        "nps": 9,
        "journey": "renewal",
        "seats": 12,
    }
    _, answers = ingest_records(
        store, "feedback", [item], settings=settings, now=NOW, source="api-batch"
    )
    again, _ = ingest_records(
        store, "feedback", [item], settings=settings, now=NOW, source="api-batch"
    )
    assert answers[0]["status"] == "accepted" and again.unchanged == 1
    stored = store.table_frame("feedback").set_index("feedback_id")
    assert stored.loc["api-1", "attributes"] == {"journey": "renewal", "seats": 12}


ANONYMOUS_EXPORT = (
    "comment,score\n"
    "Love the mind maps,10\n"
    "Too expensive,3\n"
    "Too expensive,3\n"  # two respondents wrote the same: two responses, two respondents
    "Needs more templates,7\n"
)


@pytest.mark.parametrize("export", [ANONYMOUS_EXPORT])
def test_an_export_naming_no_respondent_loads_as_anonymous_respondents_never_at_risk(
    store: Store, database_url: str, tmp_path: Path, export: str
) -> None:
    from cxml.store.history import count_active, read_history
    from cxml.store.metrics import churn_counts

    path = tmp_path / "survey.csv"
    path.write_text(export, encoding="utf-8")
    command = [
        "--database-url", database_url, "ingest", "feedback", str(path),
        "--map", "comment=text", "--map", "score=nps", "--id-from-row", "--anonymous",
        "--created-at", "2025-05-01",
    ]  # fmt: skip
    assert main(command) == 0
    assert main(command) == 0  # again: nothing changes
    stored = store.table_frame("feedback")
    customers = store.table_frame("customers")
    assert len(stored) == 4 and stored["customer_id"].is_unique
    assert stored["customer_id"].str.startswith("anonymous:").all()
    assert set(customers["customer_id"]) == set(stored["customer_id"])
    assert (customers["attributes"].map(len) == 0).all()
    nps = metric_table(store, "nps").iloc[0]
    assert (nps["n"], nps["nps"]) == (4, -25.0)  # they count: 1 promoter, 2 detractors
    assert count_active(store, pd.Timestamp(NOW)) == 0  # nobody to score, nobody at risk
    assert read_history(store, pd.Timestamp(NOW)).customers.empty
    assert churn_counts(store) == (0, 0)  # nor anybody whose churn could be known


def test_anonymous_fills_only_the_rows_that_name_no_customer(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _customers(store, settings, tmp_path)
    path = tmp_path / "mixed.csv"
    path.write_text("user_id,text,NPS_Score\nU1,Great,10\n,Slow,2\n", encoding="utf-8")
    report = ingest_file(
        store,
        "feedback",
        path,
        settings=settings,
        now=NOW,
        mapping=MAPPING,
        id_from_row=True,
        created_at=NOW.replace(year=NOW.year - 1),
        anonymous=True,
    )
    assert (report.accepted, report.held, report.rejected) == (2, 0, 0)
    by_nps = store.table_frame("feedback").set_index("nps")["customer_id"]
    assert by_nps[10] == "U1" and by_nps[2].startswith("anonymous:mixed.csv:")
