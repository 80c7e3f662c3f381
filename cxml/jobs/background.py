"""The server's background work, in a thread of its own (a slow webhook receiver or a long
retention pass never holds a request's thread):

- every ``webhook_poll_seconds``: announce pulls that can now be read, send due webhooks;
- every ``housekeeping_seconds``: expire raw text past its channel's retention (when a
  policy is set), escalate follow-ups long past due (when an escalation owner is set) and
  announce themes that became emerging (when an endpoint subscribes to ``theme.emerging``).

Each piece is idempotent, so several server processes running it at once do no harm.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from cxml.settings import Settings
from cxml.store import Store

log = logging.getLogger("cxml.background")


def housekeeping(store: Store, settings: Settings, *, now: datetime) -> dict[str, int]:
    """One pass of the slow chores; how much each did."""
    from cxml.jobs.escalation import escalate
    from cxml.jobs.privacy import apply_retention
    from cxml.webhooks import announce_emerging_themes, announce_overdue_follow_ups

    done: dict[str, int] = {}
    if settings.escalation_owner:
        done["escalated"] = len(escalate(store, settings, now=now, actor="server"))
    overdue = announce_overdue_follow_ups(store, now=now)  # nothing read without subscribers
    if overdue:
        done["overdue_announced"] = overdue
    emerging = announce_emerging_themes(store, now=now)
    if emerging:
        done["emerging_themes"] = emerging
    if settings.text_retention_days:
        expired = apply_retention(store, settings, now=now).expired
        done["expired_text"] = sum(expired.values())
    return done


def run(
    store: Store, settings: Settings, *, stop: threading.Event, clock: Callable[[], datetime]
) -> None:
    """Loop until ``stop`` is set."""
    import httpx

    from cxml.webhooks import announce_readable_pulls, deliver_due

    poll = settings.webhook_poll_seconds or 1.0
    last_chores = float("-inf")
    with httpx.Client(timeout=5.0, follow_redirects=False) as client:

        def post(url: str, body: bytes, headers: dict[str, str]) -> int:
            return client.post(url, content=body, headers=headers).status_code

        while not stop.wait(poll):
            now = clock()
            try:
                if settings.webhook_poll_seconds > 0:
                    announce_readable_pulls(store, now=now)
                    deliver_due(store, post, now=now)
                every = settings.housekeeping_seconds
                if every > 0 and time.monotonic() - last_chores >= every:
                    last_chores = time.monotonic()
                    done = housekeeping(store, settings, now=now)
                    if any(done.values()):
                        log.info("housekeeping: %s", done)
            except Exception:  # keep going: the next tick retries
                log.exception("background tick failed")
