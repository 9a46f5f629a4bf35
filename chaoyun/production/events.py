"""In-process events of the production context, for contexts above it (traceability) that follow what the
factory records without production knowing them (DESIGN.md: the data spine knows no consumer).

``subscribe(event, fn)`` at start-up; production calls ``publish(event, **data)`` inside the recording
transaction, before it commits. A subscriber may refuse the change by raising ``chaoyun.errors.AppError`` (the
whole change is then refused with its message, nothing half-saved); any other exception is logged and swallowed,
so a broken subscriber never stops the factory from recording.

Events:
- ``lot.created``: ``db`` (the session), ``actor``, ``lot`` (the flushed ``production_lots`` row with its
  materials).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from chaoyun.errors import AppError

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
    for fn in list(_subscribers.get(event, ())):
        try:
            fn(**data)
        except AppError:
            raise
        except Exception:
            log.exception("subscriber %r of %s failed", fn, event)
