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
