"""Test set-up: a database of its own for every test file.

Each xdist worker migrates and seeds one template database once (SQLite file, or PostgreSQL when
CHAOYUN_DATABASE_URL says so); every test file then gets a fresh copy of it (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL) with its own var folder (telemetry store, uploads), so no
file's data can meet another file's assumptions."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_TMP = Path(tempfile.mkdtemp(prefix=f"chaoyun-test-{WORKER}-"))


def _configure_database() -> str:
    base = os.environ.get("CHAOYUN_DATABASE_URL", "")
    if base.startswith("postgresql"):
        import psycopg

        root, name = base.rsplit("/", 1)
        # The process id keeps two test runs on one machine (CI's and a developer's) apart.
        dbname = f"{name}_{WORKER}_{os.getpid()}"
        admin = os.environ.get("CHAOYUN_TEST_PG_ADMIN_URL", root + "/postgres")
        with psycopg.connect(admin.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return f"{root}/{dbname}"
    return f"sqlite:///{_TMP / 'chaoyun.db'}"


_DB_URL = _configure_database()
os.environ["CHAOYUN_DATABASE_URL"] = _DB_URL


def pytest_unconfigure(config: Any) -> None:
    """Drop this run's PostgreSQL database and temporary folder, so runs leave nothing behind."""
    import shutil

    if _DB_URL.startswith("postgresql"):
        import psycopg

        from chaoyun.db import get_engine

        get_engine().dispose()
        root, name = _DB_URL.rsplit("/", 1)
        admin = os.environ.get("CHAOYUN_TEST_PG_ADMIN_URL", root + "/postgres")
        try:
            with psycopg.connect(admin.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error:
            pass  # a leftover database is harmless; the next run uses its own name
    shutil.rmtree(_TMP, ignore_errors=True)


os.environ["CHAOYUN_VAR_DIR"] = str(_TMP / "var")
os.environ.setdefault("CHAOYUN_SECRET_KEY", "test-secret")
os.environ["CHAOYUN_LOGIN_MAX_FAILURES"] = "5"
os.environ["CHAOYUN_BACKGROUND"] = "0"

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from chaoyun import migrate  # noqa: E402
from chaoyun.db import get_sessionmaker  # noqa: E402
from chaoyun.devices.store import forget_metric_cache, get_store  # noqa: E402
from chaoyun.identity import demo  # noqa: E402
from chaoyun.web.app import create_app  # noqa: E402

DEMO_ENTERPRISES = 40


def demo_password(username: str) -> str:
    return f"{username}-demo-2018"


@pytest.fixture(autouse=True)
def _fresh_login_counters() -> None:
    """Failed-sign-in counters live in process memory and every TestClient shares one address: each test
    starts with none (tests of the counters make their own failures)."""
    from chaoyun.identity import throttle
    from chaoyun.web import ratelimit

    throttle.clear()
    ratelimit.MEMORY.clear()  # rate-limit buckets too (every TestClient is the address "testclient")


@pytest.fixture(scope="session", autouse=True)
def _database() -> Iterator[None]:
    """The worker's template: migrated and seeded once; each test file works on a copy (below)."""
    migrate.upgrade()
    with get_sessionmaker()() as db:
        demo.seed(db, enterprises=DEMO_ENTERPRISES)
    _settle_process_state()
    yield


def _settle_process_state() -> None:
    """Write out what this process holds in memory for the current database and forget its connections, so
    the database can be copied (PostgreSQL refuses a template with open connections)."""
    from chaoyun.db import get_engine

    store = get_store()
    store.write_pending()
    store.flush()
    closer = getattr(store, "close", None)
    if callable(closer):
        closer()
    get_engine().dispose()


def _use(url: str, var_dir: Path) -> None:
    """Point this process at another database and var folder: every cache keyed on the settings is reset."""
    from chaoyun import settings
    from chaoyun.apps import usage
    from chaoyun.db import get_engine
    from chaoyun.devices import alarms, ingest

    os.environ["CHAOYUN_DATABASE_URL"] = url
    os.environ["CHAOYUN_VAR_DIR"] = str(var_dir)
    get_sessionmaker.cache_clear()
    get_engine.cache_clear()
    settings.get_settings.cache_clear()
    ingest.limits.cache_clear()
    alarms.forget_rules()
    forget_metric_cache()  # metric ids are per database
    usage._written.clear()


_files = itertools.count(1)


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of an SQLite database (WAL included) through SQLite's backup API."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


@pytest.fixture(scope="module", autouse=True)
def _database_per_file(_database: None) -> Iterator[None]:
    n = next(_files)
    (_TMP / "var").mkdir(parents=True, exist_ok=True)
    if _DB_URL.startswith("postgresql"):
        import psycopg

        root, template = _DB_URL.rsplit("/", 1)
        name = f"{template}_f{n}"
        admin = os.environ.get("CHAOYUN_TEST_PG_ADMIN_URL", root + "/postgres").replace(
            "postgresql+psycopg", "postgresql"
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (template,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        var = _TMP / f"f{n}" / "var"
        shutil.copytree(_TMP / "var", var, ignore=shutil.ignore_patterns("telemetry.db*"))
        url = f"{root}/{name}"
    else:
        folder = _TMP / f"f{n}"
        var = folder / "var"
        shutil.copytree(_TMP / "var", var, ignore=shutil.ignore_patterns("*.db", "*.db-*", "*.lock"))
        _copy_sqlite(_TMP / "chaoyun.db", folder / "chaoyun.db")
        if (_TMP / "var" / "telemetry.db").exists():
            _copy_sqlite(_TMP / "var" / "telemetry.db", var / "telemetry.db")
        url = f"sqlite:///{folder / 'chaoyun.db'}"
    _use(url, var)
    try:
        yield
    finally:
        _settle_process_state()
        if url.startswith("postgresql"):
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            shutil.rmtree(_TMP / f"f{n}", ignore_errors=True)


@pytest.fixture(scope="session")
def app() -> Any:
    return create_app()


@pytest.fixture()
def db() -> Iterator[Session]:
    with get_sessionmaker()() as s:
        yield s


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class UserClient:
    """A TestClient signed in as one user, sending the CSRF token with every unsafe request."""

    def __init__(self, app: Any, username: str | None, password: str | None = None) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.username = username
        self.csrf = ""
        page = self.client.get("/login")
        self.csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
        if username is not None:
            r = self.client.post(
                "/login",
                data={
                    "username": username,
                    "password": password or demo_password(username),
                    "csrf_token": self.csrf,
                    "next": "/home",
                },
            )
            assert r.status_code == 303, r.text
            home = self.client.get("/account")
            self.csrf = CSRF_RE.search(home.text).group(1)  # type: ignore[union-attr]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        if "json" in kw:
            headers = kw.pop("headers", {}) | {"X-CSRF-Token": self.csrf}
            return self.client.post(url, headers=headers, **kw)
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)

    def request(self, method: str, url: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {}) | {"X-CSRF-Token": self.csrf}
        return self.client.request(method, url, headers=headers, **kw)


@pytest.fixture()
def login(app: Any) -> Any:
    def _login(username: str | None, password: str | None = None) -> UserClient:
        return UserClient(app, username, password)

    return _login


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The app served by a real Uvicorn on a free port, against the test database."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context (no cookies), Chinese locale, base URL set to the live server.

    Pages run under the Content-Security-Policy (no eval): give ``wait_for_function`` a function
    (``"() => ..."``), not a bare expression, which Playwright would have to eval in the page."""
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900})
    # Generous: on a loaded 2-core CI machine Chromium shares the cores with a second pytest worker and
    # PostgreSQL; a real failure still fails, only later.
    ctx.set_default_timeout(45_000)
    ctx.set_default_navigation_timeout(45_000)
    p = ctx.new_page()
    yield p
    ctx.close()
