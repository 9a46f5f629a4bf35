"""The telemetry store: one interface over SQLite and PostgreSQL.

Rows are ``(device_id, metric_id, ts_ms, value, text)``: ``ts_ms`` is epoch milliseconds (an integer
compares, groups and partitions much faster than a timestamp type), ``value`` holds numbers and
booleans (1.0 / 0.0), ``text`` holds string values.

- **SQLite** (default): a file of its own, ``$CHAOYUN_VAR_DIR/telemetry.db``, so that a high ingest rate
  never holds the main database's single write lock (logins and forms keep working) and so that
  ``auto_vacuum=INCREMENTAL`` can be set when the file is created: retention then really gives pages
  back to the file system. The table is ``WITHOUT ROWID`` and clustered on its primary key
  ``(device_id, metric_id, ts)``: the primary key is the only index, and a range query reads
  consecutive pages.
- **PostgreSQL**: ``telemetry`` is partitioned by range of ``ts`` (one partition per UTC day, created
  on demand) in the main database (created by the ``devices_0001`` migration); bulk writes use binary
  ``COPY``; retention drops whole partitions (disk freed at once) and deletes rows of enterprises whose
  own retention is shorter.

``telemetry_latest`` keeps the newest value of each (device, metric) for "current state" pages, and
under metric id 0 the time the device's last message was *received* (online / offline).

**Write buffer.** A table clustered by series pays for every series a batch touches: a batch from 2,000
devices with one point per series dirties thousands of B-tree pages, and writes them all at commit (measured:
40,000 rows/s on either backend, against 260,000 into a plain heap). So sparse batches (the streaming case:
MQTT, HTTP, gateways) are appended to ``telemetry_hot``, a heap without an index, and moved into ``telemetry``
in one sorted statement when the buffer holds ``HOT_ROWS`` rows or its oldest row is ``HOT_SECONDS`` old
(checked on write and by a background thread): a series then gets tens of points per move, one page touch for
all of them. On PostgreSQL the move runs on that background thread (``MOVE_BEHIND``): moves do not block writers
there, and a writer that moved the buffer itself stopped taking batches for the move's length (a quarter of an
MQTT ingest worker's time). Dense batches (backfill, imports: ``DENSE`` or more points per series) go to ``telemetry``
directly, sorted by key. Readers see both: a query adds the buffered points of its series (a scan of the small
buffer) to what the clustered table returns, first stored point winning as there.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl  # POSIX file locks order SQLite writers of several processes (Chaoyun runs on Linux)
import heapq
import json
import math
import os
import select
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import text as sql_text

from chaoyun.devices import rollups

ROLLUP_TABLES = ("telemetry_1m", "telemetry_1h", "telemetry_rollup_dirty")
SEEN_METRIC = 0  # pseudo metric in telemetry_latest: when the device's last message arrived
DAY_MS = 86_400_000
AGGREGATES = ("avg", "min", "max", "sum", "count", "last", "first")
HOT_ROWS = 100_000  # move the write buffer into the clustered table at this many rows ...
HOT_SECONDS = 2.0  # ... or when its oldest row (written by this process) is this old
DENSE = 8  # points per series from which a batch skips the buffer
PG_MOVE_LOCK = 0x63_79_68_6F_74  # advisory lock key of the buffer move on PostgreSQL ("cyhot")
# Advisory lock key of current-value upserts ("cylat"), taken with try: see PostgresStore._upsert_latest.
PG_LATEST_LOCK = 0x63_79_6C_61_74
MARKS_KEPT = 500_000  # rollup marks a PostgreSQL writer remembers (rollups.py: "skips marks"), then starts over
LATEST_SECONDS = 0.5  # current values are upserted at most this often per process (newest per series kept)
# SQLite page cache per connection. A worker holds up to three (ingest, write-behind, readers); the working set of
# a sorted move is one leaf page per series, so 16 MiB covers ~4,000 series and the OS page cache the rest.
CACHE_KIB = 16_384
# Writers checkpoint the WAL themselves only past this many pages (a backstop): the write-behind thread of each
# writing process checkpoints every LATEST_SECONDS, outside any write transaction.
AUTOCHECKPOINT_PAGES = 20_000


@dataclass(frozen=True, slots=True)
class Latest:
    metric_id: int
    ts: datetime
    value: float | None
    text: str | None

    @property
    def display(self) -> float | str | None:
        return self.text if self.text is not None else self.value


@dataclass(frozen=True, slots=True)
class BucketValue:
    ts: datetime  # start of the bucket (or the point's time for raw queries)
    value: float | None
    count: int


def to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return int(dt.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


RowT = tuple[int, int, int, float | None, str | None]  # (device_id, metric_id, ts epoch ms, value, text)
_DEVICE, _METRIC, _TS, _VALUE, _TEXT = (itemgetter(k) for k in range(5))


KeyCols = tuple[Any, Any, Any, Any]  # device, metric and time columns (numpy), and the order that sorts them by key
NUMPY_ROWS = 4096  # from this many rows a batch's key columns are built once in numpy and shared


def key_columns(rows: Sequence[RowT]) -> KeyCols:
    import numpy as np

    n = len(rows)
    di = np.fromiter(map(_DEVICE, rows), np.int32, count=n)
    mi = np.fromiter(map(_METRIC, rows), np.int32, count=n)
    ti = np.fromiter(map(_TS, rows), np.int64, count=n)
    return di, mi, ti, np.lexsort((ti, mi, di))  # stable: of equal keys the later row comes last


def latest_of(rows: Sequence[RowT], keys: KeyCols | None = None) -> dict[tuple[int, int], RowT]:
    """The newest row of each series (of equal times, the later one)."""
    if keys is not None:  # the last row of each series in key order (a 50,000-row loop took 16 ms, this 4)
        import numpy as np

        di, mi, _ti, order = keys
        d, m = di[order], mi[order]
        last = np.ones(len(d), bool)
        last[:-1] = (d[1:] != d[:-1]) | (m[1:] != m[:-1])
        picked = [rows[i] for i in order[last].tolist()]
        return {(r[0], r[1]): r for r in picked}
    newest: dict[tuple[int, int], RowT] = {}
    get = newest.get
    for r in rows:
        k = (r[0], r[1])
        old = get(k)
        if old is None or r[2] >= old[2]:
            newest[k] = r
    return newest


class TelemetryStore(ABC):
    """What every backend offers. ``metric`` arguments take a metric id or the metric's key."""

    # Due moves go to the write-behind thread instead of the writer that found them due. Only where a move does
    # not block writes anyway (PostgreSQL; SQLite has one writer at a time, so the writer would wait regardless).
    MOVE_BEHIND = False

    def __init__(self) -> None:
        self._move_due = threading.Event()
        self._hot_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._hot_count = 0  # rows this process put in the buffer since it last moved it
        self._hot_since: float | None = None
        self._latest_lock = threading.Lock()
        self._pending: dict[int, dict[int, RowT]] = {}  # current values not yet upserted, by device and metric
        self._flying: list[dict[int, dict[int, RowT]]] = []  # taken for an upsert that has not committed yet
        self._latest_at = 0.0
        self._latest_writer: tuple[int, threading.Thread] | None = None  # (pid, thread)
        self._wrote = False  # since the write-behind thread last checkpointed
        atexit.register(self.write_pending)

    def write(self, rows: Sequence[RowT], received_ms: int | None = None) -> int:
        """Store rows (an already stored (device, metric, ts) is ignored: redelivery is harmless)."""
        if not rows:
            return 0
        keys = key_columns(rows) if len(rows) >= NUMPY_ROWS else None
        newest = latest_of(rows, keys)  # the series of the batch and their newest rows
        latest = list(newest.values())
        if received_ms is not None:
            latest += [(d, SEEN_METRIC, received_ms, None, None) for d in {k[0] for k in newest}]
        dense = len(rows) >= DENSE * len(newest)
        if dense:
            # What the buffer holds was stored first; moved first, it keeps winning over a redelivery.
            self.flush(wait=False)
        taken = self._take_latest(latest)
        ok = False
        try:
            # False: the rows are stored but the current values were not written (kept for the next round).
            ok = self._write(rows, [r for per in taken.values() for r in per.values()], dense, keys) is not False
        finally:
            self._landed(taken, ok)
            # Set after the commit: the write-behind thread may checkpoint (and clear the flag) while a long write
            # is still open, and must still fold this write back afterwards.
            self._wrote = True
        if not dense:
            with self._hot_lock:
                self._hot_count += len(rows)
                if self._hot_since is None:
                    self._hot_since = time.monotonic()
                due = self._hot_count >= HOT_ROWS or time.monotonic() - self._hot_since >= HOT_SECONDS
            if due:
                if self.MOVE_BEHIND:
                    self._move_due.set()
                else:
                    self.flush(wait=False)
        return len(rows)

    def flush(self, wait: bool = True) -> None:
        """Move the write buffer into the clustered table (any process's rows, not only this one's).

        Writers pass ``wait=False``: when another thread of this process is moving it now, they go on. Everyone
        else (retention, rollups, tests) waits for that move and then moves what is left, so the buffer they
        asked to move has moved when this returns (a move on the write-behind thread is common on PostgreSQL)."""
        if not self._flush_lock.acquire(blocking=wait):
            return
        try:
            with self._hot_lock:
                self._hot_count, self._hot_since = 0, None
            self._flush()
        finally:
            self._flush_lock.release()

    # Current values (telemetry_latest) are written behind: a device that reports ten times a second had
    # its four rows upserted ten times a second, the largest single cost of MQTT ingest (about 19 µs of
    # 112 per message, measured). Now the newest row per series waits in memory for at most
    # LATEST_SECONDS and goes out with the next batch or the write-behind thread; this process's readers see it at once,
    # other processes up to LATEST_SECONDS later. Reading them out of the buffer table instead was
    # measured at 0.5-1.8 s for a 2,000-device status page.

    def _keep_pending(self, rows: Iterable[RowT]) -> None:
        for r in rows:
            per = self._pending.setdefault(r[0], {})
            old = per.get(r[1])
            if old is None or r[2] >= old[2]:
                per[r[1]] = r

    def _take_latest(self, rows: Sequence[RowT]) -> dict[int, dict[int, RowT]]:
        """What to upsert with this batch: all that is pending when due, else nothing (the write-behind thread).
        Taken values stay visible to this process's readers until _landed."""
        with self._latest_lock:
            self._ensure_writer()  # it also moves an old buffer and checkpoints, so every writing process has one
            self._keep_pending(rows)
            now = time.monotonic()
            if now - self._latest_at >= LATEST_SECONDS:
                self._latest_at = now
                taken, self._pending = self._pending, {}
                self._flying.append(taken)
                return taken
            return {}

    def _ensure_writer(self) -> None:
        pid = os.getpid()
        if self._latest_writer is None or self._latest_writer[0] != pid:  # (none yet, or a forked child)
            t = threading.Thread(target=self._write_behind, daemon=True, name="telemetry-latest")
            self._latest_writer = (pid, t)
            t.start()

    def _landed(self, taken: dict[int, dict[int, RowT]], ok: bool) -> None:
        with self._latest_lock:
            for i, f in enumerate(self._flying):
                if f is taken:
                    del self._flying[i]
                    break
            if not ok:  # the next batch or round tries again
                self._keep_pending(r for per in taken.values() for r in per.values())

    def _write_behind(self) -> None:
        # One long-lived thread (one connection) per process, not a timer thread per wait. It also moves a
        # write buffer that has grown old while no write came to check it (the last batch before a quiet spell),
        # and checkpoints what this process wrote (off the writers' path, see SqliteStore._checkpoint).
        while True:
            if self._move_due.wait(LATEST_SECONDS):
                self._move_due.clear()
                with contextlib.suppress(Exception):  # the next write or round tries again
                    self.flush(wait=False)
            if self._pending and time.monotonic() - self._latest_at >= LATEST_SECONDS:
                self.write_pending()
            since = self._hot_since
            if since is not None and time.monotonic() - since >= HOT_SECONDS:
                with contextlib.suppress(Exception):  # the next write or round tries again
                    self.flush(wait=False)
            if self._wrote:
                self._wrote = False
                with contextlib.suppress(Exception):
                    self._checkpoint()

    def _checkpoint(self) -> None:
        """Backends with a write-ahead log of their own to fold back (SQLite) do it here."""
        return None

    def write_pending(self) -> None:
        """Upsert the current values still held in memory (write-behind thread, process exit)."""
        with self._latest_lock:
            self._latest_at = time.monotonic()
            if not self._pending:
                return
            taken, self._pending = self._pending, {}
            self._flying.append(taken)
        ok = False
        try:
            ok = self._upsert([r for per in taken.values() for r in per.values()]) is not False
        except Exception:
            pass  # kept (below) for the next batch or round
        finally:
            self._landed(taken, ok)

    @abstractmethod
    def _upsert(self, latest: Sequence[RowT]) -> bool | None:
        """Upsert current values in a transaction of their own (False: not now, keep them for the next round)."""

    def latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]:
        """Newest value per metric id, per device (metric id 0: last message received)."""
        # Held values are copied before the database is read: one that commits in between is then in the
        # read, one that does not is in the copy.
        held: list[RowT] = []
        with self._latest_lock:
            for src in (*self._flying, self._pending):
                if src:
                    for d in device_ids:
                        per = src.get(d)
                        if per:
                            held.extend(per.values())
        out = self._latest_rows(device_ids)
        for r in held:
            cur = out.setdefault(r[0], {})
            old = cur.get(r[1])
            if old is None or r[2] >= to_ms(old.ts):
                cur[r[1]] = Latest(r[1], from_ms(r[2]), r[3], r[4])
        return out

    @abstractmethod
    def _write(
        self, rows: Sequence[RowT], latest: Sequence[RowT], dense: bool, keys: KeyCols | None = None
    ) -> bool | None:
        """One transaction: rows into the buffer (or, dense, sorted into the clustered table), latest upserted
        (False: the rows are stored, the current values were left for the next round)."""

    @abstractmethod
    def _flush(self) -> None: ...

    @abstractmethod
    def touch(self, device_ids: Iterable[int], received_ms: int) -> None:
        """Record that these devices were heard from (a message whose points were all rejected)."""

    @abstractmethod
    def _latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]: ...

    @abstractmethod
    def _aggregate(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, width: int, agg: str
    ) -> list[tuple[int, float | None, int, int]]:
        """Buckets of the clustered table: (bucket, value, rows, extra) where for ``avg`` value is the sum
        and extra the count of non-null values, for ``first`` / ``last`` extra is the chosen point's ts."""

    # The backends differ in the driver's placeholder and in the column that orders the buffer.
    MARK = "?"
    HOT_ORDER = "rowid"

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a query on this thread's connection and return its rows."""

    def _cold_rows(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[int, float | None, str | None]]:
        k = self.MARK
        return self._fetch(
            f"SELECT ts, value, text FROM telemetry WHERE device_id = {k} AND metric_id = {k} AND ts >= {k} "
            f"AND ts < {k} ORDER BY ts LIMIT {k}",
            (device_id, metric_id, start_ms, end_ms, limit),
        )

    def _hot_rows(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int
    ) -> list[tuple[int, float | None, str | None]]:
        """Buffered points of one series in the range, in the order they were written."""
        k = self.MARK
        return self._fetch(
            f"SELECT ts, value, text FROM telemetry_hot WHERE device_id = {k} AND metric_id = {k} AND ts >= {k} "
            f"AND ts < {k} ORDER BY {self.HOT_ORDER}",
            (device_id, metric_id, start_ms, end_ms),
        )

    def count(self, device_id: int | None = None) -> int:
        """Stored points (the buffer's counted once and only where the clustered table lacks them)."""
        if device_id is None:
            cold = self._fetch("SELECT count(*) FROM telemetry")[0][0]
            return int(cold + self._fetch(COUNT_HOT.format(where="WHERE 1 = 1"))[0][0])
        k = self.MARK
        cold = self._fetch(f"SELECT count(*) FROM telemetry WHERE device_id = {k}", (device_id,))[0][0]
        hot = self._fetch(COUNT_HOT.format(where=f"WHERE h.device_id = {k}"), (device_id,))[0][0]
        return int(cold + hot)

    @abstractmethod
    def _cold_has(self, device_id: int, metric_id: int, ts: list[int]) -> set[int]:
        """Which of these timestamps the clustered table already holds for the series."""

    @abstractmethod
    def _delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int: ...

    @abstractmethod
    def _drop_before(self, cutoff_ms: int) -> int: ...

    @abstractmethod
    def reclaim(self) -> None:
        """Give freed space back to the file system."""

    @abstractmethod
    def size_bytes(self) -> int: ...

    @abstractmethod
    def _delete_device(self, device_id: int) -> None: ...

    # ---------------------------------------------------------------- shared

    def delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int:
        self.flush()  # retention then has one table to cut
        return self._delete_before(device_ids, cutoff_ms)

    def drop_before(self, cutoff_ms: int) -> int:
        """Remove everything older than cutoff for all devices (the platform-wide horizon)."""
        self.flush()
        return self._drop_before(cutoff_ms)

    def delete_device(self, device_id: int) -> None:
        self.flush()
        self._delete_device(device_id)
        # SQLite may give the id to the next device, which may have another profile: forget what it resolved.
        with _keys_lock:
            for k in [k for k in _device_metric if k[0] == device_id]:
                del _device_metric[k]

    def _hot_points(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int
    ) -> list[tuple[int, float | None, str | None]]:
        """Buffered points that count: the first written per ts, and none the clustered table already has."""
        first: dict[int, tuple[int, float | None, str | None]] = {}
        for p in self._hot_rows(device_id, metric_id, start_ms, end_ms):
            first.setdefault(p[0], p)
        if not first:
            return []
        known = self._cold_has(device_id, metric_id, list(first))
        return sorted((p for ts, p in first.items() if ts not in known), key=itemgetter(0))

    def raw_rows(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[int, float | None, str | None]]:
        cold = self._cold_rows(device_id, metric_id, start_ms, end_ms, limit)
        hot = self._hot_points(device_id, metric_id, start_ms, end_ms)
        if not hot:
            return cold
        return list(heapq.merge(cold, hot, key=itemgetter(0)))[:limit]

    def buckets(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, width: int, agg: str
    ) -> list[tuple[int, float | None, int]]:
        """(bucket index, value, rows) of the non-empty buckets, clustered table and buffer together."""
        acc: dict[int, list[Any]] = {
            b: [v, n, x] for b, v, n, x in self._aggregate(device_id, metric_id, start_ms, end_ms, width, agg)
        }
        for ts, v, _t in self._hot_points(device_id, metric_id, start_ms, end_ms):
            b = (ts - start_ms) // width
            cur = acc.get(b)
            if cur is None:
                acc[b] = cur = [None, 0, 0]
                if agg in ("first", "last"):
                    cur[0], cur[1], cur[2] = v, 1, ts
                    continue
            cur[1] += 1
            if agg == "count":
                cur[0] = cur[1]
            elif agg in ("first", "last"):
                if (ts > cur[2]) if agg == "last" else (ts < cur[2]):
                    cur[0], cur[2] = v, ts
            elif v is not None:
                if agg in ("avg", "sum"):
                    cur[0] = v if cur[0] is None else cur[0] + v
                    cur[2] += 1
                elif cur[0] is None or (v < cur[0] if agg == "min" else v > cur[0]):
                    cur[0] = v
        out = []
        for b in sorted(acc):
            v, n, x = acc[b]
            if agg == "avg":
                v = v / x if x else None
            out.append((b, None if v is None else float(v), int(n)))
        return out

    def latest(self, device_id: int) -> dict[str, Latest]:
        """The device's current values by metric key (what a "current state" page needs)."""
        rows = self.latest_rows([device_id]).get(device_id, {})
        keys = metric_keys()
        if any(m not in keys for m in rows if m != SEEN_METRIC):
            # A metric created since the cache was filled (a new device model): reload once.
            forget_metric_cache()
            keys = metric_keys()
        return {keys[m]: v for m, v in rows.items() if m in keys}

    def last_seen(self, device_ids: Sequence[int]) -> dict[int, datetime]:
        out: dict[int, datetime] = {}
        for dev, metrics in self.latest_rows(device_ids).items():
            seen = metrics.get(SEEN_METRIC)
            if seen is not None:
                out[dev] = seen.ts
        return out

    def query(
        self,
        device_id: int,
        metric: int | str,
        start: datetime,
        end: datetime,
        buckets: int | None = 1000,
        agg: str = "avg",
    ) -> list[BucketValue]:
        """Values of one metric in [start, end): downsampled into at most ``buckets`` equal-width buckets
        (empty buckets are left out), or every stored point when ``buckets`` is None / 0."""
        if agg not in AGGREGATES:
            raise ValueError(f"unknown aggregate {agg}")
        metric_id = resolve_metric(device_id, metric)
        if metric_id is None:
            return []
        s, e = to_ms(start), to_ms(end)
        if e <= s:
            return []
        if not buckets:
            return [BucketValue(from_ms(ts), v, 1) for ts, v, _t in self.raw_rows(device_id, metric_id, s, e, 10**7)]
        width = max(1, math.ceil((e - s) / buckets))
        tier = rollups.pick_tier(s, e, width)
        if tier is not None:
            # Long ranges read the coarsest stored rollup (see chaoyun/devices/rollups.py); the buckets are then
            # aligned to the tier's grid.
            s0, w, got = rollups.tier_buckets(self, device_id, metric_id, s, e, width, agg, tier)
            return [BucketValue(from_ms(max(s, s0 + b * w)), v, n) for b, v, n in got]
        return [
            BucketValue(from_ms(s + b * width), v, n)
            for b, v, n in self.buckets(device_id, metric_id, s, e, width, agg)
        ]

    def raw(
        self, device_id: int, metric: int | str, start: datetime, end: datetime, limit: int = 100_000
    ) -> list[tuple[datetime, float | None, str | None]]:
        metric_id = resolve_metric(device_id, metric)
        if metric_id is None:
            return []
        return [(from_ms(t), v, x) for t, v, x in self.raw_rows(device_id, metric_id, to_ms(start), to_ms(end), limit)]


# ---------------------------------------------------------------- metric ids ↔ keys (main database)

_keys_lock = threading.Lock()
_metric_keys: dict[int, str] = {}
_device_metric: dict[tuple[int, str], int] = {}


def metric_keys() -> dict[int, str]:
    from chaoyun.db import get_engine

    with _keys_lock:
        if not _metric_keys:
            with get_engine().connect() as conn:
                for mid, key in conn.execute(sql_text("SELECT id, key FROM device_metrics")):
                    _metric_keys[int(mid)] = str(key)
        return _metric_keys


def forget_metric_cache() -> None:
    with _keys_lock:
        _metric_keys.clear()
        _device_metric.clear()


def resolve_metric(device_id: int, metric: int | str) -> int | None:
    if isinstance(metric, int):
        return metric
    key = (device_id, metric)
    if key in _device_metric:
        return _device_metric[key]
    from chaoyun.db import get_engine

    with get_engine().connect() as conn:
        found = conn.execute(
            sql_text(
                "SELECT m.id FROM device_metrics m JOIN devices d ON d.model_id = m.model_id "
                "WHERE d.id = :d AND m.key = :k"
            ),
            {"d": device_id, "k": metric},
        ).scalar()
    if found is None:
        # Not cached: the metric may be added to the device's profile in a moment, and a miss must not
        # hide it for the life of the process.
        return None
    _device_metric[key] = int(found)
    return _device_metric[key]


# ---------------------------------------------------------------- SQLite

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry (
    device_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL,
    text TEXT,
    PRIMARY KEY (device_id, metric_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry_latest (
    device_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL,
    text TEXT,
    PRIMARY KEY (device_id, metric_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry_hot (
    device_id INTEGER NOT NULL,
    metric_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL,
    text TEXT
);
""" + rollups.SQLITE_ROLLUP_SCHEMA
UPSERT_LATEST = (
    "INSERT INTO telemetry_latest (device_id, metric_id, ts, value, text) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (device_id, metric_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
    "text = excluded.text WHERE excluded.ts >= telemetry_latest.ts"
)


# Buffered rows no clustered row shadows, counted once per (device, metric, ts) (both backends' SQL).
COUNT_HOT = (
    "SELECT count(*) FROM (SELECT DISTINCT h.device_id, h.metric_id, h.ts FROM telemetry_hot h {where} "
    "AND NOT EXISTS (SELECT 1 FROM telemetry c WHERE c.device_id = h.device_id "
    "AND c.metric_id = h.metric_id AND c.ts = h.ts)) q"
)
VALUES_PER_STATEMENT = 100
SQLITE_HOT_MARKS = "SELECT DISTINCT device_id, metric_id, (ts / 3600000) * 3600000, 0 FROM telemetry_hot WHERE 1 = 1"


def _insert_many(conn: sqlite3.Connection, head: str, rows: Sequence[RowT]) -> None:
    """INSERT with 100 rows per statement: binding a flat parameter list costs less per row than
    executemany's per-row statement reset (measured: about 30 % more rows/s)."""
    per = VALUES_PER_STATEMENT
    full = len(rows) - len(rows) % per
    if full:
        sql = head + ",".join(["(?, ?, ?, ?, ?)"] * per)
        flat = list(chain.from_iterable(rows[:full]))
        step = per * 5
        for i in range(0, len(flat), step):
            conn.execute(sql, flat[i : i + step])
    if full < len(rows):
        conn.executemany(head + "(?, ?, ?, ?, ?)", rows[full:])


class SqliteStore(TelemetryStore):
    _lock_fd: tuple[int, int] | None  # (pid, descriptor) of the writers' lock file

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection, one writer at a time.

        Writers of other processes (several ingest workers, the web server) queue on a file lock first:
        SQLite's own busy handler polls with sleeps of up to 100 ms, so two busy workers left to it spent much
        of their time asleep while the lock was free (measured: each at half a core, with a backlog growing)."""
        conn = self._conn()
        with self._write_lock:
            fd = self._writer_fd()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _writer_fd(self) -> int | None:
        pid = os.getpid()
        if self._lock_fd is None or self._lock_fd[0] != pid:
            # Opened again in a forked child: a descriptor inherited from the parent would share its lock.
            self._lock_fd = (pid, os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644))
        return self._lock_fd[1]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._lock_path = path.with_name(path.name + ".writer")
        self._lock_fd = None
        self._local = threading.local()
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        # auto_vacuum only takes effect on a file without tables, hence before the schema.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SQLITE_SCHEMA)
        conn.close()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            self._local.conn = conn
        return conn

    def _write(
        self, rows: Sequence[RowT], latest: Sequence[RowT], dense: bool, keys: KeyCols | None = None
    ) -> None:
        if dense:  # sorted, each series' points land on the same pages one after another
            rows = sorted(rows, key=itemgetter(0, 1, 2))
        with self._immediate() as conn:
            if dense:
                _insert_many(conn, "INSERT OR IGNORE INTO telemetry VALUES ", rows)
                conn.executemany(
                    rollups.MARK_UPSERT.format(source="VALUES (?, ?, ?, 0)"), rollups.hour_marks(rows)
                )
            else:
                _insert_many(conn, "INSERT INTO telemetry_hot VALUES ", rows)
            if latest:
                conn.executemany(UPSERT_LATEST, latest)

    def _flush(self) -> None:
        if not self._fetch("SELECT 1 FROM telemetry_hot LIMIT 1"):
            return  # nothing buffered: no write transaction (dense writers call this before every batch)
        with self._immediate() as conn:  # no other writer until COMMIT: the whole buffer moves
            conn.execute(
                "INSERT OR IGNORE INTO telemetry SELECT device_id, metric_id, ts, value, text FROM telemetry_hot "
                "ORDER BY device_id, metric_id, ts, rowid"
            )
            # The hours these rows fall in need their rollups recomputed (same transaction: no mark lost).
            conn.execute(rollups.MARK_UPSERT.format(source=SQLITE_HOT_MARKS))
            conn.execute("DELETE FROM telemetry_hot")

    def touch(self, device_ids: Iterable[int], received_ms: int) -> None:
        self._upsert([(d, SEEN_METRIC, received_ms, None, None) for d in device_ids])

    def _upsert(self, latest: Sequence[RowT]) -> None:
        with self._immediate() as conn:
            conn.executemany(UPSERT_LATEST, latest)

    def _checkpoint(self) -> None:
        # PASSIVE: copies what no reader still needs, without waiting for or blocking writers (it holds only the
        # checkpoint lock). Left to SQLite's automatic checkpoint, the commit that crossed 1,000 WAL pages did it
        # inside its write transaction: 70-120 ms of a 100,000-row move's 200 ms, with every other writer waiting.
        self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]:
        out: dict[int, dict[int, Latest]] = {}
        conn = self._conn()
        ids = list(device_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for d, m, ts, v, t in conn.execute(
                f"SELECT device_id, metric_id, ts, value, text FROM telemetry_latest WHERE device_id IN ({marks})",
                chunk,
            ):
                out.setdefault(d, {})[m] = Latest(m, from_ms(ts), v, t)
        return out

    def _aggregate(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, width: int, agg: str
    ) -> list[tuple[int, float | None, int, int]]:
        # One index range read per bucket (a generated bucket list with correlated subqueries): about half
        # the work of GROUP BY on a computed bucket, which needs a temporary B-tree to sort 86,400 rows.
        n = -(-(end_ms - start_ms) // width)
        rng = "device_id = :d AND metric_id = :m AND ts >= :s + i * :w AND ts < min(:s + (i + 1) * :w, :e)"
        if agg in ("last", "first"):
            order = "DESC" if agg == "last" else "ASC"
            inner = (
                f"json_array(json((SELECT json_array(value, ts) FROM telemetry WHERE {rng} "
                f"ORDER BY ts {order} LIMIT 1)), "
                f"(SELECT count(*) FROM telemetry WHERE {rng}))"
            )
        elif agg == "avg":
            inner = f"(SELECT json_array(sum(value), count(*), count(value)) FROM telemetry WHERE {rng})"
        else:
            expr = {"min": "min(value)", "max": "max(value)", "sum": "sum(value)"}
            inner = f"(SELECT json_array({expr.get(agg, 'count(*)')}, count(*), 0) FROM telemetry WHERE {rng})"
        sql = (
            f"WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :n) SELECT i, {inner} FROM k"
        )
        out: list[tuple[int, float | None, int, int]] = []
        params = {"n": n, "d": device_id, "m": metric_id, "s": start_ms, "w": width, "e": end_ms}
        for i, packed in self._conn().execute(sql, params):
            if agg in ("last", "first"):
                point, cnt = json.loads(packed)
                v, x = point if point is not None else (None, 0)
            else:
                v, cnt, x = json.loads(packed)
            if cnt:
                out.append((int(i), None if v is None else float(v), int(cnt), int(x)))
        return out

    def _cold_has(self, device_id: int, metric_id: int, ts: list[int]) -> set[int]:
        found: set[int] = set()
        conn = self._conn()
        for i in range(0, len(ts), 500):
            chunk = ts[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                t
                for (t,) in conn.execute(
                    f"SELECT ts FROM telemetry WHERE device_id = ? AND metric_id = ? AND ts IN ({marks})",
                    (device_id, metric_id, *chunk),
                )
            )
        return found

    def _delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int:
        conn = self._conn()
        total = 0
        with self._write_lock:
            for d in device_ids:
                total += conn.execute("DELETE FROM telemetry WHERE device_id = ? AND ts < ?", (d, cutoff_ms)).rowcount
        return total

    def _drop_before(self, cutoff_ms: int) -> int:
        with self._write_lock:
            return self._conn().execute("DELETE FROM telemetry WHERE ts < ?", (cutoff_ms,)).rowcount

    def reclaim(self) -> None:
        conn = self._conn()
        with self._write_lock:
            # sqlite3_exec steps the pragma to the end (execute() would free a single page per call).
            conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size_bytes(self) -> int:
        conn = self._conn()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages * size)

    def file_bytes(self) -> int:
        return self.path.stat().st_size

    def _delete_device(self, device_id: int) -> None:
        with self._write_lock:
            conn = self._conn()
            conn.execute("DELETE FROM telemetry WHERE device_id = ?", (device_id,))
            conn.execute("DELETE FROM telemetry_hot WHERE device_id = ?", (device_id,))
            conn.execute("DELETE FROM telemetry_latest WHERE device_id = ?", (device_id,))
            for t in ROLLUP_TABLES:
                conn.execute(f"DELETE FROM {t} WHERE device_id = ?", (device_id,))

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._conn().execute(sql, params).fetchall()


# ---------------------------------------------------------------- PostgreSQL

# The write buffer (see the module's docstring); seq orders it, so the first stored duplicate wins.
PG_HOT_TABLE = """CREATE TABLE IF NOT EXISTS telemetry_hot (
        device_id integer NOT NULL,
        metric_id integer NOT NULL,
        ts bigint NOT NULL,
        value double precision,
        text text,
        seq bigint GENERATED ALWAYS AS IDENTITY
    )"""
PG_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS telemetry (
        device_id integer NOT NULL,
        metric_id integer NOT NULL,
        ts bigint NOT NULL,
        value double precision,
        text text,
        PRIMARY KEY (device_id, metric_id, ts)
    ) PARTITION BY RANGE (ts)""",
    """CREATE TABLE IF NOT EXISTS telemetry_latest (
        device_id integer NOT NULL,
        metric_id integer NOT NULL,
        ts bigint NOT NULL,
        value double precision,
        text text,
        PRIMARY KEY (device_id, metric_id)
    )""",
    PG_HOT_TABLE,
    *rollups.PG_ROLLUP_SCHEMA,
)
PG_UPSERT_LATEST = (
    "INSERT INTO telemetry_latest (device_id, metric_id, ts, value, text) "
    "SELECT * FROM unnest(%s::int[], %s::int[], %s::bigint[], %s::float8[], %s::text[]) "
    "ON CONFLICT (device_id, metric_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
    "text = excluded.text WHERE excluded.ts >= telemetry_latest.ts"
)
COPY_SQL = "COPY {table} (device_id, metric_id, ts, value, text) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["int4", "int4", "int8", "float8", "text"]


def partition_name(day_start_ms: int) -> str:
    return "telemetry_d" + from_ms(day_start_ms).strftime("%Y%m%d")


PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
PG_COPY_TRAILER = b"\xff\xff"


_COPY_ROW = [
    ("n", ">i2"),
    ("l0", ">i4"),
    ("d", ">i4"),
    ("l1", ">i4"),
    ("m", ">i4"),
    ("l2", ">i4"),
    ("ts", ">i8"),
    ("l3", ">i4"),
    ("v", ">f8"),
    ("l4", ">i4"),
]


def _numeric_columns(
    rows: Sequence[RowT], by_key: bool, keys: KeyCols | None = None
) -> tuple[Any, Any, Any, Any] | None:
    """Device, metric, time and value columns of numeric rows as numpy arrays (sorted by key when asked), or
    None where a row holds text or no value. Column by column from the rows (``np.fromiter``): a quarter of the
    CPU of transposing them with ``zip(*rows)`` first. ``keys``: the batch's key columns, already built."""
    import numpy as np

    n = len(rows)
    if list(map(_TEXT, rows)).count(None) != n:
        return None
    try:
        vi = np.fromiter(map(_VALUE, rows), np.float64, count=n)
    except TypeError:  # a row without a value (None)
        return None
    if keys is not None:
        di, mi, ti, order = keys
    else:
        di = np.fromiter(map(_DEVICE, rows), np.int32, count=n)
        mi = np.fromiter(map(_METRIC, rows), np.int32, count=n)
        ti = np.fromiter(map(_TS, rows), np.int64, count=n)
        order = np.lexsort((ti, mi, di)) if by_key else None
    if by_key:
        di, mi, ti, vi = di[order], mi[order], ti[order], vi[order]
    return di, mi, ti, vi


def _image_of(cols: tuple[Any, Any, Any, Any]) -> bytes:
    """The binary COPY image of numeric columns (built column-wise: a tenth of the CPU of row by row)."""
    import numpy as np

    di, mi, ti, vi = cols
    # Each row: field count, then (length, value) per field; text is NULL (length -1).
    img = np.empty(len(di), np.dtype(_COPY_ROW))
    img["n"], img["l0"], img["l1"], img["l2"], img["l3"], img["l4"] = 5, 4, 4, 8, 8, -1
    img["d"], img["m"], img["ts"], img["v"] = di, mi, ti, vi
    return PG_COPY_HEADER + img.tobytes() + PG_COPY_TRAILER


def _copy_image(rows: Sequence[RowT], by_key: bool) -> bytes | None:
    """The binary COPY image of numeric rows (optionally sorted by key); None where a row holds text or no value."""
    cols = _numeric_columns(rows, by_key)
    return None if cols is None else _image_of(cols)


def _hour_marks_of(cols: tuple[Any, Any, Any, Any]) -> list[tuple[int, int, int]]:
    """``rollups.hour_marks`` of key-sorted columns: where device, metric or hour changes."""
    import numpy as np

    di, mi, ti, _vi = cols
    hi = ti - ti % rollups.HOUR_MS
    first = np.ones(len(di), bool)
    first[1:] = (di[1:] != di[:-1]) | (mi[1:] != mi[:-1]) | (hi[1:] != hi[:-1])
    return list(zip(di[first].tolist(), mi[first].tolist(), hi[first].tolist(), strict=True))


def _target_table(lo: int, hi: int) -> str:
    """Where rows with timestamps in [lo, hi] go: within one day, that day's partition itself (no routing row by
    row); across days, the partitioned table."""
    return partition_name(lo - lo % DAY_MS) if lo // DAY_MS == hi // DAY_MS else "telemetry"


class PostgresStore(TelemetryStore):
    MOVE_BEHIND = True
    MARK = "%s"
    HOT_ORDER = "seq"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self._local = threading.local()
        self._partitions: set[int] = set()
        self._part_lock = threading.Lock()
        self._marked: set[tuple[int, int, int]] = set()  # marks this process wrote in epoch _mark_epoch
        self._marks_lock = threading.Lock()
        self._mark_epoch: int | None = None

    def _conn(self) -> Any:
        import psycopg

        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and select.select([conn.fileno()], [], [], 0)[0]:
            # An idle connection with something to read was ended by the server (restart, admin kill,
            # idle timeout): open a fresh one instead of failing the next request with it.
            conn.close()
        if conn is None or conn.closed:
            conn = psycopg.connect(self.url, autocommit=True)
            self._local.conn = conn
        return conn

    def _ensure_partitions(self, conn: Any, lo_ms: int, hi_ms: int) -> None:
        first = lo_ms - lo_ms % DAY_MS
        days = range(first, hi_ms + 1, DAY_MS)
        missing = [d for d in days if d not in self._partitions]
        if not missing:
            return
        with self._part_lock:
            for day in missing:
                # An advisory lock serialises creators in different processes (CREATE ... IF NOT EXISTS can
                # still race on the catalog otherwise).
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(724001)")
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF telemetry "
                        f"FOR VALUES FROM ({day}) TO ({day + DAY_MS})"
                    )
                self._partitions.add(day)

    @staticmethod
    def _copy(conn: Any, table: str, rows: Sequence[RowT], image: bytes | None) -> None:
        with conn.cursor() as cur, cur.copy(COPY_SQL.format(table=table)) as cp:
            if image is not None:
                cp.write(image)
            else:
                cp.set_types(COPY_TYPES)
                for r in rows:
                    cp.write_row(r)

    def _write(
        self, rows: Sequence[RowT], latest: Sequence[RowT], dense: bool, keys: KeyCols | None = None
    ) -> bool:
        import psycopg

        conn = self._conn()
        cols = _numeric_columns(rows, by_key=dense, keys=keys)
        image = None if cols is None else _image_of(cols)
        if not dense:
            with conn.transaction():
                self._copy(conn, "telemetry_hot", rows, image)
                return self._upsert_latest(conn, latest)
        if cols is None:
            rows = sorted(rows, key=itemgetter(0, 1, 2))
            lo, hi = min(map(_TS, rows)), max(map(_TS, rows))
            marks = rollups.hour_marks(rows)
        else:
            lo, hi = int(cols[2].min()), int(cols[2].max())
            marks = _hour_marks_of(cols)
        try:
            self._ensure_partitions(conn, lo, hi)
        except psycopg.Error:
            self._partitions.clear()
            raise
        with conn.transaction():
            self._into_cold(conn, lo, hi, rows, image)
            epoch = self._mark_new(conn, marks)
            done = self._upsert_latest(conn, latest)
        self._remember_marks(epoch, marks)
        return done

    def _remember_marks(self, epoch: int | None, marks: list[tuple[int, int, int]]) -> None:
        """After the commit: these marks are there until the epoch moves on (None: the lock was not free)."""
        if epoch is None:
            return
        with self._marks_lock:  # writers and the write-behind thread's moves
            if epoch != self._mark_epoch or len(self._marked) > MARKS_KEPT:
                self._marked, self._mark_epoch = set(), epoch
            self._marked.update(marks)

    def _mark_new(self, conn: Any, marks: list[tuple[int, int, int]]) -> int | None:
        """Upsert the marks this process has not written in the current mark epoch (all of them if the epoch
        moved or its lock is taken); returns the epoch read, None if the lock was not free (rollups.py)."""
        free, epoch = conn.execute(
            "SELECT pg_try_advisory_xact_lock_shared(%s), "
            "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM telemetry_rollup_epoch)",  # 1st nextval: 1
            (rollups.MARKS_LOCK,),
        ).fetchone()
        if not free:
            self._mark(conn, marks)
            return None
        known = self._marked if epoch == self._mark_epoch else ()
        self._mark(conn, [m for m in marks if m not in known] if known else marks)
        return int(epoch)

    def _into_cold(self, conn: Any, lo: int, hi: int, rows: Sequence[RowT], image: bytes | None) -> None:
        """COPY (rows, or their binary image) into the clustered table; known rows are skipped."""
        import psycopg

        table = _target_table(lo, hi)
        try:
            with conn.transaction():
                self._copy(conn, table, rows, image)
        except psycopg.errors.UniqueViolation:
            # Some rows were stored before (a redelivered batch): stage them and skip the known ones.
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS telemetry_stage "
                "(device_id int, metric_id int, ts bigint, value float8, text text) ON COMMIT DELETE ROWS"
            )
            self._copy(conn, "telemetry_stage", rows, image)
            conn.execute(
                "INSERT INTO telemetry SELECT DISTINCT ON (device_id, metric_id, ts) * FROM telemetry_stage "
                "ON CONFLICT DO NOTHING"
            )

    def _flush(self) -> None:
        import psycopg

        conn = self._conn()
        # One mover at a time across processes. Two workers moving the same rows at once copied them twice and
        # the second waited on the first's unique-index entries (measured: workers idle half the time). The lock is
        # taken before the move's snapshot, so a mover never sees rows the previous one has already moved.
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (PG_MOVE_LOCK,)).fetchone()[0]:
            return  # another process is moving the buffer; what it does not take waits for the next move
        try:
            self._move(conn)
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (PG_MOVE_LOCK,))

    def _move(self, conn: Any) -> None:
        import psycopg

        try:
            with conn.transaction():
                # One snapshot for the bounds, the copy and the delete: exactly the rows seen move.
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                lo, hi, top = conn.execute("SELECT min(ts), max(ts), max(seq) FROM telemetry_hot").fetchone()
                if top is None:
                    return
                top = int(top)
                self._ensure_partitions(conn, lo, hi)
                self._move_rows(conn, int(lo), int(hi), top)
                # The hours these rows fall in, marked for the rollups. Most were marked by the previous move in
                # this mark epoch (the same series, the same hour): skipped as writers skip them (77 ms of a
                # 100,000-row move's upserts, measured, for marks that were all there).
                marks = [
                    (int(d), int(m), int(h)) for d, m, h in conn.execute(
                        "SELECT DISTINCT device_id, metric_id, (ts / 3600000) * 3600000 FROM telemetry_hot "
                        f"WHERE seq <= {top} ORDER BY 1, 2, 3"
                    )
                ]
                epoch = self._mark_new(conn, marks)
                conn.execute(f"DELETE FROM telemetry_hot WHERE seq <= {top}")
        except psycopg.errors.SerializationFailure:
            return  # another process moved these rows first
        except psycopg.Error:
            self._partitions.clear()
            raise
        self._remember_marks(epoch, marks)
        conn.execute("VACUUM telemetry_hot")  # its space is reused by the next rows (autovacuum may be off)

    @staticmethod
    def _move_rows(conn: Any, lo: int, hi: int, top: int) -> None:
        """The buffer's rows up to ``top`` into the clustered table, sorted by key, inside the server.

        A plain INSERT ... SELECT: measured against the earlier sorted COPY out and binary COPY back in
        (410 ms per 100,000 rows) it takes 240 ms; with ON CONFLICT DO NOTHING it takes 410 again (speculative
        insertion per row). Known rows are rare (a redelivered batch), so the plain statement runs first in a
        savepoint, and only when it meets one the whole move goes again deduplicated (first stored wins)."""
        import psycopg

        table = _target_table(lo, hi)
        try:
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO {table} SELECT device_id, metric_id, ts, value, text FROM telemetry_hot "
                    f"WHERE seq <= {top} ORDER BY device_id, metric_id, ts"
                )
        except psycopg.errors.UniqueViolation:
            conn.execute(
                "INSERT INTO telemetry SELECT DISTINCT ON (device_id, metric_id, ts) device_id, metric_id, ts, value, "
                f"text FROM telemetry_hot WHERE seq <= {top} ORDER BY device_id, metric_id, ts, seq "
                "ON CONFLICT DO NOTHING"
            )

    @staticmethod
    def _mark(conn: Any, marks: Sequence[tuple[int, int, int]]) -> None:
        if marks:
            d, m, h = zip(*marks, strict=True)
            conn.execute(
                rollups.MARK_UPSERT.format(
                    source="SELECT d, m, h, 0 FROM unnest(%s::int[], %s::int[], %s::bigint[]) AS u(d, m, h)"
                ),
                (list(d), list(m), list(h)),
                binary=True,  # text-format arrays are quoted element by element (a regex each)
            )

    @staticmethod
    def _upsert_latest(conn: Any, newest: Sequence[RowT]) -> bool:
        """Inside a transaction. Every worker holds current values of the same series (a device's messages are
        spread over the workers), so two upserts at once waited on each other's row locks — a fifth of the
        database's active time in the two-worker MQTT benchmark. One upsert at a time, taken with a try-lock:
        a writer that finds it held leaves its values pending for the next batch or round and never waits."""
        if not newest:
            return True
        if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PG_LATEST_LOCK,)).fetchone()[0]:
            return False
        cols: list[list[Any]] = [[], [], [], [], []]
        for r in newest:
            for i in range(5):
                cols[i].append(r[i])
        conn.execute(PG_UPSERT_LATEST, cols, binary=True)  # see _mark
        return True

    def touch(self, device_ids: Iterable[int], received_ms: int) -> None:
        seen = [(d, SEEN_METRIC, received_ms, None, None) for d in device_ids]
        if not self._upsert(seen):
            with self._latest_lock:
                self._keep_pending(seen)

    def _upsert(self, latest: Sequence[RowT]) -> bool:
        conn = self._conn()
        with conn.transaction():
            return self._upsert_latest(conn, latest)

    def _latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]:
        out: dict[int, dict[int, Latest]] = {}
        if not device_ids:
            return out
        cur = self._conn().execute(
            "SELECT device_id, metric_id, ts, value, text FROM telemetry_latest WHERE device_id = ANY(%s)",
            (list(device_ids),),
        )
        for d, m, ts, v, t in cur:
            out.setdefault(d, {})[m] = Latest(m, from_ms(ts), v, t)
        return out

    def _aggregate(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, width: int, agg: str
    ) -> list[tuple[int, float | None, int, int]]:
        where = "FROM telemetry WHERE device_id = %s AND metric_id = %s AND ts >= %s AND ts < %s"
        args = (start_ms, width, device_id, metric_id, start_ms, end_ms)
        if agg in ("last", "first"):
            order = "DESC" if agg == "last" else "ASC"
            sql = (
                f"SELECT b, value, n, ts FROM (SELECT (ts - %s) / %s AS b, ts, value, count(*) OVER w AS n, "
                f"row_number() OVER (PARTITION BY (ts - {start_ms}) / {width} ORDER BY ts {order}) AS rn {where} "
                f"WINDOW w AS (PARTITION BY (ts - {start_ms}) / {width})) q WHERE rn = 1 ORDER BY b"
            )
        elif agg == "avg":
            sql = f"SELECT (ts - %s) / %s AS b, sum(value), count(*), count(value) {where} GROUP BY b ORDER BY b"
        else:
            expr = {"min": "min(value)", "max": "max(value)", "sum": "sum(value)"}
            sql = f"SELECT (ts - %s) / %s AS b, {expr.get(agg, 'count(*)')}, count(*), 0 {where} GROUP BY b ORDER BY b"
        conn = self._conn()
        with conn.transaction():
            # The planner sorts the range by bucket; with the default 4 MB it spills a day of 1 Hz data to disk.
            conn.execute("SET LOCAL work_mem = '64MB'")
            rows = conn.execute(sql, args).fetchall()
        return [(int(b), None if v is None else float(v), int(n), int(x)) for b, v, n, x in rows]

    def _cold_has(self, device_id: int, metric_id: int, ts: list[int]) -> set[int]:
        rows = self._conn().execute(
            "SELECT ts FROM telemetry WHERE device_id = %s AND metric_id = %s AND ts = ANY(%s)",
            (device_id, metric_id, ts),
        )
        return {int(t) for (t,) in rows}

    def _delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int:
        if not device_ids:
            return 0
        cur = self._conn().execute(
            "DELETE FROM telemetry WHERE device_id = ANY(%s) AND ts < %s", (list(device_ids), cutoff_ms)
        )
        return int(cur.rowcount or 0)

    def partitions(self) -> list[tuple[str, int]]:
        rows = self._conn().execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry' ORDER BY c.relname"
        )
        out = []
        for (name,) in rows:
            day = datetime.strptime(name[len("telemetry_d") :], "%Y%m%d").replace(tzinfo=UTC)
            out.append((str(name), to_ms(day)))
        return out

    def _drop_before(self, cutoff_ms: int) -> int:
        """Drop every partition entirely older than cutoff (frees its files at once)."""
        dropped = 0
        conn = self._conn()
        for name, day in self.partitions():
            if day + DAY_MS <= cutoff_ms:
                conn.execute(f"DROP TABLE IF EXISTS {name}")
                self._partitions.discard(day)
                dropped += 1
        return dropped

    def reclaim(self) -> None:
        # Deleted rows of still-current partitions become reusable space after VACUUM (autovacuum does it too).
        self._conn().execute("VACUUM telemetry")

    def size_bytes(self) -> int:
        total = (
            self._conn()
            .execute(
                "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) "
                "+ pg_total_relation_size('telemetry_hot') FROM pg_inherits i "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry'"
            )
            .fetchone()[0]
        )
        return int(total)

    def _delete_device(self, device_id: int) -> None:
        conn = self._conn()
        conn.execute("DELETE FROM telemetry WHERE device_id = %s", (device_id,))
        conn.execute("DELETE FROM telemetry_hot WHERE device_id = %s", (device_id,))
        conn.execute("DELETE FROM telemetry_latest WHERE device_id = %s", (device_id,))
        for t in ROLLUP_TABLES:
            conn.execute(f"DELETE FROM {t} WHERE device_id = %s", (device_id,))

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self._conn().execute(sql, params).fetchall())


# ---------------------------------------------------------------- factory


@lru_cache(maxsize=4)
def _store_for(url: str, var_dir: str) -> TelemetryStore:
    if url.startswith("postgresql"):
        return PostgresStore(url)
    return SqliteStore(Path(var_dir) / "telemetry.db")


def get_store() -> TelemetryStore:
    """The process's store: PostgreSQL when the platform runs on PostgreSQL, else the SQLite file."""
    from chaoyun.settings import get_settings

    s = get_settings()
    return _store_for(s.database_url, str(s.var_dir))


def cutoff(days: int, now: datetime | None = None) -> int:
    return to_ms((now or datetime.now(UTC)) - timedelta(days=days))
