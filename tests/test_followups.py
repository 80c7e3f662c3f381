"""Follow-ups close the loop; every change is kept with who and when."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cxml.demo import World
from cxml.errors import ConfigError, NotFoundError
from cxml.followups import open_follow_up, update_follow_up
from cxml.settings import Settings
from cxml.store import Store
from tests.conftest import NOW, load_world


def test_changes_are_recorded_only_when_they_change_something(
    store: Store, settings: Settings, world: World, tmp_path: Path
) -> None:
    load_world(store, settings, world, tmp_path, analyse=False)
    opened = open_follow_up(store, "C000001", {"owner": "aiko"}, actor="k1", now=NOW)
    assert opened["status"] == "open" and len(opened["history"]) == 1
    later = NOW + timedelta(hours=1)
    changed = update_follow_up(
        store,
        "C000001",
        opened["follow_up_id"],
        {"status": "contacted", "owner": "aiko"},
        actor="k2",
        now=later,
    )
    assert changed["status"] == "contacted"
    assert changed["history"][-1]["changes"] == {"status": ["open", "contacted"]}
    assert changed["history"][-1]["changed_by"] == "k2"
    same = update_follow_up(
        store, "C000001", opened["follow_up_id"], {"status": "contacted"}, actor="k2", now=later
    )
    assert len(same["history"]) == 2  # nothing changed, nothing recorded


def test_bad_statuses_unknown_customers_and_foreign_follow_ups_are_refused(
    store: Store, settings: Settings, world: World, tmp_path: Path
) -> None:
    load_world(store, settings, world, tmp_path, analyse=False)
    with pytest.raises(NotFoundError):
        open_follow_up(store, "NOPE", {}, actor=None, now=NOW)
    with pytest.raises(ConfigError, match="status='maybe'"):
        open_follow_up(store, "C000001", {"status": "maybe"}, actor=None, now=NOW)
    opened = open_follow_up(store, "C000001", {}, actor=None, now=NOW)
    with pytest.raises(NotFoundError):
        update_follow_up(
            store, "C000002", opened["follow_up_id"], {"note": "x"}, actor=None, now=NOW
        )
    with pytest.raises(ConfigError, match="status cannot be empty"):
        update_follow_up(
            store, "C000001", opened["follow_up_id"], {"status": None}, actor=None, now=NOW
        )
