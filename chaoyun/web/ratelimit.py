"""Request rate limits: a token bucket per client key, as a FastAPI dependency.

    from chaoyun.web.ratelimit import rate_limit

    @router.get("/resolve/{code}", dependencies=[Depends(rate_limit("resolve", per_minute=600, burst=100))])

Each (limit name, client key) pair has a bucket holding up to ``burst`` tokens that refills at
``per_minute / 60`` tokens a second; a request takes one token, and a request finding the bucket empty is
answered 429 with ``Retry-After`` (whole seconds until a token is back) and the bilingual error shape of
``chaoyun.errors`` (code ``rate_limited``). Pages get the error page with the same status and header.

Client key (``key=``): ``"auto"`` (default) — the credential the request carries (``Authorization: Bearer``,
``X-Device-Token`` or the session cookie, hashed), else the client address; ``"address"`` — always the
address; ``"token"`` — the credential, else the address; or a callable ``(Request) -> str``.

Configuration (environment, read when a request arrives, so tests and operators can change it live):

- ``CHAOYUN_RATE_LIMITS=0`` switches every limit off (default ``1``).
- ``CHAOYUN_RATE_LIMIT_<NAME>=PER_MINUTE[/BURST]`` overrides one limit (``<NAME>`` upper-cased, ``-`` and
  ``.`` as ``_``); ``0`` switches that limit off. E.g. ``CHAOYUN_RATE_LIMIT_INGEST=6000/1000``.
- ``CHAOYUN_REDIS_URL=redis://host:6379/0`` keeps the buckets in Redis, shared by every worker process and
  host (one Lua script per request, atomic, Redis' own clock). Without it (the default) buckets live in the
  process: with several workers each counts on its own. If Redis cannot be reached the limiter falls back
  to the in-process buckets (logged once) instead of failing requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from chaoyun.errors import AppError
from chaoyun.i18n import N_

log = logging.getLogger(__name__)

KeyFunc = Callable[[Request], str]

TOO_MANY = N_("Too many requests. Try again in %(seconds)s seconds.")


class RateLimited(AppError):
    """429 with ``Retry-After``; the app's error handler adds the header from ``retry_after``."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int, limit: str) -> None:
        super().__init__(TOO_MANY, seconds=retry_after)
        self.retry_after = retry_after
        self.limit = limit

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.per_minute / 60.0


# ---------------------------------------------------------------- configuration


def _env(name: str) -> str | None:
    return os.environ.get(f"CHAOYUN_{name}")


def enabled() -> bool:
    return (_env("RATE_LIMITS") or "1").strip() != "0"


def env_name(name: str) -> str:
    return "RATE_LIMIT_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def parse_limit(text: str) -> Limit | None:
    """``"600"`` or ``"600/100"`` (per minute / burst); ``"0"`` means no limit. Raises ValueError."""
    head, _, tail = text.strip().partition("/")
    per_minute = float(head)
    if per_minute < 0 or not math.isfinite(per_minute):
        raise ValueError(text)
    if per_minute == 0:
        return None
    burst = int(tail) if tail.strip() else max(1, math.ceil(per_minute))
    if burst < 1:
        raise ValueError(text)
    return Limit(per_minute, burst)


def configured(name: str, per_minute: float, burst: int | None) -> Limit | None:
    """The limit in force for ``name``: the environment override, else the call site's figures."""
    override = _env(env_name(name))
    if override:
        try:
            return parse_limit(override)
        except ValueError:
            log.warning("ignoring CHAOYUN_%s=%r (expected PER_MINUTE[/BURST])", env_name(name), override)
    if per_minute <= 0:
        return None
    return Limit(per_minute, burst if burst is not None else max(1, math.ceil(per_minute)))


# ---------------------------------------------------------------- client keys


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _credential(request: Request) -> str:
    tok = request.headers.get("x-device-token", "").strip()
    if not tok:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            tok = auth[7:].strip()
    if not tok:
        tok = request.cookies.get("cy_session", "")
    return tok


def key_for(request: Request, how: str | KeyFunc) -> str:
    if callable(how):
        return how(request)
    if how != "address":
        tok = _credential(request)
        if tok:
            # Hashed: raw credentials never sit in memory tables or Redis keys.
            return "t:" + hashlib.sha256(tok.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "a:" + client_address(request)


# ---------------------------------------------------------------- buckets


class MemoryBuckets:
    """In-process buckets (the default). Memory stays bounded: full buckets are forgotten when it grows."""

    MAX_KEYS = 200_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._b: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill, monotonic s)

    def take(self, key: str, limit: Limit, now: float | None = None) -> float:
        """Take one token; 0.0 when granted, else seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._b.get(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
            if tokens >= 1.0:
                self._b[key] = (tokens - 1.0, now)
                if len(self._b) > self.MAX_KEYS:
                    self._prune(now)
                return 0.0
            self._b[key] = (tokens, now)
            return (1.0 - tokens) / limit.rate

    def _prune(self, now: float) -> None:
        # A bucket idle long enough to be full again is the same as no bucket. Buckets of different limits
        # share the table, so "long enough" is taken generously (10 minutes covers rates >= 0.1/min per token).
        for k in [k for k, (_t, last) in self._b.items() if now - last > 600]:
            del self._b[k]

    def clear(self) -> None:
        with self._lock:
            self._b.clear()


# Token bucket in Redis: KEYS[1] the bucket; ARGV rate (tokens/s), burst. Redis' TIME is the clock, so
# workers on hosts with skewed clocks agree. Returns 0 when granted, else milliseconds to wait.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class RedisBuckets:
    """Buckets shared by every process through Redis (``CHAOYUN_REDIS_URL``)."""

    PREFIX = "chaoyun:rl:"

    def __init__(self, url: str) -> None:
        self.url = url
        # redis.asyncio clients belong to one event loop; tests and servers may run several loops.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._sync: Any = None

    def _script(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        script = self._clients.get(loop)
        if script is None:
            client = aioredis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
            script = self._clients[loop] = client.register_script(_LUA)
        return script

    async def take(self, key: str, limit: Limit) -> float:
        wait_ms = await self._script()(keys=[self.PREFIX + key], args=[repr(limit.rate), limit.burst])
        return int(wait_ms) / 1000.0

    def take_sync(self, key: str, limit: Limit) -> float:
        import redis

        if self._sync is None:
            client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._sync = client.register_script(_LUA)
        wait_ms = self._sync(keys=[self.PREFIX + key], args=[repr(limit.rate), limit.burst])
        return int(wait_ms) / 1000.0

    def clear(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=2)
        try:
            keys = list(client.scan_iter(match=self.PREFIX + "*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


MEMORY = MemoryBuckets()
_redis: dict[str, RedisBuckets] = {}
_redis_warned: set[str] = set()


def redis_url() -> str:
    return (_env("REDIS_URL") or "").strip()


def _redis_store() -> RedisBuckets | None:
    url = redis_url()
    if not url:
        return None
    store = _redis.get(url)
    if store is None:
        store = _redis[url] = RedisBuckets(url)
    return store


def _fallback(url: str, exc: Exception) -> None:
    if url not in _redis_warned:
        _redis_warned.add(url)
        log.warning("rate limits: Redis at %s unreachable (%s); counting in this process instead", url, exc)


async def check(name: str, key: str, limit: Limit) -> None:
    """Take a token from ``name``'s bucket for ``key``; raise RateLimited when it is empty."""
    bucket = f"{name}:{key}"
    wait = None
    store = _redis_store()
    if store is not None:
        try:
            wait = await store.take(bucket, limit)
        except Exception as exc:  # any Redis failure: fall back, never fail the request
            _fallback(store.url, exc)
    if wait is None:
        wait = MEMORY.take(bucket, limit)
    if wait > 0:
        raise RateLimited(max(1, math.ceil(wait)), name)


def check_sync(name: str, key: str, limit: Limit) -> None:
    """The same, for code running outside the event loop (worker threads, CLI)."""
    bucket = f"{name}:{key}"
    wait = None
    store = _redis_store()
    if store is not None:
        try:
            wait = store.take_sync(bucket, limit)
        except Exception as exc:
            _fallback(store.url, exc)
    if wait is None:
        wait = MEMORY.take(bucket, limit)
    if wait > 0:
        raise RateLimited(max(1, math.ceil(wait)), name)


def rate_limit(
    name: str, per_minute: float = 600, burst: int | None = None, key: str | KeyFunc = "auto"
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency limiting requests per client key (see the module text).

    ``name`` names the bucket family and its setting (``CHAOYUN_RATE_LIMIT_<NAME>``); routes sharing a name
    share the buckets. ``burst`` defaults to ``per_minute`` (a minute's worth at once).
    """

    async def limited(request: Request) -> None:
        if not enabled():
            return
        limit = configured(name, per_minute, burst)
        if limit is None:
            return
        await check(name, key_for(request, key), limit)

    limited.__name__ = f"rate_limit_{env_name(name).lower()}"
    return limited


def clear() -> None:
    """Forget every in-process bucket, and the Redis ones when Redis is configured (tests, operators)."""
    MEMORY.clear()
    store = _redis_store()
    if store is not None:
        try:
            store.clear()
        except Exception as exc:
            _fallback(store.url, exc)
