"""The Alembic migrations produce exactly the tables the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chaoyun.db import Base, get_engine, import_all_models, include_object


def test_models_match_migrations() -> None:
    import_all_models()
    with get_engine().connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object})
        diff = compare_metadata(ctx, Base.metadata)
    assert not diff, f"models and migrations differ; add a migration: {diff}"
