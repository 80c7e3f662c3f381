"""API keys: shown once, stored as a hash, scoped, revocable at once."""

from __future__ import annotations

import pytest

from cxml.errors import ConfigError, NotFoundError
from cxml.keys import SCOPES, create_key, revoke_key, verify_key, verify_keys
from cxml.store import Store
from cxml.store.audit import audit_rows
from cxml.store.keys import list_api_keys
from tests.conftest import NOW


def test_a_key_verifies_with_its_scopes_and_stops_working_when_revoked(store: Store) -> None:
    key = create_key(store, ["read"], now=NOW, name="crm")
    found = verify_key(store, key)
    assert found is not None and found["scopes"] == {"read"} and found["name"] == "crm"
    listed = list_api_keys(store)
    assert [k["key_id"] for k in listed] == [found["key_id"]]
    assert key.split("_", 2)[2] not in str(listed)  # the secret is never stored or listed
    assert verify_key(store, key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert revoke_key(store, key, now=NOW) == found["key_id"]
    assert verify_key(store, key) is None
    with pytest.raises(NotFoundError):
        revoke_key(store, key, now=NOW)
    audited = audit_rows(store)
    assert [(r["action"], r["target"], r["actor"]) for r in audited] == [
        ("key.revoked", found["key_id"], "cli"),
        ("key.created", found["key_id"], "cli"),
    ]
    assert audited[1]["detail"] == {"scopes": ["read"], "name": "crm"}
    assert key.split("_", 2)[2] not in str(audited)


@pytest.mark.parametrize("bad", ["cxml", "cxml_x_y", "", "nonsense", "cxml__"])
def test_malformed_keys_are_simply_invalid(store: Store, bad: str) -> None:
    assert verify_key(store, bad) is None


def test_admin_holds_every_scope_but_pii_and_erase_and_unknown_scopes_are_refused(
    store: Store,
) -> None:
    found = verify_key(store, create_key(store, ["admin"], now=NOW))
    assert found is not None and found["scopes"] == set(SCOPES) - {"pii", "erase"}
    both = verify_key(store, create_key(store, ["admin", "pii", "erase"], now=NOW))
    assert both is not None and both["scopes"] == set(SCOPES)
    with pytest.raises(ConfigError, match="root"):
        create_key(store, ["root"], now=NOW)


def test_keys_checked_together_get_the_verdict_each_gets_alone(store: Store) -> None:
    """The server checks the keys of requests arriving together with one read: a valid key,
    the same twice, a revoked one, a wrong secret of a real id, malformed and missing keys."""
    reader = create_key(store, ["read"], now=NOW)
    scorer = create_key(store, ["score"], now=NOW)
    gone = create_key(store, ["read"], now=NOW)
    revoke_key(store, gone, now=NOW)
    keys = [reader, scorer, reader, gone, scorer[:-1] + ("x" if scorer[-1] != "x" else "y")]
    keys += ["cxml__", "nonsense", "", None]  # type: ignore[list-item]
    together = verify_keys(store, keys)
    alone = [verify_key(store, key) for key in keys]
    assert together == alone
    assert [found is not None for found in together] == [True, True, True] + [False] * 6
    assert together[1] is not None and together[1]["scopes"] == {"score"}
