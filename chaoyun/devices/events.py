"""In-process events of the devices context, for contexts above it (apps) that must react to what happens on the
shop floor without devices knowing them (DESIGN.md: the data spine knows no consumer).

``subscribe(kind, fn)`` at start-up; the devices context calls ``publish(kind, **data)``. Subscribers run in the
publisher's thread, often inside its database transaction: they must be quick and must not raise (an exception is
logged and swallowed, so a subscriber can never break ingest); long work belongs in a thread of their own.

Kinds:
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


def subscribe(kind: str, fn: Subscriber) -> None:
    with _lock:
        fns = _subscribers.setdefault(kind, [])
        if fn not in fns:
            fns.append(fn)


def unsubscribe(kind: str, fn: Subscriber) -> None:
    with _lock:
        if fn in _subscribers.get(kind, []):
            _subscribers[kind].remove(fn)


def publish(kind: str, **data: Any) -> None:
    for fn in list(_subscribers.get(kind, ())):
        try:
            fn(**data)
        except Exception:
            log.exception("subscriber %r of %s failed", fn, kind)
