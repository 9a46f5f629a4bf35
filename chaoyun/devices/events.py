"""In-process events of the devices context, for contexts above it (apps) that must react to what happens on the
shop floor without devices knowing them (DESIGN.md: the data spine knows no consumer).

``subscribe(event, fn)`` at start-up; the devices context calls ``publish(event, **data)``. Subscribers run in the
publisher's thread: they must be quick and must not raise (an exception is logged and swallowed, so a subscriber can
never break ingest); long work belongs on the job runner (``chaoyun.jobs.runner.enqueue``).
``publish_after_commit(db, event, **data)`` holds the event until ``db``'s transaction commits (and drops it on a
rollback), so a subscriber may write in a session of its own and always finds the publisher's rows.

Events:
- ``alarm.raised``: ``org_id``, ``device_id``, ``alarm_id``, ``severity``, ``kind`` (rule kind), ``state`` (the
  machine state of a state alarm, else None), ``metric``, ``started_at`` (UTC), ``message``. Published once the
  transaction that raised the alarm has committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
Subscriber = Callable[..., None]

_subscribers: dict[str, list[Subscriber]] = {}
_lock = threading.Lock()


def subscribe(event: str, fn: Subscriber) -> None:
    with _lock:
        fns = _subscribers.setdefault(event, [])
        if fn not in fns:
            fns.append(fn)


def unsubscribe(event: str, fn: Subscriber) -> None:
    with _lock:
        if fn in _subscribers.get(event, []):
            _subscribers[event].remove(fn)


def publish(event: str, /, **data: Any) -> None:
    """Call every subscriber of ``event`` with ``data`` (positional-only, so ``kind=`` may be a data field)."""
    for fn in list(_subscribers.get(event, ())):
        try:
            fn(**data)
        except Exception:
            log.exception("subscriber %r of %s failed", fn, event)


_PENDING = "chaoyun.events.pending"


def publish_after_commit(db: Session, event: str, /, **data: Any) -> None:
    """Publish ``event`` once ``db`` commits; nothing if it rolls back."""
    db.info.setdefault(_PENDING, []).append((event, data))


@sa_event.listens_for(Session, "after_commit")
def _after_commit(db: Session) -> None:
    pending = db.info.pop(_PENDING, None)
    for event, data in pending or ():
        publish(event, **data)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(db: Session) -> None:
    db.info.pop(_PENDING, None)
