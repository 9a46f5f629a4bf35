"""Failed-sign-in counters by account name and by client address, in process memory.

By name: every name counts, whether an account exists or not, so a lock says nothing about which
usernames are real (real accounts are also locked in the database, which every worker sees). By
address: many failures from one address within a window answer 429 with Retry-After, whatever names
it tries. Counters live in this process: with several workers each counts on its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from chaoyun.errors import AppError


class TooManyAttempts(AppError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, msgid: str, retry_after: int, **params: Any) -> None:
        super().__init__(msgid, **params)
        self.retry_after = retry_after


@dataclass
class _Counter:
    failures: int = 0
    window_start: float = 0.0
    locked_until: float = 0.0


_lock = threading.Lock()
_counters: dict[str, _Counter] = {}
_MAX_KEYS = 100_000


def locked_for(key: str, now: float | None = None) -> int:
    """Seconds the key stays locked (0: not locked)."""
    now = time.monotonic() if now is None else now
    with _lock:
        c = _counters.get(key)
        return max(0, int(c.locked_until - now) + 1) if c and c.locked_until > now else 0


def fail(key: str, limit: int, window_s: float, lock_s: float, now: float | None = None) -> bool:
    """Count a failure; True when this one reached the limit (the key is locked for ``lock_s``)."""
    now = time.monotonic() if now is None else now
    with _lock:
        if len(_counters) > _MAX_KEYS:
            # Bounded memory: forget counters that are neither locked nor in a live window.
            for k in [k for k, c in _counters.items() if c.locked_until < now and now - c.window_start > window_s]:
                del _counters[k]
        c = _counters.setdefault(key, _Counter(window_start=now))
        if now - c.window_start > window_s:
            c.failures, c.window_start = 0, now
        c.failures += 1
        if c.failures >= limit:
            c.failures, c.window_start, c.locked_until = 0, now, now + lock_s
            return True
        return False


def reset(key: str) -> None:
    with _lock:
        _counters.pop(key, None)


def clear() -> None:
    """Forget every counter (tests)."""
    with _lock:
        _counters.clear()
