"""Each test file works on its own copy of the worker's seeded template database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.settings import get_settings
from tests import conftest


def test_this_file_has_its_own_copy_of_the_seeded_database(db: Session) -> None:
    url = get_settings().database_url
    assert url != conftest._DB_URL  # not the template
    assert "_f" in url.rsplit("/", 1)[-1] or "/f" in url  # a per-file copy (PostgreSQL name, SQLite folder)
    assert str(get_settings().var_dir) != str(conftest._TMP / "var")
    # The copy carries the seeded demo cluster.
    assert db.execute(select(Organisation.id).where(Organisation.kind == "enterprise").limit(1)).first()
