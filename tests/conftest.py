"""Test set-up: a database per xdist worker (SQLite file, or PostgreSQL when CHAOYUN_DATABASE_URL says so),
migrated with Alembic and seeded with a small demo cluster."""

from __future__ import annotations

import os
import re
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
from chaoyun.identity import demo  # noqa: E402
from chaoyun.web.app import create_app  # noqa: E402

DEMO_ENTERPRISES = 40


def demo_password(username: str) -> str:
    return f"{username}-demo-2018"


@pytest.fixture(scope="session", autouse=True)
def _database() -> Iterator[None]:
    migrate.upgrade()
    with get_sessionmaker()() as db:
        demo.seed(db, enterprises=DEMO_ENTERPRISES)
    yield


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
    """A fresh browser context (no cookies), Chinese locale, base URL set to the live server."""
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 1400, "height": 900})
    # Generous: on a loaded 2-core CI machine Chromium shares the cores with a second pytest worker and
    # PostgreSQL; a real failure still fails, only later.
    ctx.set_default_timeout(45_000)
    ctx.set_default_navigation_timeout(45_000)
    p = ctx.new_page()
    yield p
    ctx.close()
