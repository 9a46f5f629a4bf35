"""Restore drill: seed, back up with ``chaoyun backup``, change things, ``chaoyun restore``, and compare every table's
row count and content with what was there at backup time (on the suite's database: SQLite, or PostgreSQL when
CHAOYUN_DATABASE_URL says so — CI runs both)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from chaoyun.db import get_engine, get_sessionmaker
from chaoyun.devices.store import get_store
from chaoyun.settings import get_settings
from tests.conftest import _settle_process_state
from tests.devices.helpers import make_device, org_of

ROOT = Path(__file__).resolve().parent.parent
CHAOYUN = [sys.executable, "-m", "chaoyun"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process, against this test file's database and var folder."""
    _settle_process_state()  # pending telemetry written, this process's connections closed
    return subprocess.run(
        [*CHAOYUN, *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=600
    )


def _digest(rows: list[Any]) -> str:
    return hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()


def _snapshot() -> dict[str, tuple[int, str]]:
    """Every table of the database (and of the SQLite telemetry file): row count and a hash of its sorted rows.

    Independent of chaoyun.ops (SQLAlchemy's inspector, plain SELECTs)."""
    out: dict[str, tuple[int, str]] = {}
    engine = get_engine()
    with engine.connect() as conn:
        for t in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{t}"')).all()
            out[t] = (len(rows), _digest(rows))
    engine.dispose()
    tele = get_settings().var_dir / "telemetry.db"
    if get_settings().is_sqlite and tele.exists():
        with sqlite3.connect(tele) as c:
            for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
                rows = c.execute(f'SELECT * FROM "{t}"').fetchall()
                out[f"telemetry.db:{t}"] = (len(rows), _digest(rows))
        c.close()
    return out


def _post(app: Any, token: str, points: list[dict[str, Any]]) -> None:
    r = TestClient(app).post("/api/v1/telemetry", json=points, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["rejected_count"] == 0, r.text


def test_restore_drill_loses_nothing(app: Any, tmp_path: Path) -> None:
    # Seed: the demo data of this file's database, plus a device with telemetry and uploaded files.
    with get_sessionmaker()() as db:
        _device, token = make_device(db, org_of(db, "factory"))
    now = int(time.time() * 1000)
    _post(
        app,
        token,
        [{"ts": now - 60_000 + i * 1000, "values": {"barrel_temp": 200 + i, "state": "running"}} for i in range(50)],
    )
    var = get_settings().var_dir
    (var / "programme" / "uploads").mkdir(parents=True, exist_ok=True)
    upload = var / "programme" / "uploads" / "drill-凭证.pdf"
    upload.write_bytes(b"%PDF-1.4 drill " + os.urandom(64))
    original_upload = upload.read_bytes()
    get_store().write_pending()
    before = _snapshot()
    assert before["organisations"][0] >= 40
    assert any(n for t, (n, _h) in before.items() if "telemetry" in t)

    archive = tmp_path / "backups" / "chaoyun.tar.gz"
    r = _cli("backup", str(archive))
    assert r.returncode == 0, r.stdout + r.stderr
    assert archive.exists() and (archive.stat().st_mode & 0o077) == 0  # only the owner may read it
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        names = tar.getnames()
    assert manifest["kind"] == ("sqlite" if get_settings().is_sqlite else "postgresql")
    assert manifest["alembic"], "the migration heads are recorded"
    assert "files/programme/uploads/drill-凭证.pdf" in names
    assert not any(n.endswith(("-wal", "-shm", ".writer")) for n in names)

    # Mutate: rows changed, deleted and added, more telemetry, the upload overwritten and another deleted.
    with get_sessionmaker()() as db:
        db.execute(text("UPDATE organisations SET name = name || ' (changed)'"))
        db.commit()
        make_device(db, org_of(db, "factory2"))
    _post(app, token, [{"ts": now + i, "values": {"barrel_temp": 1}} for i in range(10)])
    get_store().write_pending()
    upload.write_bytes(b"overwritten")
    changed = _snapshot()
    assert changed != before
    assert changed["organisations"][1] != before["organisations"][1]

    r = _cli("restore", str(archive), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every table matches the backup" in r.stdout

    after = _snapshot()
    assert after.keys() == before.keys()
    differing = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert not differing, differing
    assert upload.read_bytes() == original_upload
    # The restored platform works: the device's token still sends telemetry.
    _settle_process_state()
    _post(app, token, [{"ts": now + 5000, "values": {"barrel_temp": 2}}])


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "x.tar"
    bogus.write_bytes(b"not a tar")
    r = _cli("restore", str(bogus), "--yes")
    assert r.returncode == 1 and "not a chaoyun backup" in r.stderr


def test_restore_check_notices_a_difference() -> None:
    from chaoyun.ops.backup import TableSummary, compare

    a = {"main": {"t": TableSummary(2, "ab"), "u": TableSummary(1, "cd")}}
    assert compare(a, a) == []
    b = {"main": {"t": TableSummary(2, "ff"), "v": TableSummary(0, "00")}}
    assert compare(a, b) == [
        "main: t content differs from the backup (2 rows)",
        "main: table u missing after restore",
        "main: table v not in the backup",
    ]
