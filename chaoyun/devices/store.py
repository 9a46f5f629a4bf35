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
"""

from __future__ import annotations

import json
import math
import select
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import text as sql_text

SEEN_METRIC = 0  # pseudo metric in telemetry_latest: when the device's last message arrived
DAY_MS = 86_400_000
AGGREGATES = ("avg", "min", "max", "sum", "count", "last", "first")


class Row(NamedTuple):
    device_id: int
    metric_id: int
    ts: int  # epoch milliseconds
    value: float | None
    text: str | None = None


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


RowT = tuple[int, int, int, float | None, str | None]


def latest_of(rows: Iterable[RowT]) -> dict[tuple[int, int], RowT]:
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

    @abstractmethod
    def write(self, rows: Sequence[RowT], received_ms: int | None = None) -> int:
        """Store rows (an already stored (device, metric, ts) is ignored: redelivery is harmless)."""

    @abstractmethod
    def touch(self, device_ids: Iterable[int], received_ms: int) -> None:
        """Record that these devices were heard from (a message whose points were all rejected)."""

    @abstractmethod
    def latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]:
        """Newest value per metric id, per device (metric id 0: last message received)."""

    @abstractmethod
    def _aggregate(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, width: int, agg: str
    ) -> list[tuple[int, float | None, int]]: ...

    @abstractmethod
    def raw_rows(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[int, float | None, str | None]]: ...

    @abstractmethod
    def delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int: ...

    @abstractmethod
    def drop_before(self, cutoff_ms: int) -> int:
        """Remove everything older than cutoff for all devices (the platform-wide horizon)."""

    @abstractmethod
    def reclaim(self) -> None:
        """Give freed space back to the file system."""

    @abstractmethod
    def size_bytes(self) -> int: ...

    @abstractmethod
    def delete_device(self, device_id: int) -> None: ...

    @abstractmethod
    def count(self, device_id: int | None = None) -> int: ...

    # ---------------------------------------------------------------- shared

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
        return [
            BucketValue(from_ms(s + b * width), v, n)
            for b, v, n in self._aggregate(device_id, metric_id, s, e, width, agg)
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
_device_metric: dict[tuple[int, str], int | None] = {}


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
    _device_metric[key] = int(found) if found is not None else None
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
"""
UPSERT_LATEST = (
    "INSERT INTO telemetry_latest (device_id, metric_id, ts, value, text) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (device_id, metric_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, "
    "text = excluded.text WHERE excluded.ts >= telemetry_latest.ts"
)


class SqliteStore(TelemetryStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
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
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
        return conn

    def write(self, rows: Sequence[RowT], received_ms: int | None = None) -> int:
        if not rows:
            return 0
        newest = list(latest_of(rows).values())
        if received_ms is not None:
            newest += [Row(d, SEEN_METRIC, received_ms, None, None) for d in {r[0] for r in rows}]
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR IGNORE INTO telemetry VALUES (?, ?, ?, ?, ?)", rows)
                conn.executemany(UPSERT_LATEST, newest)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

    def touch(self, device_ids: Iterable[int], received_ms: int) -> None:
        conn = self._conn()
        with self._write_lock:
            conn.executemany(UPSERT_LATEST, [(d, SEEN_METRIC, received_ms, None, None) for d in device_ids])

    def latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]:
        out: dict[int, dict[int, Latest]] = {}
        if not device_ids:
            return out
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
    ) -> list[tuple[int, float | None, int]]:
        # One index range read per bucket (a generated bucket list with correlated subqueries): about half
        # the work of GROUP BY on a computed bucket, which needs a temporary B-tree to sort 86,400 rows.
        n = -(-(end_ms - start_ms) // width)
        rng = "device_id = :d AND metric_id = :m AND ts >= :s + i * :w AND ts < min(:s + (i + 1) * :w, :e)"
        if agg in ("last", "first"):
            order = "DESC" if agg == "last" else "ASC"
            inner = (
                f"json_array((SELECT value FROM telemetry WHERE {rng} ORDER BY ts {order} LIMIT 1), "
                f"(SELECT count(*) FROM telemetry WHERE {rng}))"
            )
        else:
            expr = {"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "sum": "sum(value)"}
            inner = f"(SELECT json_array({expr.get(agg, 'count(*)')}, count(*)) FROM telemetry WHERE {rng})"
        sql = (
            f"WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :n) SELECT i, {inner} FROM k"
        )
        out: list[tuple[int, float | None, int]] = []
        params = {"n": n, "d": device_id, "m": metric_id, "s": start_ms, "w": width, "e": end_ms}
        for i, packed in self._conn().execute(sql, params):
            v, cnt = json.loads(packed)
            if cnt:
                out.append((int(i), None if v is None else float(v), int(cnt)))
        return out

    def raw_rows(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[int, float | None, str | None]]:
        return list(
            self._conn().execute(
                "SELECT ts, value, text FROM telemetry WHERE device_id = ? AND metric_id = ? AND ts >= ? AND ts < ? "
                "ORDER BY ts LIMIT ?",
                (device_id, metric_id, start_ms, end_ms, limit),
            )
        )

    def delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int:
        conn = self._conn()
        total = 0
        with self._write_lock:
            for d in device_ids:
                total += conn.execute("DELETE FROM telemetry WHERE device_id = ? AND ts < ?", (d, cutoff_ms)).rowcount
        return total

    def drop_before(self, cutoff_ms: int) -> int:
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
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        del free
        return int(pages * size)

    def file_bytes(self) -> int:
        return self.path.stat().st_size

    def delete_device(self, device_id: int) -> None:
        with self._write_lock:
            conn = self._conn()
            conn.execute("DELETE FROM telemetry WHERE device_id = ?", (device_id,))
            conn.execute("DELETE FROM telemetry_latest WHERE device_id = ?", (device_id,))

    def count(self, device_id: int | None = None) -> int:
        if device_id is None:
            return int(self._conn().execute("SELECT count(*) FROM telemetry").fetchone()[0])
        return int(
            self._conn().execute("SELECT count(*) FROM telemetry WHERE device_id = ?", (device_id,)).fetchone()[0]
        )


# ---------------------------------------------------------------- PostgreSQL

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


class PostgresStore(TelemetryStore):
    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self._local = threading.local()
        self._partitions: set[int] = set()
        self._part_lock = threading.Lock()

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

    def write(self, rows: Sequence[RowT], received_ms: int | None = None) -> int:
        import psycopg

        if not rows:
            return 0
        conn = self._conn()
        lo = min(r[2] for r in rows)
        hi = max(r[2] for r in rows)
        try:
            self._ensure_partitions(conn, lo, hi)
        except psycopg.Error:
            self._partitions.clear()
            raise
        newest = list(latest_of(rows).values())
        if received_ms is not None:
            newest += [Row(d, SEEN_METRIC, received_ms, None, None) for d in {r[0] for r in rows}]
        with conn.transaction():
            try:
                with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_SQL.format(table="telemetry")) as cp:
                    cp.set_types(COPY_TYPES)
                    for r in rows:
                        cp.write_row(r)
            except psycopg.errors.UniqueViolation:
                # Some rows were stored before (a redelivered message): stage them and skip the known ones.
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS telemetry_stage "
                    "(device_id int, metric_id int, ts bigint, value float8, text text) ON COMMIT DELETE ROWS"
                )
                with conn.cursor() as cur, cur.copy(COPY_SQL.format(table="telemetry_stage")) as cp:
                    cp.set_types(COPY_TYPES)
                    for r in rows:
                        cp.write_row(r)
                conn.execute(
                    "INSERT INTO telemetry SELECT DISTINCT ON (device_id, metric_id, ts) * FROM telemetry_stage "
                    "ON CONFLICT DO NOTHING"
                )
            self._upsert_latest(conn, newest)
        return len(rows)

    @staticmethod
    def _upsert_latest(conn: Any, newest: Sequence[RowT]) -> None:
        cols: list[list[Any]] = [[], [], [], [], []]
        for r in newest:
            for i in range(5):
                cols[i].append(r[i])
        conn.execute(PG_UPSERT_LATEST, cols)

    def touch(self, device_ids: Iterable[int], received_ms: int) -> None:
        self._upsert_latest(self._conn(), [Row(d, SEEN_METRIC, received_ms, None, None) for d in device_ids])

    def latest_rows(self, device_ids: Sequence[int]) -> dict[int, dict[int, Latest]]:
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
    ) -> list[tuple[int, float | None, int]]:
        where = "FROM telemetry WHERE device_id = %s AND metric_id = %s AND ts >= %s AND ts < %s"
        args = (start_ms, width, device_id, metric_id, start_ms, end_ms)
        if agg in ("last", "first"):
            order = "DESC" if agg == "last" else "ASC"
            sql = (
                f"SELECT b, value, n FROM (SELECT (ts - %s) / %s AS b, ts, value, count(*) OVER w AS n, "
                f"row_number() OVER (PARTITION BY (ts - {start_ms}) / {width} ORDER BY ts {order}) AS rn {where} "
                f"WINDOW w AS (PARTITION BY (ts - {start_ms}) / {width})) q WHERE rn = 1 ORDER BY b"
            )
        else:
            expr = {"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "sum": "sum(value)"}
            sql = f"SELECT (ts - %s) / %s AS b, {expr.get(agg, 'count(*)')}, count(*) {where} GROUP BY b ORDER BY b"
        conn = self._conn()
        with conn.transaction():
            # The planner sorts the range by bucket; with the default 4 MB it spills a day of 1 Hz data to disk.
            conn.execute("SET LOCAL work_mem = '64MB'")
            rows = conn.execute(sql, args).fetchall()
        return [(int(b), None if v is None else float(v), int(n)) for b, v, n in rows]

    def raw_rows(
        self, device_id: int, metric_id: int, start_ms: int, end_ms: int, limit: int
    ) -> list[tuple[int, float | None, str | None]]:
        return list(
            self._conn().execute(
                "SELECT ts, value, text FROM telemetry WHERE device_id = %s AND metric_id = %s AND ts >= %s "
                "AND ts < %s ORDER BY ts LIMIT %s",
                (device_id, metric_id, start_ms, end_ms, limit),
            )
        )

    def delete_before(self, device_ids: Sequence[int], cutoff_ms: int) -> int:
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

    def drop_before(self, cutoff_ms: int) -> int:
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
                "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry'"
            )
            .fetchone()[0]
        )
        return int(total)

    def delete_device(self, device_id: int) -> None:
        conn = self._conn()
        conn.execute("DELETE FROM telemetry WHERE device_id = %s", (device_id,))
        conn.execute("DELETE FROM telemetry_latest WHERE device_id = %s", (device_id,))

    def count(self, device_id: int | None = None) -> int:
        if device_id is None:
            return int(self._conn().execute("SELECT count(*) FROM telemetry").fetchone()[0])
        return int(
            self._conn().execute("SELECT count(*) FROM telemetry WHERE device_id = %s", (device_id,)).fetchone()[0]
        )


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
