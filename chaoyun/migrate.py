"""Alembic, configured in code: one env, one version folder (branch) per context."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PACKAGE = Path(__file__).resolve().parent


def version_locations() -> list[str]:
    found = sorted(PACKAGE.glob("*/**/migrations"))
    return [str(p) for p in found if p.parent != PACKAGE and (p / "__init__.py").exists()]


def config(url: str | None = None) -> Config:
    from chaoyun.settings import get_settings

    cfg = Config()
    cfg.set_main_option("script_location", str(PACKAGE / "migrations"))
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(version_locations()))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().database_url)
    return cfg


def upgrade(url: str | None = None) -> None:
    command.upgrade(config(url), "heads")
