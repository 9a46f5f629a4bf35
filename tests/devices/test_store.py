"""The telemetry store on SQLite and PostgreSQL: writes, latest values, downsampling checked against
hand-computed numbers, redelivery, retention that really frees disk space."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chaoyun.devices.store import DAY_MS, PG_SCHEMA, PostgresStore, SqliteStore, TelemetryStore, from_ms, to_ms

PG_ADMIN = os.environ.get("CHAOYUN_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_store() -> Iterator[PostgresStore]:
    admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    name = f"chaoyun_store_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        for ddl in PG_SCHEMA:
            conn.execute(ddl)
    store = PostgresStore(url)
    try:
        yield store
    finally:
        conn = getattr(store._local, "conn", None)
        if conn is not None:
            conn.close()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: Any, tmp_path: Path) -> Iterator[TelemetryStore]:
    if request.param == "sqlite":
        yield SqliteStore(tmp_path / "telemetry.db")
    else:
        yield from _pg_store()


T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_downsampling_matches_hand_computed_values(store: TelemetryStore) -> None:
    # One hour at 1 Hz: the value is the second's index, 0 … 3599.
    s = to_ms(T0)
    store.write([(1, 7, s + i * 1000, float(i), None) for i in range(3600)])
    end = T0 + timedelta(hours=1)
    # 6 buckets of 600 s: bucket k holds 600k … 600k+599.
    avg = store.query(1, 7, T0, end, buckets=6, agg="avg")
    assert [b.value for b in avg] == [600 * k + 299.5 for k in range(6)]
    assert [b.count for b in avg] == [600] * 6
    assert [b.ts for b in avg] == [T0 + timedelta(seconds=600 * k) for k in range(6)]
    assert [b.value for b in store.query(1, 7, T0, end, 6, "min")] == [600.0 * k for k in range(6)]
    assert [b.value for b in store.query(1, 7, T0, end, 6, "max")] == [600.0 * k + 599 for k in range(6)]
    assert [b.value for b in store.query(1, 7, T0, end, 6, "last")] == [600.0 * k + 599 for k in range(6)]
    assert [b.value for b in store.query(1, 7, T0, end, 6, "first")] == [600.0 * k for k in range(6)]
    # A window that is not aligned: [00:10:00, 00:25:00) in 3 buckets of 300 s.
    sub = store.query(1, 7, T0 + timedelta(minutes=10), T0 + timedelta(minutes=25), 3, "avg")
    assert [b.value for b in sub] == [749.5, 1049.5, 1349.5]
    # Raw points and empty ranges.
    raw = store.query(1, 7, T0, T0 + timedelta(seconds=5), buckets=None)
    assert [b.value for b in raw] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert store.query(1, 7, end, end + timedelta(hours=1), 10, "avg") == []
    assert store.query(1, 8, T0, end, 10, "avg") == []


def test_latest_values_and_redelivery(store: TelemetryStore) -> None:
    s = to_ms(T0)
    store.write([(2, 1, s, 10.0, None), (2, 1, s + 1000, 11.0, None), (2, 3, s, None, "running")], received_ms=s + 5)
    # An older point arriving late must not replace the newer latest value.
    store.write([(2, 1, s - 1000, 9.0, None)])
    latest = store.latest_rows([2])[2]
    assert latest[1].value == 11.0 and latest[3].text == "running"
    assert store.last_seen([2])[2] == datetime.fromtimestamp((s + 5) / 1000, UTC)
    # Redelivery of stored points is ignored, new ones in the same batch are kept.
    store.write([(2, 1, s, 10.0, None), (2, 1, s + 2000, 12.0, None)])
    assert store.count(2) == 5  # 3 + the late one + one new; the redelivered one is not stored twice
    assert store.latest_rows([2])[2][1].value == 12.0


def test_retention_frees_disk_space(store: TelemetryStore) -> None:
    now = datetime.now(UTC)
    old = to_ms(now - timedelta(days=40))
    old -= old % DAY_MS
    recent = to_ms(now - timedelta(hours=1))
    store.write([(3, 1, old + i * 100, float(i), None) for i in range(60_000)])
    store.write([(3, 1, recent + i * 100, float(i), None) for i in range(1_000)])
    if isinstance(store, SqliteStore):
        store.reclaim()
        before = store.file_bytes()
    else:
        before = store.size_bytes()
    store.drop_before(to_ms(now - timedelta(days=30)))
    store.reclaim()
    after = store.file_bytes() if isinstance(store, SqliteStore) else store.size_bytes()
    assert store.count(3) == 1_000
    assert after < before * 0.5, (before, after)


def test_retention_per_device(store: TelemetryStore) -> None:
    now = datetime.now(UTC)
    t = to_ms(now - timedelta(days=10))
    store.write([(4, 1, t, 1.0, None), (5, 1, t, 1.0, None), (4, 1, to_ms(now), 2.0, None)])
    assert store.delete_before([4], to_ms(now - timedelta(days=5))) == 1
    assert store.count(4) == 1 and store.count(5) == 1


def test_postgres_store_survives_a_killed_connection() -> None:
    """The server ending an idle connection (restart, admin kill) must not fail the next page that reads."""
    import time

    for store in _pg_store():
        s = to_ms(T0)
        store.write([(3, 1, s, 1.0, None)])
        pid = store._conn().info.backend_pid
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)  # the termination message reaches the idle socket
        assert store.latest_rows([3])[3][1].value == 1.0
        assert store._conn().info.backend_pid != pid


def _reference(points: list[tuple[int, float | None]], s: int, width: int, agg: str) -> list[tuple[int, Any, int]]:
    """Buckets computed the slow, obvious way from the points that count (first stored per ts)."""
    first: dict[int, float | None] = {}
    for ts, v in points:
        first.setdefault(ts, v)
    by: dict[int, list[tuple[int, float | None]]] = {}
    for ts, v in sorted(first.items()):
        by.setdefault((ts - s) // width, []).append((ts, v))
    out: list[tuple[int, Any, int]] = []
    for b, pts in sorted(by.items()):
        vals = [v for _t, v in pts if v is not None]
        value: Any = {
            "avg": sum(vals) / len(vals) if vals else None,
            "sum": sum(vals) if vals else None,
            "min": min(vals, default=None),
            "max": max(vals, default=None),
            "count": len(pts),
            "first": pts[0][1],
            "last": pts[-1][1],
        }[agg]
        out.append((b, value, len(pts)))
    return out


def test_write_buffer_and_clustered_table_read_as_one(store: TelemetryStore, monkeypatch: Any) -> None:
    """Sparse batches wait in the buffer, dense ones go straight to the clustered table, redeliveries of
    either are ignored: every aggregate and the raw rows equal a hand computation, before and after the
    buffer moves."""
    import random

    import chaoyun.devices.store as store_mod

    monkeypatch.setattr(store_mod, "HOT_ROWS", 10**9)
    monkeypatch.setattr(store_mod, "HOT_SECONDS", 10**9)
    rnd = random.Random(7)
    s = to_ms(T0)
    written: list[tuple[int, float | None]] = []  # series (9, 1) in the order stored
    for k in range(30):
        if k % 5 == 0:  # dense: 40 points of one series, some of them already written
            ts = sorted(rnd.sample(range(0, 600), 40))
            batch = [(9, 1, s + t * 1000, float(rnd.randint(0, 99)), None) for t in ts]
        else:  # sparse: one point for each of 20 devices, one of them ours (sometimes a repeat, sometimes None)
            t = rnd.randrange(0, 600)
            value = None if k % 7 == 0 else float(rnd.randint(0, 99))
            batch = [(9, 1, s + t * 1000, value, "x" if value is None else None)]
            batch += [(100 + d, 1, s + t * 1000, 1.0, None) for d in range(19)]
        store.write(batch, received_ms=s + 5)
        written += [(r[2], r[3]) for r in batch if r[0] == 9]
    assert store.count(9) == len({t for t, _v in written})
    hot_before = len(store._hot_rows(9, 1, s, s + 600_000))
    assert hot_before > 0, "the sparse batches should be in the buffer"
    for moved in (False, True):
        if moved:
            store.flush()
            assert store._hot_rows(9, 1, s, s + 600_000) == []
        for agg in ("avg", "sum", "min", "max", "count", "first", "last"):
            got = store.buckets(9, 1, s, s + 600_000, 60_000, agg)
            assert got == _reference(written, s, 60_000, agg), (agg, moved)
        raw = store.raw_rows(9, 1, s, s + 600_000, 1000)
        first: dict[int, float | None] = {}
        for t, v in written:
            first.setdefault(t, v)
        assert [(t, v) for t, v, _x in raw] == sorted(first.items())
        assert store.count(9) == len(first)
        newest = max(first)
        assert store.latest_rows([9])[9][1].ts == from_ms(newest)
        assert store.latest_rows([9])[9][1].value == first[newest]
        assert store.last_seen([9])[9] == from_ms(s + 5)


def _moved(store: TelemetryStore, lo: int, hi: int) -> None:
    """The buffer's rows of series (0, 1) in [lo, hi) have moved: at once where the writer moves it, within
    seconds where the write-behind thread does (PostgreSQL, MOVE_BEHIND)."""
    import time

    deadline = time.monotonic() + (5 if store.MOVE_BEHIND else 0)
    while store._hot_rows(0, 1, lo, hi):
        assert time.monotonic() < deadline, "the buffer was not moved"
        time.sleep(0.05)


def test_buffer_moves_when_full_or_old(store: TelemetryStore, monkeypatch: Any) -> None:
    import chaoyun.devices.store as store_mod

    monkeypatch.setattr(store_mod, "HOT_ROWS", 50)
    monkeypatch.setattr(store_mod, "HOT_SECONDS", 10**9)
    s = to_ms(T0)
    store.write([(d, 1, s, 1.0, None) for d in range(30)])
    assert len(store._hot_rows(0, 1, s, s + 1)) == 1
    store.write([(d, 1, s + 1000, 1.0, None) for d in range(30)])  # 60 rows: over the limit
    _moved(store, s, s + 2000)
    assert store.count() == 60
    monkeypatch.setattr(store_mod, "HOT_ROWS", 10**9)
    monkeypatch.setattr(store_mod, "HOT_SECONDS", 0.3)
    store.write([(d, 1, s + 2000, 1.0, None) for d in range(30)])
    assert len(store._hot_rows(0, 1, s, s + 3000)) == 1
    import time

    time.sleep(0.4)
    store.write([(d, 1, s + 3000, 1.0, None) for d in range(30)])
    _moved(store, s, s + 4000)
    assert store.count() == 120


def test_an_explicit_flush_waits_for_a_move_in_progress(store: TelemetryStore, monkeypatch: Any) -> None:
    """Retention, rollups and device deletion call flush() and then read or cut the clustered table: when another
    thread of the process is moving the buffer (the write-behind thread, on PostgreSQL often), flush() waits for
    it and moves what is left. A writer's flush(wait=False) goes on at once."""
    import threading

    import chaoyun.devices.store as store_mod

    monkeypatch.setattr(store_mod, "HOT_ROWS", 10**9)
    monkeypatch.setattr(store_mod, "HOT_SECONDS", 10**9)
    s = to_ms(T0)
    store.write([(d, 1, s, 1.0, None) for d in range(30)])
    assert len(store._hot_rows(0, 1, s, s + 1)) == 1
    with store._flush_lock:  # a move in progress on another thread
        store.flush(wait=False)  # returns at once (it would deadlock here otherwise)
        t = threading.Thread(target=store.flush)
        t.start()
        t.join(0.3)
        assert t.is_alive(), "flush() returned while another thread was still moving the buffer"
    t.join(10)
    assert not t.is_alive()
    assert store._hot_rows(0, 1, s, s + 1) == []
    assert store.count() == 30


def test_a_writer_does_not_wait_for_a_move_where_moves_run_behind(store: TelemetryStore, monkeypatch: Any) -> None:
    """PostgreSQL: the write that finds the buffer due returns before the move has run (the write-behind thread
    moves it), so an MQTT worker keeps taking batches meanwhile; SQLite's writer moves it itself."""
    import threading

    import chaoyun.devices.store as store_mod

    monkeypatch.setattr(store_mod, "HOT_ROWS", 50)
    monkeypatch.setattr(store_mod, "HOT_SECONDS", 10**9)
    s = to_ms(T0)
    movers: list[str] = []
    real = store._flush

    def flush() -> None:
        movers.append(threading.current_thread().name)
        real()

    monkeypatch.setattr(store, "_flush", flush)
    store.write([(d, 1, s, 1.0, None) for d in range(60)])
    _moved(store, s, s + 1)
    writer = threading.current_thread().name
    if store.MOVE_BEHIND:
        assert movers and writer not in movers, movers
    else:
        assert movers == [writer]


def test_current_values_written_behind(store: TelemetryStore) -> None:
    """The writing process sees a new current value at once; another process (here a second store on the same
    database) within LATEST_SECONDS plus a round of the write-behind thread, without any further write."""
    import time

    other = SqliteStore(store.path) if isinstance(store, SqliteStore) else PostgresStore(store.url)
    s = to_ms(T0)
    store.write([(21, 1, s, 1.0, None), (22, 1, s, 1.0, None)], received_ms=s)  # the first write goes out at once
    assert other.latest_rows([21])[21][1].value == 1.0
    store.write([(21, 1, s + 1000, 2.0, None), (22, 1, s + 1000, 2.0, None)], received_ms=s + 1000)
    assert store.latest_rows([21])[21][1].value == 2.0  # the writer's own readers: pending values merged
    deadline = time.monotonic() + 3
    while other.latest_rows([21])[21][1].value != 2.0:
        assert time.monotonic() < deadline, "the pending current value never reached the database"
        time.sleep(0.05)
    assert other.last_seen([22])[22] == from_ms(s + 1000)
    conn = getattr(other._local, "conn", None)
    if conn is not None:
        conn.close()


def test_old_buffer_moves_without_further_writes(store: TelemetryStore, monkeypatch: Any) -> None:
    import time

    import chaoyun.devices.store as store_mod

    monkeypatch.setattr(store_mod, "HOT_SECONDS", 0.3)
    s = to_ms(T0)
    store.write([(d, 1, s, 1.0, None) for d in range(30)], received_ms=s)
    store.write([(d, 1, s + 1000, 1.0, None) for d in range(30)], received_ms=s + 1000)  # starts the thread
    deadline = time.monotonic() + 5
    while store._hot_rows(0, 1, s, s + 2000):
        assert time.monotonic() < deadline, "the buffer was never moved"
        time.sleep(0.1)
    assert store.count() == 60


def test_sqlite_writers_of_other_processes_queue_on_the_lock_file(tmp_path: Path) -> None:
    """A writer waits for the lock file another process holds (instead of SQLite's sleeping busy handler),
    and goes on as soon as it is released."""
    import fcntl
    import multiprocessing
    import threading

    store = SqliteStore(tmp_path / "t.db")
    ctx = multiprocessing.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path / "t.db.writer"), held, release))
    holder.start()
    try:
        assert held.wait(30)
        done = threading.Event()
        t0 = to_ms(datetime.now(UTC))
        writer = threading.Thread(target=lambda: (store.write([(1, 1, t0, 1.0, None)]), done.set()))
        writer.start()
        assert not done.wait(0.5)  # blocked behind the other process
        release.set()
        assert done.wait(10)
        writer.join()
    finally:
        release.set()
        holder.join(10)
    assert fcntl is not None and store.count() == 1


def _hold_lock(path: str, held: Any, release: Any) -> None:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    held.set()
    release.wait(30)
    fcntl.flock(fd, fcntl.LOCK_UN)


def test_sqlite_wal_checkpointed_off_the_writers_path(tmp_path: Path, monkeypatch: Any) -> None:
    """A writer leaves the write-ahead log alone (SQLite's own checkpoint would have run inside its transaction
    past 1,000 pages); the write-behind thread folds it back into the database file soon after."""
    import time

    from chaoyun.devices import store as store_mod

    monkeypatch.setattr(store_mod, "LATEST_SECONDS", 1.0)
    store = SqliteStore(tmp_path / "t.db")
    db_file = tmp_path / "t.db"
    empty = db_file.stat().st_size
    s = to_ms(T0)
    store.write([(d, 1, s + k, float(k), None) for d in range(400) for k in range(800)])  # 320,000 rows, dense
    assert (tmp_path / "t.db-wal").stat().st_size > 1000 * 4096  # past SQLite's default checkpoint point
    assert db_file.stat().st_size == empty  # ... yet nothing copied back by the writer
    deadline = time.monotonic() + 60  # generous: a loaded 2-core CI machine
    while db_file.stat().st_size == empty:
        assert time.monotonic() < deadline, "the write-ahead log was never checkpointed"
        time.sleep(0.1)
    assert store.count() == 320_000


def test_postgres_buffer_moved_by_one_process_at_a_time() -> None:
    """While another session holds the move's advisory lock, a flush leaves the buffer alone (two workers moving
    the same rows at once copied them twice and waited on each other); once released, the next flush moves it."""
    from chaoyun.devices.store import PG_MOVE_LOCK

    for store in _pg_store():
        import psycopg

        s = to_ms(T0)
        store.write([(d, 1, s, 1.0, None) for d in range(5)])  # sparse: into the buffer
        with psycopg.connect(store.url, autocommit=True) as other:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", (PG_MOVE_LOCK,)).fetchone()[0]
            store.flush()
            assert store._fetch("SELECT count(*) FROM telemetry_hot") == [(5,)]
            other.execute("SELECT pg_advisory_unlock(%s)", (PG_MOVE_LOCK,))
        store.flush()
        assert store._fetch("SELECT count(*) FROM telemetry_hot") == [(0,)]
        assert store.count() == 5


def test_postgres_current_values_never_wait_for_another_writer() -> None:
    """While another writer upserts current values (it holds their advisory lock, as an ingest worker inside its
    transaction would, and a row lock on the same series), a batch is stored without waiting: its current values
    stay pending (visible to this process) and reach the database in the next round once the lock is free."""
    import threading

    from chaoyun.devices.store import PG_LATEST_LOCK

    for store in _pg_store():
        import psycopg

        s = to_ms(T0)
        store.write([(31, 1, s, 1.0, None)], received_ms=s)  # the first write goes out at once
        with psycopg.connect(store.url) as other:  # a transaction: the xact lock and the row lock are held
            assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", (PG_LATEST_LOCK,)).fetchone()[0]
            other.execute("UPDATE telemetry_latest SET value = value WHERE device_id = 31")
            store._latest_at = 0.0  # due: this batch would upsert its current values now
            writer = threading.Thread(target=store.write, args=([(31, 1, s + 1000, 2.0, None)], s + 1000))
            writer.start()
            writer.join(5)
            waited = writer.is_alive()  # a row-lock wait lasts until `other` ends
            if waited:
                other.rollback()
                writer.join()
            assert not waited, "the batch waited for another writer's current values"
            assert store.count() == 2
            assert store.latest_rows([31])[31][1].value == 2.0  # pending, merged for this process's readers
            db_value = store._fetch("SELECT value FROM telemetry_latest WHERE device_id = 31 AND metric_id = 1")
            assert db_value == [(1.0,)]
            other.rollback()
        store.write_pending()
        assert store._fetch("SELECT value FROM telemetry_latest WHERE device_id = 31 AND metric_id = 1") == [(2.0,)]


def test_newest_row_per_series_the_same_in_numpy_as_row_by_row() -> None:
    """Large batches find each series' newest row from shared numpy key columns; out-of-order times and equal
    times (the later row wins) give what the row-by-row loop gives."""
    import random

    from chaoyun.devices.store import NUMPY_ROWS, key_columns, latest_of

    rnd = random.Random(3)
    rows = [
        (rnd.randrange(40), rnd.randrange(6), rnd.randrange(500) * 1000, float(i), None)
        for i in range(NUMPY_ROWS + 1000)
    ]
    assert latest_of(rows, key_columns(rows)) == latest_of(rows)
    assert len(latest_of(rows)) == 240
