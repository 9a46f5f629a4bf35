"""Engine, session factory and declarative Base shared by every context.

SQLite (WAL) is the embedded default; PostgreSQL (psycopg 3) is chosen by URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from chaoyun.settings import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, echo=echo, pool_size=20, max_overflow=20, pool_pre_ping=True)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    s = get_settings()
    if s.is_sqlite:
        s.var_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(s.database_url, echo=s.sql_echo)


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


async def get_db() -> AsyncIterator[Session]:
    """FastAPI dependency: one session per request; what no service committed is discarded.

    An async generator so FastAPI runs it on the event loop instead of two thread-pool hops per
    request; opening and closing a session does no blocking work worth a thread.

    close() (not rollback()) so loaded objects stay readable, detached, for error pages rendered
    after the dependency has finished.
    """
    db = get_sessionmaker()()
    try:
        yield db
    finally:
        db.close()


def import_all_models() -> None:
    """Import every context's models.py so Base.metadata knows all tables."""
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parent
    # Discovery is by file, so sub-packages (e.g. devices/connectors) can own tables too.
    for path in sorted(root.glob("**/models.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        importlib.import_module(".".join(rel.parts))


# Tables and indexes a context manages itself outside the ORM metadata (e.g. time-partitioned
# telemetry created by the store, or a trigram index made with raw SQL in a migration). Alembic's
# autogenerate and the models-match-migrations test leave objects whose names start with these alone.
UNMANAGED_PREFIXES: set[str] = set()


def register_unmanaged(*prefixes: str) -> None:
    UNMANAGED_PREFIXES.update(prefixes)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object`` hook: skip reflected objects a context declared unmanaged."""
    unmanaged = bool(name) and any(str(name).startswith(p) for p in UNMANAGED_PREFIXES)
    return not (reflected and compare_to is None and unmanaged)
