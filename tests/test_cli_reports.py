"""`cxml stats` and `cxml metrics` on stores with little in them: an empty store, feedback
without survey scores, one customer, one language. Each says in a sentence what is missing and
what to run, exits 0, and never shows NaN, nan or None (nor a blank line); the JSON forms parse
as strict JSON (no NaN), with null and a message where a number is not defined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOT_FOR_USERS = re.compile(r"\b(NaN|nan|None|inf)\b")


def cxml(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str]:
    """The `cxml` entry point in this process: (exit code, stdout); a report's stderr stays
    empty (an ingest says its counts there)."""
    from cxml.cli import main

    code = main(["--database-url", database_url, *args])
    said = capsys.readouterr()
    assert args[0] == "ingest" or said.err == "", said.err
    return code, said.out


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def shown_to_a_user(out: str, *, as_json: bool) -> None:
    """What a user sees: no NaN/None, no blank or dangling lines; JSON that is strict JSON."""
    assert out.strip(), "printed nothing"
    assert not NOT_FOR_USERS.search(out), out
    if as_json:
        json.loads(out, parse_constant=_refuse)
        return
    for line in out.splitlines():
        assert line.strip() and not line.rstrip().endswith(":"), f"an empty line in:\n{out}"


def load(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    folder: Path,
    customers: str,
    feedback: str,
) -> None:
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    (folder / "feedback.csv").write_text(feedback, encoding="utf-8")
    for kind in ("customers", "feedback"):
        code, _ = cxml(capsys, database_url, "ingest", kind, str(folder / f"{kind}.csv"))
        assert code == 0


NO_FEEDBACK = "the store holds no feedback yet"
CUSTOMERS = "customer_id,signup_date\nc1,2024-01-01\nc2,2024-02-01\n"
FEEDBACK = (
    "feedback_id,customer_id,created_at,text\n"
    "f1,c1,2025-01-05,Too slow and too expensive\nf2,c2,2025-02-01,Fine now\n"
)


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize(
    ("loaded", "said"),
    [
        ((), "load some with `cxml ingest customers FILE`, then `cxml ingest feedback FILE`"),
        (("customers",), "load some with `cxml ingest feedback FILE`"),
        (("feedback",), "2 rows wait for theirs; load the customers with `cxml ingest customers"),
    ],
)
def test_stats_of_a_store_without_feedback_say_what_to_load(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
    loaded: tuple[str, ...],
    said: str,
    as_json: bool,
) -> None:
    files = {"customers": CUSTOMERS, "feedback": FEEDBACK}
    for kind in loaded:
        (tmp_path / f"{kind}.csv").write_text(files[kind], encoding="utf-8")
        assert cxml(capsys, database_url, "ingest", kind, str(tmp_path / f"{kind}.csv"))[0] == 0
    code, out = cxml(capsys, database_url, "stats", *(["--json"] if as_json else []))
    assert code == 0
    shown_to_a_user(out, as_json=as_json)
    message = json.loads(out)["message"] if as_json else out.splitlines()[0]
    assert message.startswith(NO_FEEDBACK) and said in message
    if not as_json and not loaded:
        assert out.count("\n") == 1  # the sentence alone: no zeros and empty lists under it


@pytest.mark.parametrize(
    ("answered_by", "customers", "anonymous"),
    [
        ("", "customers: 0 (0 active, 0 churned)", 3),  # anonymous answers only
        ("c1", "customers: 2 (2 active, 0 churned)", 2),  # c1 and c2 loaded, c1 answered
    ],
)
def test_stats_count_anonymous_answers_apart_from_customers(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
    answered_by: str,
    customers: str,
    anonymous: int,
) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "answers.csv").write_text(
        "feedback_id,customer_id,created_at,nps\n"
        f"a1,,2025-01-05,9\na2,,2025-01-06,3\na3,{answered_by},2025-01-07,7\n",
        encoding="utf-8",
    )
    if answered_by:
        code, _ = cxml(capsys, database_url, "ingest", "customers", str(tmp_path / "customers.csv"))
        assert code == 0
    answers = str(tmp_path / "answers.csv")
    assert cxml(capsys, database_url, "ingest", "feedback", answers, "--anonymous")[0] == 0
    code, out = cxml(capsys, database_url, "stats")
    assert code == 0
    shown_to_a_user(out, as_json=False)
    lines = out.splitlines()
    assert lines[0] == customers
    assert f"  anonymous responses: {anonymous} (no customer id: not counted as customers)" in lines
    stats = json.loads(cxml(capsys, database_url, "stats", "--json")[1])
    assert stats["anonymous_responses"] == anonymous and stats["feedback"] == 3


@pytest.mark.parametrize(
    "args",
    [
        ["metrics", "nps"],
        ["metrics", "csat", "--json"],
        ["metrics", "ces", "--level", "customer"],
        ["metrics", "nps", "--period", "month", "--by", "channel"],
        ["metrics", "nps", "--period", "month", "--json"],
    ],
)
def test_metrics_of_an_empty_store_say_it_holds_no_feedback(
    capsys: pytest.CaptureFixture[str], database_url: str, args: list[str]
) -> None:
    code, out = cxml(capsys, database_url, *args)
    assert code == 0
    shown_to_a_user(out, as_json="--json" in args)
    assert NO_FEEDBACK in out and "`cxml ingest feedback FILE`" in out
    if "--json" in args:
        assert json.loads(out)["message"].startswith(NO_FEEDBACK)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["metrics", "nps"], "no NPS answers in the store yet"),
        (["metrics", "csat", "--json"], "no CSAT answers in the store yet"),
        (["metrics", "ces", "--by", "channel"], "no CES answers in the store yet"),
        (
            ["metrics", "nps", "--from", "2025-01-01", "--to", "2025-02-01"],
            "no NPS answers from 2025-01-01 to 2025-02-01",
        ),
        (["metrics", "nps", "--period", "month", "--json"], "no NPS answers in the store yet"),
    ],
)
def test_feedback_without_survey_scores_says_there_are_no_answers(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
    args: list[str],
    said: str,
) -> None:
    load(capsys, database_url, tmp_path, CUSTOMERS, FEEDBACK)
    code, out = cxml(capsys, database_url, *args)
    assert code == 0
    shown_to_a_user(out, as_json="--json" in args)
    assert said in out
    if "--json" in args:
        assert json.loads(out)["rows"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["stats", "--json"],
        ["metrics", "nps"],
        ["metrics", "csat"],
        ["metrics", "csat", "--json"],
        ["metrics", "ces", "--period", "month"],
        ["metrics", "ces", "--csv", "ces.csv"],
        ["metrics", "nps", "--by", "language", "--level", "customer"],
        ["metrics", "churn-rate"],
        ["metrics", "retention", "--json"],
        ["metrics", "nps", "--by", "theme"],
    ],
)
def test_one_customer_in_one_language_prints_no_undefined_numbers(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    tmp_path: Path,
    args: list[str],
) -> None:
    """One answer has no interval (CSAT's mean, CES) and a month nobody was a customer at its
    start has no churn rate: the table shows '-' and says why, the JSON null."""
    monkeypatch.chdir(tmp_path)
    load(
        capsys,
        database_url,
        tmp_path,
        "customer_id,signup_date,churn_date\nc1,2024-01-15,2024-04-10\n",
        "feedback_id,customer_id,created_at,text,language,nps,csat,ces\n"
        "f1,c1,2024-03-01,Too slow and too expensive,en,3,2,6\n",
    )
    code, out = cxml(capsys, database_url, *args)
    assert code == 0
    if "--csv" in args:
        assert out.startswith("1 rows written to ces.csv")
        assert NOT_FOR_USERS.search((tmp_path / "ces.csv").read_text(encoding="utf-8")) is None
        return
    shown_to_a_user(out, as_json="--json" in args)
    if args[0] == "stats":
        assert ("by language: en 1" in out) or json.loads(out)["feedback_by_language"] == {"en": 1}
    elif "theme" in args:  # its one answer is there, its comment not analysed yet
        assert out.startswith(
            "no analysed themes to group the NPS answer by: run `cxml train text`"
        )
    elif "--json" not in args and args[1] in ("csat", "ces", "churn-rate"):
        assert " - " in out and "-: not defined" in out
