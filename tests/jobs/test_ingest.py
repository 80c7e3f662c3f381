from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.errors import ConfigError
from cxml.jobs.ingest import IngestRequest, column_mapping, run_ingest
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW


def test_pairs_given_one_by_one_win_over_the_mapping_file(tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text("columns:\n  id: customer_id\n  joined: signup_date\n")
    mapping = column_mapping(["joined=churn_date", "Monthly Value=monthly_value"], mapping_file)
    assert mapping == {
        "id": "customer_id",
        "joined": "churn_date",
        "Monthly Value": "monthly_value",
    }
    assert column_mapping() == {}


def test_a_mapping_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        column_mapping((), tmp_path / "missing.yaml")


def test_the_job_ingests_a_renamed_export_and_counts_what_happened(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    pd.DataFrame(
        {
            "id": ["C1", "C2", "C3"],
            "joined": ["2023-01-05", "2023-02-10", "not a date"],
            "Monthly Value": [30.0, 45.5, 12.0],
        }
    ).to_csv(path, index=False)
    request = IngestRequest(
        kind="customers",
        path=path,
        mapping=column_mapping(
            ["joined=signup_date", "Monthly Value=monthly_value", "id=customer_id"]
        ),
    )
    report = run_ingest(store, settings, request, now=NOW)
    assert (report.read, report.accepted, report.rejected) == (3, 2, 1)
    stored = store.table_frame("customers").set_index("customer_id")
    assert sorted(stored.index) == ["C1", "C2"]
    assert stored.loc["C2", "monthly_value"] == pytest.approx(45.5)
    again = run_ingest(store, settings, request, now=NOW)
    assert (again.accepted, again.unchanged, again.rejected) == (0, 2, 1)
