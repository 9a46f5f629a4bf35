"""In-process events of the devices context, for contexts above it (apps) that must react to what happens on the
shop floor without devices knowing them (DESIGN.md: the data spine knows no consumer).

``subscribe(event, fn)`` at start-up; the devices context calls ``publish(event, **data)``. Subscribers run in the
publisher's thread, often inside its database transaction: they must be quick and must not raise (an exception is
logged and swallowed, so a subscriber can never break ingest); long work belongs in a thread of their own.

Events:
- ``alarm.raised``: ``org_id``, ``device_id``, ``alarm_id``, ``severity``, ``kind`` (rule kind), ``state`` (the
  machine state of a state alarm, else None), ``metric``, ``started_at`` (UTC), ``message``. Published when the
  alarm row is flushed, before the transaction commits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

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
