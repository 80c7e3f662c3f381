"""A store without churn dates says so instead of showing real-looking zeros (issue #30)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cxml.cli import main
from cxml.ingest import ingest_file
from cxml.metrics import MIN_CHURNERS_FOR_DRIVERS, NO_CHURN_DATA, churn_data
from cxml.reporting import driver_report, driver_table, metric_report, metric_table
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW


def _customers(store: Store, settings: Settings, tmp_path: Path, churned: int = 0) -> None:
    rows = [f"c{i},2024-01-01,50," for i in range(20)]
    for i in range(churned):
        rows[i] = f"c{i},2024-01-01,50,2025-03-0{1 + i % 9}"
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,signup_date,monthly_value,churn_date\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    ingest_file(store, "customers", path, settings=settings, now=NOW)


def test_the_status_says_no_churn_data_and_why() -> None:
    assert churn_data(100, 3)["churn_data"] is True
    none = churn_data(100, 0)
    assert none["churn_data"] is False and none["message"].startswith(NO_CHURN_DATA)
    assert "none of the 100 customers" in none["message"]
    nobody = churn_data(0, 0)["message"]  # a survey of anonymous respondents only
    assert nobody.startswith(NO_CHURN_DATA) and "no customers loaded yet" in nobody
    few = churn_data(100, 3, minimum=10)
    assert few["churn_data"] is False and "only 3 of 100" in few["message"]


def test_churn_metrics_and_drivers_say_no_churn_data_instead_of_zero(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _customers(store, settings, tmp_path)
    for metric in ("churn-rate", "retention"):
        report = metric_report(store, metric, period="month")
        assert report.rows.empty and report.churn_data is False
        assert report.message is not None and report.message.startswith(NO_CHURN_DATA)
        assert metric_table(store, metric, period="month").empty
    drivers = driver_report(store, "churn", as_of=NOW)
    assert drivers.rows.empty and drivers.churn_data is False
    assert driver_table(store, "churn", as_of=NOW).empty


def test_too_few_churners_for_drivers_but_a_real_churn_rate(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _customers(store, settings, tmp_path, churned=2)
    assert MIN_CHURNERS_FOR_DRIVERS > 2
    drivers = driver_report(store, "churn", as_of=NOW)
    assert drivers.churn_data is False and "only 2 of 20" in (drivers.message or "")
    rates = metric_report(store, "churn-rate", period="month")
    assert not rates.rows.empty and rates.churn_data is True


def test_the_api_answers_churn_data_false_with_the_message(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    from cxml.metrics import Level
    from cxml.reporting import DriverTarget, Metric
    from serve.routes.at_risk import at_risk_totals
    from serve.routes.metrics import drivers, metric

    _customers(store, settings, tmp_path)
    state = SimpleNamespace(store=store, settings=settings)
    rate = metric(Metric.CHURN_RATE, [], None, None, None, Level.RESPONSE, {}, state)  # type: ignore[arg-type]
    assert rate["churn_data"] is False and rate["rows"] == []
    assert rate["message"].startswith(NO_CHURN_DATA)
    assert "churn_data" not in metric(Metric.NPS, [], None, None, None, Level.RESPONSE, {}, state)  # type: ignore[arg-type]
    assert drivers(DriverTarget.CHURN, {}, state)["churn_data"] is False  # type: ignore[arg-type]
    summary = at_risk_totals({}, state)  # type: ignore[arg-type]
    assert summary["churn_data"] is False and summary["message"].startswith(NO_CHURN_DATA)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cxml.db'}"


def test_the_cli_says_no_churn_data_and_train_churn_says_what_to_load(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(Settings(database_url=sqlite_url))
    _customers(store, Settings(database_url=sqlite_url), tmp_path)
    store.close()
    capsys.readouterr()
    assert main(["--database-url", sqlite_url, "drivers", "--target", "churn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(NO_CHURN_DATA) and "0.0" not in out
    assert main(["--database-url", sqlite_url, "metrics", "churn-rate", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["churn_data"] is False and answer["rows"] == []
    assert main(["--database-url", sqlite_url, "train", "churn"]) == 2
    err = capsys.readouterr().err
    assert "the store has no churners at all: none of its 20 customers" in err
    assert "churn_date" in err and "--horizon cannot help" in err


def test_train_churn_on_a_store_of_anonymous_respondents_says_to_load_customers(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(Settings(database_url=sqlite_url)).close()
    assert main(["--database-url", sqlite_url, "train", "churn"]) == 2
    err = capsys.readouterr().err
    assert "no customers to learn churn from" in err and "cxml ingest customers" in err
