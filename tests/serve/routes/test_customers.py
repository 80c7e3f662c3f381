"""``/v1/customers/{id}`` and its follow-ups on the real server, on SQLite and on PostgreSQL: a
customer's story, follow-ups with their audit trail, odd ids, redacted words."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import new_key, run_cxml
from tests.serve.conftest import Served, client, some_customers

pytestmark = pytest.mark.slow  # a real uvicorn server over a demo world built by `cxml demo`


def test_follow_ups_close_the_loop_with_a_full_audit_trail(served: Served) -> None:
    customer = some_customers(served, 4)[3]
    with client(served, "read") as reader:  # reading is not acting: the act scope records
        refused = reader.post(f"/v1/customers/{customer}/follow-ups", json={"owner": "aiko"})
        assert refused.status_code == 403 and "'act'" in refused.json()["detail"]
    with client(served, "agent") as api:
        made = api.post(
            f"/v1/customers/{customer}/follow-ups", json={"owner": "aiko", "note": "call"}
        )
        assert made.status_code == 201 and made.json()["status"] == "open"
        follow_up = made.json()["follow_up_id"]
        changed = api.patch(
            f"/v1/customers/{customer}/follow-ups/{follow_up}",
            json={"status": "contacted", "outcome": "offered a discount"},
        ).json()
        history = changed["history"]
        assert len(history) == 2
        assert history[1]["changes"] == {
            "status": ["open", "contacted"],
            "outcome": [None, "offered a discount"],
        }
        assert history[1]["changed_by"] == served["keys"]["agent"].split("_")[1]
        assert (
            api.patch(
                f"/v1/customers/{customer}/follow-ups/999999", json={"status": "lost"}
            ).status_code
            == 404
        )
        assert (
            api.patch(
                f"/v1/customers/{customer}/follow-ups/{follow_up}", json={"status": "won"}
            ).status_code
            == 422
        )
        listed = api.get(
            "/v1/at-risk", params={"follow_up_status": "contacted", "limit": 100}
        ).json()
        assert customer in [i["customer_id"] for i in listed["items"]]
        assert all(i["follow_up"]["status"] == "contacted" for i in listed["items"])
        none_yet = api.get("/v1/at-risk", params={"follow_up_status": "none", "limit": 100}).json()
        assert customer not in [i["customer_id"] for i in none_yet["items"]]
        assert api.post("/v1/customers/NOBODY/follow-ups", json={}).status_code == 404


def test_one_customers_whole_story(served: Served) -> None:
    customer = some_customers(served, 1)[0]
    with client(served, "read") as api:
        story = api.get(f"/v1/customers/{customer}").json()
        assert story["score"]["customer_id"] == customer and story["score"]["reasons"]
        times = [t["created_at"] for t in story["timeline"]]
        assert times == sorted(times, reverse=True)
        assert len({t["channel"] for t in story["timeline"]}) >= 1
        missing = api.get("/v1/customers/NOBODY")
        assert missing.status_code == 404 and "NOBODY" in missing.json()["detail"]


def test_a_customer_id_with_a_slash_is_addressable_like_any_other(served: Served) -> None:
    """Found by schemathesis' stateful run: a customer stored with '/' in its id (CRMs write
    'ACME/42') answered 404 to every path that named it; percent-encoded, it now reads."""
    from urllib.parse import quote

    odd = "ACME/42 ü"
    path = f"/v1/customers/{quote(odd, safe='')}"
    with client(served, "admin") as api:
        made = api.post(
            "/v1/customers", json={"customers": [{"customer_id": odd, "signup_date": "2024-02-01"}]}
        )
        assert made.json()["results"][0]["status"] == "accepted"
        assert api.get(path).json()["customer_id"] == odd
        opened = api.post(f"{path}/follow-ups", json={"owner": "aiko"})
        assert opened.status_code == 201, opened.text
        changed = api.patch(
            f"{path}/follow-ups/{opened.json()['follow_up_id']}", json={"status": "contacted"}
        )
        assert changed.status_code == 200 and changed.json()["status"] == "contacted"
        assert api.get(f"/v1/customers/{quote('ACME/999', safe='')}").status_code == 404


def test_customers_words_leave_redacted_unless_the_key_may_read_pii(served: Served) -> None:
    known = some_customers(served, 1)[0]
    email, phone = "jane.roe@example.org", "+1 415 555 0199"
    planted = {
        "feedback_id": "pii-planted",
        "customer_id": known,
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "channel": "chat",
        "text": f"I want to cancel. Write to {email} or call {phone} about the billing error.",
        "nps": 0,
    }
    with client(served, "ingest") as api:
        assert api.post("/v1/feedback", json={"feedback": [planted]}).json()["accepted"] == 1
    with client(served, "admin") as api:  # admin is every scope but pii
        scored = api.post("/v1/score", json={"customers": [{"customer_id": known}]}).text
        story = api.get(f"/v1/customers/{known}").text
        listed = api.get("/v1/at-risk", params={"limit": 1000}).text
        as_csv = api.get("/v1/at-risk", headers={"Accept": "text/csv"}).text
    for shown in (scored, story, listed, as_csv):
        assert email not in shown and "555 0199" not in shown
    assert "[EMAIL]" in story and "[PHONE]" in story
    pii = new_key(served["cwd"], served["url"], "read", "pii")
    raw = httpx.get(
        f"{served['base']}/v1/customers/{known}", headers={"X-API-Key": pii}, timeout=60
    ).text
    assert email in raw and phone in raw
    timeline = run_cxml(["timeline", known], served["cwd"], database_url=served["url"])
    assert timeline.returncode == 0 and "[EMAIL]" in timeline.stdout
    assert email not in timeline.stdout
    exported = run_cxml(["export", "lake"], served["cwd"], database_url=served["url"])
    assert exported.returncode == 0, exported.stderr
    import pandas as pd

    texts = pd.read_parquet(Path(served["cwd"]) / "lake" / "feedback.parquet")["text"].dropna()
    assert not texts.str.contains(email, regex=False).any()
    assert texts.str.contains("[EMAIL]", regex=False).any()
