"""The gateway's on-disk store-and-forward buffer (one SQLite file).

Collected readings are appended in one transaction per batch (fsync'd: ``synchronous=FULL``) before anything
is sent; the forwarder reads the oldest rows in order, sends them, and deletes them only once the platform
acknowledged them (MQTT PUBACK or HTTP 2xx). A cut network, a platform restart or a gateway restart loses
nothing; delivery is at-least-once and in order.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Entry:
    id: int
    device: str
    kind: str  # telemetry | attributes | result
    payload: dict[str, Any]


class Buffer:
    def __init__(self, path: str | Path, max_rows: int = 5_000_000) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL,"
            " kind TEXT NOT NULL DEFAULT 'telemetry', payload TEXT NOT NULL, created REAL NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.dropped = 0

    def append(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Durably store (device uid, kind, payload) rows; when full, the oldest are dropped (and counted)."""
        if not rows:
            return
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO outbox (device, kind, payload, created) VALUES (?, ?, ?, ?)",
                    [(d, k, json.dumps(p, separators=(",", ":"), default=str), now) for d, k, p in rows],
                )
                over = self._count() - self.max_rows
                if over > 0:
                    self._db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (over,)
                    )
                    self.dropped += over
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def pending(self) -> int:
        with self._lock:
            return self._count()

    def peek(self, limit: int) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, device, kind, payload FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Entry(i, d, k, json.loads(p)) for i, d, k, p in rows]

    def ack(self, upto_id: int) -> None:
        """Delete everything up to and including ``upto_id`` (sent in order, acknowledged)."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (upto_id,))

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
