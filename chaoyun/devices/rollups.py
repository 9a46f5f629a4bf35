"""Stored rollups of telemetry: 1-minute and 1-hour buckets per series, and tiered retention.

Tables (in the telemetry store: ``telemetry.db`` on SQLite, the main database on PostgreSQL):

- ``telemetry_1m`` / ``telemetry_1h``: one row per (device, metric, bucket start in epoch ms) with ``n`` (points),
  ``nv`` (points with a number), ``sum_v``, ``min_v``, ``max_v``, ``first_ts`` / ``first_v`` and ``last_ts`` /
  ``last_v`` (the earliest and latest point of the bucket). Averages are ``sum_v / nv``.
- ``telemetry_rollup_dirty``: the (device, metric, UTC hour) whose raw points changed since their rollups were
  computed, with a generation number that every new change bumps.

How rollups stay correct. A mark is written *in the same transaction* that puts points into the clustered
table: the write buffer's move (``_flush``) marks every hour the buffer touches, a dense write marks the hours
of its rows. ``refresh`` recomputes each marked hour from the raw points (sixty 1-minute rows, then the hour row
from them) and deletes the mark only if its generation is still the one it read, so a point that lands while an
hour is recomputed leaves the mark for the next round. Late points (an hour in the past) are just another
mark: the touched buckets are recomputed whole, never patched. ``refresh`` runs from the periodic catch-up task and,
for one series, before a chart reads its rollups; points still in the write buffer are added by the query
itself, so a chart is exact up to the last stored point.

PostgreSQL skips marks it knows are there. A dense write upserted its 3,200 marks per 50,000 rows (a fifth of the
write's time), though most were already marked by the previous batch. A writer now remembers the marks it wrote
and skips them while the *mark epoch* (sequence ``telemetry_rollup_epoch``) is unchanged; it reads the epoch
holding a shared advisory lock (``MARKS_LOCK``, try-only: if it is not free the writer upserts every mark, it never
waits). ``refresh``, after reading the marks and before recomputing, takes that lock exclusively (so every writer
that might have skipped a mark has committed: the recompute sees its points) and advances the epoch (so every
later writer marks again, bumping the generation of any mark it touches).

Tiered retention: raw points keep ``CHAOYUN_TELEMETRY_RETENTION_DAYS`` (or the enterprise's own), 1-minute
rollups ``CHAOYUN_TELEMETRY_1M_DAYS`` (730), 1-hour rollups ``CHAOYUN_TELEMETRY_1H_DAYS`` (0 = forever); an
enterprise may override each (``telemetry_retention``). A late point older than the raw horizon would recompute
its hour from the raw points left, so the raw horizon must stay longer than ``INGEST_MAX_AGE_DAYS`` (30).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoyun.devices.store import TelemetryStore

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
TIERS = {"1m": MINUTE_MS, "1h": HOUR_MS}
TABLE = {MINUTE_MS: "telemetry_1m", HOUR_MS: "telemetry_1h"}
# A query reads a tier from this span on (shorter charts read raw points: exact bucket bounds, and few rows).
MIN_SPAN_MS = 6 * HOUR_MS
REFRESH_BATCH = 200  # marks per transaction of the catch-up (SQLite holds the writers' lock that long)

_COLS = (
    "device_id {i} NOT NULL, metric_id {i} NOT NULL, bucket {b} NOT NULL, n {i} NOT NULL, nv {i} NOT NULL, "
    "sum_v {f}, min_v {f}, max_v {f}, first_ts {b} NOT NULL, first_v {f}, last_ts {b} NOT NULL, last_v {f}, "
    "PRIMARY KEY (device_id, metric_id, bucket)"
)
_DIRTY = (
    "device_id {i} NOT NULL, metric_id {i} NOT NULL, hour {b} NOT NULL, gen {i} NOT NULL DEFAULT 0, "
    "PRIMARY KEY (device_id, metric_id, hour)"
)

SQLITE_ROLLUP_SCHEMA = "".join(
    f"CREATE TABLE IF NOT EXISTS {t} ({c.format(i='INTEGER', b='INTEGER', f='REAL')}) WITHOUT ROWID;\n"
    for t, c in (("telemetry_1m", _COLS), ("telemetry_1h", _COLS), ("telemetry_rollup_dirty", _DIRTY))
)
PG_ROLLUP_SCHEMA = [
    *(
        f"CREATE TABLE IF NOT EXISTS {t} ({c.format(i='integer', b='bigint', f='double precision')})"
        for t, c in (("telemetry_1m", _COLS), ("telemetry_1h", _COLS), ("telemetry_rollup_dirty", _DIRTY))
    ),
    "CREATE SEQUENCE IF NOT EXISTS telemetry_rollup_epoch",
]
MARKS_LOCK = 0x63_79_6D_6B_73  # advisory lock key of the mark epoch ("cymks"): writers shared, refresh exclusive

# Marks: the hours of the rows being moved / written (both backends accept this upsert).
MARK_UPSERT = (
    "INSERT INTO telemetry_rollup_dirty (device_id, metric_id, hour, gen) {source} "
    "ON CONFLICT (device_id, metric_id, hour) DO UPDATE SET gen = telemetry_rollup_dirty.gen + 1"
)


def hour_marks(rows: Iterable[Sequence[Any]]) -> list[tuple[int, int, int]]:
    """The (device, metric, hour start) of rows, sorted (writers then take row locks in one order)."""
    return sorted({(r[0], r[1], r[2] - r[2] % HOUR_MS) for r in rows})


def _recompute_sql(k: str) -> list[str]:
    """Statements that recompute one series' hour [h, h + 1 h): parameters (d, m, h, h_end) each, the joins' ranges
    (h, h_end) after them (PostgreSQL then prunes the day partitions of the join too)."""
    rng = f"device_id = {k} AND metric_id = {k} AND {{col}} >= {k} AND {{col}} < {k}"
    raw = rng.format(col="ts")
    return [
        f"DELETE FROM telemetry_1m WHERE {rng.format(col='bucket')}",
        "INSERT INTO telemetry_1m SELECT g.device_id, g.metric_id, g.bucket, g.n, g.nv, g.s, g.lo, g.hi, "
        "g.f_ts, f.value, g.l_ts, l.value FROM (SELECT device_id, metric_id, (ts / 60000) * 60000 AS bucket, "
        "count(*) AS n, count(value) AS nv, sum(value) AS s, min(value) AS lo, max(value) AS hi, "
        f"min(ts) AS f_ts, max(ts) AS l_ts FROM telemetry WHERE {raw} "
        "GROUP BY device_id, metric_id, (ts / 60000) * 60000) g "
        "JOIN telemetry f ON f.device_id = g.device_id AND f.metric_id = g.metric_id AND f.ts = g.f_ts "
        f"AND f.ts >= {k} AND f.ts < {k} "
        "JOIN telemetry l ON l.device_id = g.device_id AND l.metric_id = g.metric_id AND l.ts = g.l_ts "
        f"AND l.ts >= {k} AND l.ts < {k}",
        f"DELETE FROM telemetry_1h WHERE {rng.format(col='bucket')}",
        "INSERT INTO telemetry_1h SELECT g.device_id, g.metric_id, g.bucket, g.n, g.nv, g.s, g.lo, g.hi, "
        "g.f_ts, f.first_v, g.l_ts, l.last_v FROM "
        "(SELECT device_id, metric_id, (bucket / 3600000) * 3600000 AS bucket, "
        "sum(n) AS n, sum(nv) AS nv, sum(sum_v) AS s, min(min_v) AS lo, max(max_v) AS hi, min(first_ts) AS f_ts, "
        f"max(last_ts) AS l_ts FROM telemetry_1m WHERE {rng.format(col='bucket')} "
        "GROUP BY device_id, metric_id, (bucket / 3600000) * 3600000) g "
        "JOIN telemetry_1m f ON f.device_id = g.device_id AND f.metric_id = g.metric_id "
        "AND f.bucket = (g.f_ts / 60000) * 60000 "
        "JOIN telemetry_1m l ON l.device_id = g.device_id AND l.metric_id = g.metric_id "
        "AND l.bucket = (g.l_ts / 60000) * 60000",
    ]


def _params(sql: str, k: str, d: int, m: int, h: int) -> tuple[int, ...]:
    extra = sql.count(k) - 4
    return (d, m, h, h + HOUR_MS) + (h, h + HOUR_MS) * (extra // 2)


def _is_pg(store: TelemetryStore) -> bool:
    return store.MARK == "%s"


def refresh(store: TelemetryStore, series: tuple[int, int] | None = None, limit: int | None = None) -> int:
    """Recompute the rollups of every marked hour (or only one series' marks: a chart about to read them; the
    buffered points it adds itself, so the buffer is not moved for it). Returns hours recomputed."""
    if series is None:
        store.flush()  # rows of the write buffer become raw points with marks
    done = 0
    while limit is None or done < limit:
        n = _refresh_batch(store, series, REFRESH_BATCH if limit is None else min(REFRESH_BATCH, limit - done))
        done += n
        if n == 0:
            break
    return done


def _refresh_batch(store: TelemetryStore, series: tuple[int, int] | None, batch: int) -> int:
    k = store.MARK
    where = f"WHERE device_id = {k} AND metric_id = {k}" if series else ""
    select = (
        f"SELECT device_id, metric_id, hour, gen FROM telemetry_rollup_dirty {where} ORDER BY 1, 2, 3 LIMIT {batch}"
    )
    params: tuple[Any, ...] = tuple(series) if series else ()
    stmts = _recompute_sql(k)
    delete_mark = (
        f"DELETE FROM telemetry_rollup_dirty WHERE device_id = {k} AND metric_id = {k} AND hour = {k} AND gen = {k}"
    )
    if _is_pg(store):
        conn = store._conn()  # type: ignore[attr-defined]
        # One refresher at a time per series set: two recomputing the same hour would collide on its rows.
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (0x63_79_72_6F_6C,)).fetchone()[0]:
            return 0
        try:
            marks = conn.execute(select, params).fetchall()
            if not marks:
                return 0
            with conn.transaction():  # see "PostgreSQL skips marks" above
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MARKS_LOCK,))
                conn.execute("SELECT nextval('telemetry_rollup_epoch')")
            with conn.transaction():
                for d, m, h, g in marks:
                    for sql in stmts:
                        conn.execute(sql, _params(sql, k, d, m, h))
                    conn.execute(delete_mark, (d, m, h, g))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (0x63_79_72_6F_6C,))
        return len(marks)
    with store._immediate() as conn:  # type: ignore[attr-defined]
        marks = conn.execute(select, params).fetchall()
        for d, m, h, g in marks:
            for sql in stmts:
                conn.execute(sql, _params(sql, k, d, m, h))
            conn.execute(delete_mark, (d, m, h, g))
    return len(marks)


def rebuild(store: TelemetryStore, start_ms: int | None = None, end_ms: int | None = None) -> int:
    """Mark every stored hour (optionally in a range) and recompute it: for data stored before rollups existed."""
    k = store.MARK
    cond, params = "", ()  # type: tuple[str, tuple[Any, ...]]
    if start_ms is not None and end_ms is not None:
        cond, params = f"WHERE ts >= {k} AND ts < {k}", (start_ms, end_ms)
    source = f"SELECT DISTINCT device_id, metric_id, (ts / 3600000) * 3600000, 0 FROM telemetry {cond or 'WHERE 1 = 1'}"
    store.flush()
    if _is_pg(store):
        store._conn().execute(MARK_UPSERT.format(source=source), params)  # type: ignore[attr-defined]
    else:
        with store._immediate() as conn:  # type: ignore[attr-defined]
            conn.execute(MARK_UPSERT.format(source=source), params)
    return refresh(store)


# ---------------------------------------------------------------- reading


def pick_tier(start_ms: int, end_ms: int, width: int) -> int | None:
    """The coarsest tier whose buckets fit in the query's buckets (None: read raw points)."""
    if end_ms - start_ms < MIN_SPAN_MS:
        return None
    for tier in (HOUR_MS, MINUTE_MS):
        if width >= tier:
            return tier
    return None


class _Acc:
    __slots__ = ("f", "f_ts", "hi", "l", "l_ts", "lo", "n", "nv", "s")

    def __init__(self) -> None:
        self.n = self.nv = 0
        self.s: float = 0.0
        self.lo: float | None = None
        self.hi: float | None = None
        self.f_ts = math.inf
        self.l_ts = -math.inf
        self.f: float | None = None
        self.l: float | None = None

    def add(
        self,
        n: int,
        nv: int,
        s: float | None,
        lo: float | None,
        hi: float | None,
        f_ts: int,
        f: float | None,
        l_ts: int,
        last: float | None,
    ) -> None:
        self.n += n
        self.nv += nv
        if s is not None:
            self.s += s
        if lo is not None and (self.lo is None or lo < self.lo):
            self.lo = lo
        if hi is not None and (self.hi is None or hi > self.hi):
            self.hi = hi
        if f_ts < self.f_ts:
            self.f_ts, self.f = f_ts, f
        if l_ts > self.l_ts:
            self.l_ts, self.l = l_ts, last

    def value(self, agg: str) -> float | None:
        if agg == "count":
            return float(self.n)
        if agg == "avg":
            return self.s / self.nv if self.nv else None
        if agg == "sum":
            return self.s if self.nv else None
        v = {"min": self.lo, "max": self.hi, "first": self.f, "last": self.l}[agg]
        return None if v is None else float(v)


def tier_buckets(
    store: TelemetryStore, device_id: int, metric_id: int, start_ms: int, end_ms: int, width: int, agg: str, tier: int
) -> tuple[int, int, list[tuple[int, float | None, int]]]:
    """Buckets from a rollup tier: (grid start, width, [(bucket index, value, rows)]). The grid is the query's
    snapped to the tier (start down, width up, to whole tier buckets); points outside [start, end) never count:
    the partial tier buckets at both ends are read from raw points, the buffered points are added."""
    refresh(store, (device_id, metric_id))
    s0 = start_ms - start_ms % tier
    w = -(-width // tier) * tier
    lo = -(-start_ms // tier) * tier  # first whole tier bucket
    hi = end_ms - end_ms % tier
    acc: dict[int, _Acc] = {}

    def point(ts: int, v: float | None) -> None:
        b = (ts - s0) // w
        a = acc.get(b)
        if a is None:
            a = acc[b] = _Acc()
        a.add(1, 0 if v is None else 1, v, v, v, ts, v, ts, v)

    if lo >= hi:  # no whole tier bucket: raw only
        for ts, v, _t in store.raw_rows(device_id, metric_id, start_ms, end_ms, 10**7):
            point(ts, v)
    else:
        k = store.MARK
        # Grouped into the query's buckets by the database: ~1,000 rows come back, not 8,760 (or 525,600).
        if agg in ("first", "last"):
            ts_agg, cmp = ("min", "ASC") if agg == "first" else ("max", "DESC")
            # SQLite: a bare column takes the row of the query's only min() / max().
            pick = f"(array_agg({agg}_v ORDER BY {agg}_ts {cmp}))[1]" if _is_pg(store) else f"{agg}_v"
            cols = f"sum(n), sum(nv), NULL, NULL, NULL, {ts_agg}({agg}_ts), {pick}"
        else:
            cols = "sum(n), sum(nv), sum(sum_v), min(min_v), max(max_v), 0, NULL"
        for i, n, nv, sv, mn, mx, ts, v in store._fetch(
            f"SELECT (bucket - {k}) / {k} AS i, {cols} FROM {TABLE[tier]} "
            f"WHERE device_id = {k} AND metric_id = {k} AND bucket >= {k} AND bucket < {k} GROUP BY 1",
            (s0, w, device_id, metric_id, lo, hi),
        ):
            a = acc.get(int(i))
            if a is None:
                a = acc[int(i)] = _Acc()
            a.add(int(n), int(nv), sv, mn, mx, ts, v, ts, v)
        for ts, v, _t in store._hot_points(device_id, metric_id, lo, hi):
            point(ts, v)
        for a_, b_ in ((start_ms, lo), (hi, end_ms)):
            if a_ < b_:
                for ts, v, _t in store.raw_rows(device_id, metric_id, a_, b_, 10**7):
                    point(ts, v)
    out = [(b, acc[b].value(agg), acc[b].n) for b in sorted(acc)]
    return s0, w, out


# ---------------------------------------------------------------- tiered retention


def delete_tier_before(store: TelemetryStore, tier: int, device_ids: Sequence[int] | None, cutoff_ms: int) -> int:
    """Delete a tier's buckets older than cutoff (all devices when device_ids is None)."""
    k = store.MARK
    table = TABLE[tier]
    if _is_pg(store):
        conn = store._conn()  # type: ignore[attr-defined]
        if device_ids is None:
            return int(conn.execute(f"DELETE FROM {table} WHERE bucket < %s", (cutoff_ms,)).rowcount or 0)
        if not device_ids:
            return 0
        return int(
            conn.execute(
                f"DELETE FROM {table} WHERE device_id = ANY(%s) AND bucket < %s", (list(device_ids), cutoff_ms)
            ).rowcount
            or 0
        )
    total = 0
    with store._immediate() as conn:  # type: ignore[attr-defined]
        if device_ids is None:
            return int(conn.execute(f"DELETE FROM {table} WHERE bucket < {k}", (cutoff_ms,)).rowcount)
        for d in device_ids:
            total += conn.execute(
                f"DELETE FROM {table} WHERE device_id = {k} AND bucket < {k}", (d, cutoff_ms)
            ).rowcount
    return total


def count(store: TelemetryStore, tier: int, device_id: int | None = None) -> int:
    k = store.MARK
    if device_id is None:
        return int(store._fetch(f"SELECT count(*) FROM {TABLE[tier]}")[0][0])
    return int(store._fetch(f"SELECT count(*) FROM {TABLE[tier]} WHERE device_id = {k}", (device_id,))[0][0])
