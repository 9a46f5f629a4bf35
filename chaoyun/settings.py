"""All configuration in one place, read from ``CHAOYUN_*`` environment variables.

Every setting is listed with its default in the README; keep the two in step.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CHAOYUN_{name}", default)


def _secret_key(var_dir: Path) -> str:
    """An explicit key wins; otherwise one is generated once and kept under var/."""
    explicit = os.environ.get("CHAOYUN_SECRET_KEY")
    if explicit:
        return explicit
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    secret_key: str
    host: str
    port: int
    default_locale: str
    session_hours: int
    cookie_secure: bool
    login_max_failures: int
    login_lockout_minutes: int
    static_vendor_dir: Path
    sql_echo: bool
    background: bool
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    var_dir = Path(_env("VAR_DIR", str(ROOT / "var")))
    return Settings(
        var_dir=var_dir,
        database_url=_env("DATABASE_URL", f"sqlite:///{var_dir / 'chaoyun.db'}"),
        secret_key=_secret_key(var_dir),
        host=_env("HOST", "127.0.0.1"),
        port=int(_env("PORT", "8000")),
        default_locale=_env("DEFAULT_LOCALE", "zh_CN"),
        session_hours=int(_env("SESSION_HOURS", "12")),
        cookie_secure=_env("COOKIE_SECURE", "0") == "1",
        login_max_failures=int(_env("LOGIN_MAX_FAILURES", "5")),
        login_lockout_minutes=int(_env("LOGIN_LOCKOUT_MINUTES", "15")),
        static_vendor_dir=Path(_env("NODE_MODULES", str(ROOT / "node_modules"))),
        sql_echo=_env("SQL_ECHO", "0") == "1",
        background=_env("BACKGROUND", "1") == "1",
    )
