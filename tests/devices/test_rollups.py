"""Stored rollups (1-minute, 1-hour) on SQLite and PostgreSQL: values equal aggregates computed here from the raw
points, late points recompute their buckets, long charts read the coarsest tier, tiered retention."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from chaoyun.devices import rollups
from chaoyun.devices.rollups import HOUR_MS, MINUTE_MS
from chaoyun.devices.store import TelemetryStore, from_ms, to_ms
from tests.devices.test_store import store  # noqa: F401  (the fixture: both backends)

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
S0 = to_ms(T0)


def _expected(points: list[tuple[int, float]], width: int) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for ts, v in sorted(points):
        b = ts - ts % width
        e = out.setdefault(b, {"n": 0, "sum": 0.0, "min": v, "max": v, "first": v, "last": v})
        e["n"] += 1
        e["sum"] += v
        e["min"] = min(e["min"], v)
        e["max"] = max(e["max"], v)
        e["last"] = v
    return out


def _stored(store: TelemetryStore, tier: int) -> dict[int, dict[str, Any]]:  # noqa: F811
    rows = store._fetch(
        f"SELECT bucket, n, sum_v, min_v, max_v, first_v, last_v FROM {rollups.TABLE[tier]} "
        "WHERE device_id = 1 AND metric_id = 7 ORDER BY bucket"
    )
    return {b: {"n": n, "sum": s, "min": lo, "max": hi, "first": f, "last": la} for b, n, s, lo, hi, f, la in rows}


def _check(store: TelemetryStore, points: list[tuple[int, float]]) -> None:  # noqa: F811
    for tier in (MINUTE_MS, HOUR_MS):
        exp, got = _expected(points, tier), _stored(store, tier)
        assert set(got) == set(exp)
        for b, e in exp.items():
            g = got[b]
            assert g["n"] == e["n"] and g["min"] == e["min"] and g["max"] == e["max"]
            assert g["first"] == e["first"] and g["last"] == e["last"]
            assert abs(g["sum"] - e["sum"]) < 1e-6 * max(1.0, abs(e["sum"]))


def test_rollups_equal_raw_aggregates_and_late_points_recompute(store: TelemetryStore) -> None:  # noqa: F811
    rnd = random.Random(7)
    # Three hours, a point every 7 s, streamed in small batches (write buffer) and one dense backfill.
    points = [(S0 + i * 7000, round(rnd.uniform(-50, 50), 3)) for i in range(3 * 3600 // 7)]
    for i in range(0, len(points) // 2, 5):
        store.write([(1, 7, ts, v, None) for ts, v in points[i : i + 5]])
    store.write([(1, 7, ts, v, None) for ts, v in points[len(points) // 2 :]])  # dense
    assert rollups.refresh(store) >= 3
    _check(store, points)
    # Late points into the first hour (and one duplicate, ignored): only the touched buckets move.
    late = [(S0 + 3_500 + k * 60_000, 1000.0 + k) for k in range(3)]
    store.write([(1, 7, ts, v, None) for ts, v in late] + [(1, 7, points[0][0], 999.0, None)])
    assert rollups.refresh(store) == 1
    points += late
    _check(store, points)
    assert _stored(store, HOUR_MS)[S0]["max"] == 1002.0
    assert rollups.refresh(store) == 0  # nothing left marked


def test_buffer_moves_in_one_mark_epoch_and_after_a_refresh(store: TelemetryStore) -> None:  # noqa: F811
    """A PostgreSQL move skips the hour marks it already wrote in the current mark epoch (the previous move's,
    same series and hour): still, every moved point is in the rollups after the next refresh, and a move after
    that refresh marks its hour again."""
    points: list[tuple[int, float]] = []
    for k in range(3):  # three moves into the same hour, one refresh after the second
        batch = [(S0 + k * 60_000 + i * 1000, float(10 * k + i)) for i in range(5)]
        for ts, v in batch:  # one point per write: the write buffer, not a dense write
            store.write([(1, 7, ts, v, None), (2, 7, ts, v, None)])
        store.flush()
        points += batch
        if k == 1:
            assert rollups.refresh(store) == 2  # the hour of each of the two series
            _check(store, points)
    assert rollups.refresh(store) == 2
    _check(store, points)
    assert _stored(store, HOUR_MS)[S0]["max"] == 24.0


def test_chart_reads_the_coarsest_tier_with_raw_values(store: TelemetryStore) -> None:  # noqa: F811
    # Two days at one point per 10 s.
    pts = [(1, 7, S0 + i * 10_000, float(i % 977), None) for i in range(2 * 86_400 // 10)]
    store.write(pts)
    rollups.refresh(store)
    start, end = T0, T0 + timedelta(days=2)
    # 48 buckets of an hour: the 1-hour tier, equal to aggregates of the raw points.
    assert rollups.pick_tier(S0, to_ms(end), HOUR_MS) == HOUR_MS
    for agg in ("avg", "min", "max", "count", "last", "first", "sum"):
        got = store.query(1, 7, start, end, buckets=48, agg=agg)
        raw = store.buckets(1, 7, S0, to_ms(end), HOUR_MS, agg)
        assert [(b.ts, round(b.value or 0, 6), b.count) for b in got] == [
            (from_ms(S0 + i * HOUR_MS), round(v or 0, 6), n) for i, v, n in raw
        ]
    # 10-minute buckets over a day: the 1-minute tier; an hour's chart: raw.
    assert rollups.pick_tier(S0, S0 + 86_400_000, 600_000) == MINUTE_MS
    assert rollups.pick_tier(S0, S0 + HOUR_MS, 3_600) is None
    got = store.query(1, 7, start, start + timedelta(days=1), buckets=144, agg="max")
    raw = store.buckets(1, 7, S0, S0 + 86_400_000, 600_000, "max")
    assert [(b.value, b.count) for b in got] == [(v, n) for _i, v, n in raw]
    # The chart reads the tier, not the raw points: a rollup row changed behind its back shows.
    k = store.MARK
    if store.MARK == "%s":
        store._conn().execute("UPDATE telemetry_1h SET max_v = -1 WHERE bucket = %s", (S0,))  # type: ignore[attr-defined]
    else:
        with store._immediate() as conn:  # type: ignore[attr-defined]
            conn.execute(f"UPDATE telemetry_1h SET max_v = -1 WHERE bucket = {k}", (S0,))
    assert store.query(1, 7, start, end, buckets=48, agg="max")[0].value == -1


def test_unaligned_range_counts_only_points_inside(store: TelemetryStore) -> None:  # noqa: F811
    pts = [(1, 7, S0 + i * 1000, 1.0, None) for i in range(10 * 3600)]
    store.write(pts)
    s, e = S0 + 1_234_567, S0 + 9 * HOUR_MS + 4321
    got = store.query(1, 7, from_ms(s), from_ms(e), buckets=5, agg="count")
    inside = sum(1 for p in pts if s <= p[2] < e)
    assert sum(b.count for b in got) == inside
    # And points still in the write buffer count too.
    store.write([(1, 7, S0 + 36_000_000 + 500, 2.0, None)])
    got = store.query(1, 7, T0, T0 + timedelta(hours=11), buckets=11, agg="max")
    assert got[-1].value == 2.0


def test_tier_retention(store: TelemetryStore) -> None:  # noqa: F811
    old = S0 - 800 * 86_400_000
    store.write([(d, 7, old + i * 60_000, 1.0, None) for d in (1, 2) for i in range(120)])
    store.write([(d, 7, S0 + i * 60_000, 1.0, None) for d in (1, 2) for i in range(120)])
    rollups.refresh(store)
    assert rollups.count(store, MINUTE_MS) == 480 and rollups.count(store, HOUR_MS) == 8
    cut = S0 - 730 * 86_400_000
    assert rollups.delete_tier_before(store, MINUTE_MS, [1], cut) == 120
    assert rollups.count(store, MINUTE_MS, 1) == 120 and rollups.count(store, MINUTE_MS, 2) == 240
    assert rollups.count(store, HOUR_MS) == 8  # the hour tier is kept
    assert rollups.delete_tier_before(store, HOUR_MS, None, cut) == 4
    # Raw retention leaves the rollups alone.
    store.delete_before([1, 2], S0)
    assert rollups.count(store, HOUR_MS) == 4


def test_retention_job_applies_tiers_with_enterprise_override(db: Any) -> None:
    """apply_tier_retention: the settings' horizons for everyone, an enterprise's own minute_days for its devices;
    the 1-hour tier (0 = forever) is kept."""
    from chaoyun.devices.models import TelemetryRetention
    from chaoyun.devices.service import apply_tier_retention
    from chaoyun.devices.store import get_store
    from tests.devices.helpers import make_device, org_of

    org_a, org_b = org_of(db, "factory"), org_of(db, "factory2")
    dev_a, _ = make_device(db, org_a)
    dev_b, _ = make_device(db, org_b)
    row = db.get(TelemetryRetention, org_a.id)
    before = None if row is None else (row.days, row.minute_days, row.hour_days)
    if row is None:
        row = TelemetryRetention(org_id=org_a.id, days=365)
        db.add(row)
    row.minute_days = 10
    db.commit()
    try:
        store = get_store()
        now = datetime.now(UTC)
        day = 86_400_000
        n_ms = to_ms(now) - to_ms(now) % HOUR_MS
        for dev in (dev_a, dev_b):  # one hour 20 days ago, one hour 800 days ago (1 point a minute)
            for age in (20, 800):
                h = n_ms - age * day
                store.write([(dev.id, 1, h + i * 60_000, 1.0, None) for i in range(60)])
        rollups.refresh(store)
        got = apply_tier_retention(db)
        # Device A (10 days): both hours' minutes go; device B (730 days default): the 800-day-old hour's.
        assert got["1m"] == 60 * 3 and got["1h"] == 0
        assert rollups.count(store, MINUTE_MS, dev_a.id) == 0
        assert rollups.count(store, MINUTE_MS, dev_b.id) == 60
        assert rollups.count(store, HOUR_MS, dev_a.id) == 2 and rollups.count(store, HOUR_MS, dev_b.id) == 2
    finally:
        row = db.get(TelemetryRetention, org_a.id)
        if before is None:
            db.delete(row)
        else:
            row.days, row.minute_days, row.hour_days = before
        db.commit()
        for dev in (dev_a, dev_b):
            get_store().delete_device(dev.id)


def test_postgres_writers_skip_known_marks_and_no_point_escapes_a_refresh() -> None:
    """A PostgreSQL writer does not upsert the hour marks it already wrote in the current mark epoch; a refresh
    advances the epoch only once every writer that may have skipped a mark has committed, so the recompute sees its
    points; a writer that finds the epoch's lock taken upserts every mark and does not wait."""
    import threading

    import psycopg

    from tests.devices.test_store import _pg_store

    for pg in _pg_store():
        dense = [(1, 7, S0 + i * 1000, float(i), None) for i in range(600)]  # 10 minutes of hour 0: dense
        pg.write(dense[:300])
        assert _marks(pg) == [(S0, 0)]
        pg.write(dense[300:])
        assert _marks(pg) == [(S0, 0)], "a known mark was upserted again"
        assert rollups.refresh(pg) == 1
        _check(pg, [(ts, v) for _, _, ts, v, _ in dense])
        # A writer that skipped the mark commits while a refresh waits for the epoch's lock: the refresh reads
        # the mark, waits, and its recompute includes the writer's points.
        more = [(1, 7, S0 + 600_000 + i * 1000, 1000.0 + i, None) for i in range(600)]
        pg.write(more[:300])  # new epoch: marks again
        with psycopg.connect(pg.url) as writer:  # a writer in mid-transaction that skipped the mark
            shared = "SELECT pg_try_advisory_xact_lock_shared(%s)"
            assert writer.execute(shared, (rollups.MARKS_LOCK,)).fetchone()[0]
            with writer.cursor().copy(
                "COPY telemetry (device_id, metric_id, ts, value, text) FROM STDIN"
            ) as cp:
                for r in more[300:]:
                    cp.write_row(r)
            refresher = threading.Thread(target=rollups.refresh, args=(pg,))
            refresher.start()
            refresher.join(1.0)
            assert refresher.is_alive(), "the refresh did not wait for a writer holding the epoch's lock"
            writer.commit()
        refresher.join(30)
        assert not refresher.is_alive()
        _check(pg, [(ts, v) for _, _, ts, v, _ in dense + more])
        # While the epoch's lock is held exclusively (a refresh advancing it), a writer marks without waiting.
        late = [(1, 7, S0 + 1_800_000 + i * 1000, -1.0, None) for i in range(20)]
        with psycopg.connect(pg.url) as refresh:
            refresh.execute("SELECT pg_advisory_xact_lock(%s)", (rollups.MARKS_LOCK,))
            w = threading.Thread(target=pg.write, args=(late,))
            w.start()
            w.join(5)
            assert not w.is_alive(), "a writer waited for the mark epoch's lock"
            refresh.rollback()
        assert _marks(pg) == [(S0, 0)]
        assert rollups.refresh(pg) == 1
        _check(pg, [(ts, v) for _, _, ts, v, _ in dense + more + late])


def _marks(store: TelemetryStore) -> list[Any]:  # noqa: F811
    return store._fetch("SELECT hour, gen FROM telemetry_rollup_dirty")
