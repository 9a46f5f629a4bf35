"""Backup and restore of everything the platform keeps: its database(s) and the files under ``CHAOYUN_VAR_DIR``.

An archive is one tar file (``.tar``, or gzip-compressed when the name ends in ``.gz`` / ``.tgz``), written
with mode 0600 (it holds the generated keys and every enterprise's data):

- ``manifest.json`` — what the archive holds, and for every table its row count and a content hash;
- SQLite: ``databases/main.sqlite`` (the ``CHAOYUN_DATABASE_URL`` file) and ``databases/var/<name>`` for every
  other SQLite file under the var folder (the telemetry store ``telemetry.db`` ...), each copied with SQLite's
  online backup API: a consistent copy while the server keeps running and writing;
- PostgreSQL: ``databases/main.pgdump`` from ``pg_dump --format=custom``, taken in an exported snapshot that
  the manifest's counts and hashes are computed in too, so they describe exactly what was dumped;
- ``files/<path>`` — every other file under the var folder (uploads, attachments, certificates, keys), less
  temporary ones (``staging/``, lock and SQLite journal files).

Restore puts the archive back into the database and var folder the *current* settings name (so a backup
moves to a new host or a fresh folder), then recomputes every table's count and hash and fails unless all
match the manifest. PostgreSQL: the ``public`` schema is dropped and recreated and the dump replayed through
``psql`` in one transaction — on any error nothing changes. SQLite: each file is written back through the
backup API. Stop the server (and ingest workers) before restoring: their caches would not know.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from chaoyun import __version__
from chaoyun.settings import get_settings

FORMAT = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
# Never archived: scratch space, lock files, SQLite's journal files (the databases are copied whole).
SKIP_DIRS = {"staging", "tmp", "__pycache__"}
SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".writer", ".lock", ".tmp")
MASK = (1 << 128) - 1


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why."""


@dataclass
class TableSummary:
    rows: int
    digest: str  # order-independent content hash: sum of every row's hash, mod 2**128, in hex

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "digest": self.digest}


Summary = dict[str, TableSummary]


@dataclass
class Result:
    path: Path
    kind: str
    databases: dict[str, Summary]
    files: int
    bytes: int
    seconds: float
    mismatches: list[str] = field(default_factory=list)

    @property
    def tables(self) -> int:
        return sum(len(s) for s in self.databases.values())

    @property
    def rows(self) -> int:
        return sum(t.rows for s in self.databases.values() for t in s.values())


# ---------------------------------------------------------------- content summaries


def _row_hash(row: tuple[Any, ...]) -> int:
    return int.from_bytes(hashlib.sha256(repr(row).encode("utf-8", "surrogatepass")).digest()[:16], "big")


def summarize_sqlite(path: Path) -> Summary:
    """Row count and content hash of every table of an SQLite file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out: Summary = {}
        for name in names:
            n, acc = 0, 0
            cur = conn.execute(f'SELECT * FROM "{name}"')
            while batch := cur.fetchmany(10_000):
                for row in batch:
                    acc = (acc + _row_hash(row)) & MASK
                n += len(batch)
            out[name] = TableSummary(n, f"{acc:032x}")
        return out
    finally:
        conn.close()


def _pg_settle(cur: Any) -> None:
    # Row text is the hash input: make it independent of the session's settings.
    cur.execute("SET TimeZone = 'UTC'")
    cur.execute("SET DateStyle = 'ISO, YMD'")
    cur.execute("SET IntervalStyle = 'postgres'")
    cur.execute("SET extra_float_digits = 1")
    cur.execute("SET bytea_output = 'hex'")


def summarize_pg(conn: Any) -> Summary:
    """Row count and content hash of every ordinary table (partitions included) of every user schema, computed
    in the database (each row's text, md5, summed as two 64-bit halves: nothing large travels)."""
    with conn.cursor() as cur:
        _pg_settle(cur)
        cur.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') "
            "ORDER BY 1, 2"
        )
        tables = cur.fetchall()
        out: Summary = {}
        for schema, name in tables:
            q = f'"{schema}"."{name}"'
            cur.execute(
                "SELECT count(*), "
                "coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0), "
                "coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0) "
                f"FROM (SELECT md5(t::text) AS h FROM ONLY {q} AS t) AS s"
            )
            n, hi, lo = cur.fetchone()
            acc = ((int(hi) % (1 << 64)) << 64 | (int(lo) % (1 << 64))) & MASK
            key = name if schema == "public" else f"{schema}.{name}"
            out[key] = TableSummary(int(n), f"{acc:032x}")
        return out


def compare(expected: dict[str, Summary], actual: dict[str, Summary]) -> list[str]:
    """Every difference between two sets of summaries, in words (empty: identical)."""
    out = []
    for db in sorted(set(expected) | set(actual)):
        e, a = expected.get(db, {}), actual.get(db, {})
        for t in sorted(set(e) | set(a)):
            if t not in a:
                out.append(f"{db}: table {t} missing after restore")
            elif t not in e:
                out.append(f"{db}: table {t} not in the backup")
            elif e[t].rows != a[t].rows:
                out.append(f"{db}: {t} has {a[t].rows} rows, the backup {e[t].rows}")
            elif e[t].digest != a[t].digest:
                out.append(f"{db}: {t} content differs from the backup ({e[t].rows} rows)")
    return out


def _load_summary(d: dict[str, Any]) -> Summary:
    return {t: TableSummary(int(v["rows"]), str(v["digest"])) for t, v in d.items()}


# ---------------------------------------------------------------- where things are


def _database_url() -> str:
    return get_settings().database_url


def _kind(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise BackupError(f"unsupported database URL: {url.split(':', 1)[0]}")


def _sqlite_main(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(db).resolve()


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def _var_files(var_dir: Path, exclude: set[Path]) -> Iterator[tuple[Path, str]]:
    """(path, path relative to the var folder) of every file to archive, databases and scratch excluded."""
    if not var_dir.is_dir():
        return
    for root, dirs, files in os.walk(var_dir):
        rel_root = Path(root).relative_to(var_dir)
        dirs[:] = sorted(d for d in dirs if not (rel_root == Path(".") and d in SKIP_DIRS))
        for name in sorted(files):
            p = Path(root) / name
            if p.is_symlink() or not p.is_file() or name.endswith(SKIP_SUFFIXES) or p.resolve() in exclude:
                continue
            yield p, (rel_root / name).as_posix()


def _sqlite_var_dbs(var_dir: Path, main: Path) -> list[tuple[Path, str]]:
    if not var_dir.is_dir():
        return []
    out = []
    for p, rel in _var_files(var_dir, {main}):
        if _is_sqlite(p):
            out.append((p, rel))
    return out


def _pg_env(url: str) -> dict[str, str]:
    """libpq environment for pg_dump / psql: no password on a command line (``ps`` would show it)."""
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", str(u.port) if u.port else None),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value:
            env[var] = str(value)
    for key, var in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("host", "PGHOST")):
        q = u.query.get(key)
        if isinstance(q, str) and q:
            env[var] = q
    return env


def _pg_connect(url: str) -> Any:
    import psycopg

    u = make_url(url)
    return psycopg.connect(u.set(drivername="postgresql").render_as_string(hide_password=False))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools (postgresql-client)")
    return path


def _run(cmd: list[str], env: dict[str, str]) -> None:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-2000:]}")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _open_write(path: Path) -> tarfile.TarFile:
    mode = "w:gz" if path.name.endswith((".gz", ".tgz")) else "w"
    return tarfile.open(path, mode)  # type: ignore[call-overload, no-any-return]


# ---------------------------------------------------------------- backup


def backup(path: Path, files: bool = True) -> Result:
    """Write an archive of the database(s) and (``files``) the var folder to ``path``."""
    started = time.monotonic()
    s = get_settings()
    url = _database_url()
    kind = _kind(url)
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    var_dir = s.var_dir.resolve()
    summaries: dict[str, Summary] = {}
    entries: list[dict[str, Any]] = []
    nfiles = 0
    heads: list[str] = []
    old_umask = os.umask(0o077)
    try:
        with tempfile.TemporaryDirectory(prefix="chaoyun-backup-") as tmp_name, _open_write(partial) as tar:
            tmp = Path(tmp_name)
            exclude: set[Path] = set()
            if kind == "sqlite":
                main = _sqlite_main(url)
                if not main.exists():
                    raise BackupError(f"no database at {main}")
                dbs = [("main", main, "databases/main.sqlite")]
                dbs += [(f"var/{rel}", p, f"databases/var/{rel}") for p, rel in _sqlite_var_dbs(var_dir, main)]
                for name, src, member in dbs:
                    copy = tmp / "copy.sqlite"
                    with (
                        contextlib.closing(sqlite3.connect(src, timeout=60)) as a,
                        contextlib.closing(sqlite3.connect(copy)) as b,
                    ):
                        a.backup(b)  # online: a consistent snapshot while others keep writing
                    summaries[name] = summarize_sqlite(copy)
                    if name == "main":
                        with contextlib.closing(sqlite3.connect(copy)) as c:
                            heads = _heads(c)
                    tar.add(copy, member)
                    copy.unlink()
                    entries.append({"name": name, "member": member})
                    exclude.add(src.resolve())
            else:
                dump = tmp / "main.pgdump"
                with _pg_connect(url) as conn:
                    # One snapshot for the dump and for the counts: they describe the same data.
                    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                    _run(
                        [
                            _tool("pg_dump"),
                            "--format=custom",
                            "--no-owner",
                            "--no-acl",
                            f"--snapshot={snapshot}",
                            f"--file={dump}",
                        ],
                        _pg_env(url),
                    )
                    summaries["main"] = summarize_pg(conn)
                    heads = _heads(conn)
                    conn.rollback()
                tar.add(dump, "databases/main.pgdump")
                entries.append({"name": "main", "member": "databases/main.pgdump"})
            if files:
                for p, rel in _var_files(var_dir, exclude):
                    if kind == "sqlite" and _is_sqlite(p):
                        continue  # copied above through the backup API
                    tar.add(p, f"files/{rel}")
                    nfiles += 1
            manifest = {
                "format": FORMAT,
                "chaoyun": __version__,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "kind": kind,
                "databases": [
                    e | {"tables": {t: v.as_dict() for t, v in summaries[e["name"]].items()}} for e in entries
                ],
                "files": nfiles,
                "alembic": heads,
            }
            _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        partial.chmod(0o600)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        os.umask(old_umask)
    return Result(path, kind, summaries, nfiles, path.stat().st_size, time.monotonic() - started)


def _heads(conn: Any) -> list[str]:
    """The migration revisions the data is at (for the reader; restore does not need them)."""
    try:
        return sorted(str(r[0]) for r in conn.execute("SELECT version_num FROM alembic_version").fetchall())
    except Exception:
        return []


# ---------------------------------------------------------------- restore


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path) as tar:
            f = tar.extractfile("manifest.json")
            if f is None:
                raise KeyError("manifest.json")
            manifest: dict[str, Any] = json.loads(f.read())
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{path} is not a chaoyun backup ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.get('format')} (this version reads {FORMAT})")
    return manifest


def restore(path: Path, files: bool = True) -> Result:
    """Put the archive back into the current database and var folder; fails unless every table matches."""
    started = time.monotonic()
    path = path.resolve()
    manifest = read_manifest(path)
    s = get_settings()
    url = _database_url()
    kind = _kind(url)
    if manifest["kind"] != kind:
        raise BackupError(f"the backup is of a {manifest['kind']} database; CHAOYUN_DATABASE_URL is {kind}")
    expected = {d["name"]: _load_summary(d["tables"]) for d in manifest["databases"]}
    var_dir = s.var_dir.resolve()
    actual: dict[str, Summary] = {}
    nfiles = 0
    with tempfile.TemporaryDirectory(prefix="chaoyun-restore-") as tmp_name, tarfile.open(path) as tar:
        tmp = Path(tmp_name)
        for d in manifest["databases"]:
            tar.extract(d["member"], tmp, filter="data")
        if kind == "sqlite":
            targets = {}
            for d in manifest["databases"]:
                name = d["name"]
                if name == "main":
                    targets[name] = _sqlite_main(url)
                elif name.startswith("var/"):
                    targets[name] = var_dir / name[4:]
                else:
                    raise BackupError(f"unknown database {name!r} in the backup")
            for d in manifest["databases"]:
                src, dst = tmp / d["member"], targets[d["name"]]
                dst.parent.mkdir(parents=True, exist_ok=True)
                with (
                    contextlib.closing(sqlite3.connect(src)) as a,
                    contextlib.closing(sqlite3.connect(dst, timeout=60)) as b,
                ):
                    a.backup(b)  # replaces the whole content, WAL included, under SQLite's own locks
                actual[d["name"]] = summarize_sqlite(dst)
        else:
            script = tmp / "restore.sql"
            env = _pg_env(url)
            _run(
                [_tool("pg_restore"), "--no-owner", "--no-acl", f"--file={script}", str(tmp / "databases/main.pgdump")],
                env,
            )
            prelude = tmp / "prelude.sql"
            prelude.write_text(
                "SET lock_timeout = '30s';\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"
            )
            _run(
                [
                    _tool("psql"),
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--single-transaction",
                    "-f",
                    str(prelude),
                    "-f",
                    str(script),
                ],
                env,
            )
            with _pg_connect(url) as conn:
                actual["main"] = summarize_pg(conn)
        if files:
            members = [m for m in tar.getmembers() if m.name.startswith("files/") and m.isfile()]
            var_dir.mkdir(parents=True, exist_ok=True)
            for m in members:
                m.name = m.name[len("files/") :]
                tar.extract(m, var_dir, filter="data")
                nfiles += 1
    mismatches = compare(expected, actual)
    result = Result(path, kind, actual, nfiles, path.stat().st_size, time.monotonic() - started, mismatches)
    return result
