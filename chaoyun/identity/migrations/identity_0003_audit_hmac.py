"""Audit chain keyed with HMAC-SHA256: existing entries re-chained with the audit key.

The key (``CHAOYUN_AUDIT_KEY`` or ``<var dir>/audit_key``) is read, or generated, here, so it is always
available when this runs. The old unkeyed chain is checked first; whether it was intact is recorded in a
final ``audit_rekey`` entry, so re-chaining cannot quietly launder an earlier edit.

Revision ID: identity_0003
Revises: identity_0002
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "identity_0003"
down_revision: str | Sequence[str] | None = "identity_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

entries = sa.table(
    "audit_entries",
    sa.column("id", sa.Integer),
    sa.column("ts", chaoyun.db.UTCDateTime()),
    sa.column("actor_user_id", sa.Integer),
    sa.column("actor_username", sa.String),
    sa.column("actor_org_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("object_type", sa.String),
    sa.column("object_id", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
head = sa.table(
    "audit_head",
    sa.column("id", sa.Integer),
    sa.column("last_id", sa.Integer),
    sa.column("last_hash", sa.String),
    sa.column("count", sa.Integer),
)


def _rechain(old_key: bytes | None, new_key: bytes | None) -> tuple[int, bool]:
    """Check the chain under ``old_key`` and rewrite it under ``new_key``; (entries, old chain intact)."""
    from chaoyun.identity.audit import FIELDS, GENESIS, content_hash

    bind = op.get_bind()
    intact = True
    prev_old = prev_new = GENESIS
    expected = 1
    n = 0
    last = 0
    while True:
        rows = bind.execute(sa.select(entries).where(entries.c.id > last).order_by(entries.c.id).limit(2000)).all()
        if not rows:
            break
        for r in rows:
            fields: dict[str, Any] = {k: getattr(r, k) for k in FIELDS}
            if r.id != expected or r.prev_hash != prev_old or content_hash(r.prev_hash, fields, old_key) != r.hash:
                intact = False
            prev_old = r.hash
            new_hash = content_hash(prev_new, fields, new_key)
            bind.execute(sa.update(entries).where(entries.c.id == r.id).values(prev_hash=prev_new, hash=new_hash))
            prev_new = new_hash
            expected = r.id + 1
            n += 1
        last = rows[-1].id
    h = bind.execute(sa.select(head).where(head.c.id == 1)).first()
    if h is not None:
        if h._mapping["count"] != n or h.last_hash != prev_old:
            intact = False
        bind.execute(sa.update(head).where(head.c.id == 1).values(last_hash=prev_new, count=n, last_id=expected - 1))
    return n, intact


def upgrade() -> None:
    from chaoyun.db import utcnow
    from chaoyun.identity.audit import FIELDS, audit_key, content_hash

    key = audit_key()
    n, intact = _rechain(None, key)
    if not n:
        return
    bind = op.get_bind()
    h = bind.execute(sa.select(head).where(head.c.id == 1)).one()
    row: dict[str, Any] = {
        "id": h.last_id + 1,
        "ts": utcnow().replace(microsecond=0),
        "actor_user_id": None,
        "actor_username": "system",
        "actor_org_id": None,
        "action": "audit_rekey",
        "object_type": "audit",
        "object_id": "",
        "before": None,
        "after": {"entries": n, "unkeyed_chain_intact": intact, "migration": revision},
    }
    row_hash = content_hash(h.last_hash, {k: row[k] for k in FIELDS}, key)
    bind.execute(sa.insert(entries).values(**row, prev_hash=h.last_hash, hash=row_hash))
    bind.execute(sa.update(head).where(head.c.id == 1).values(last_id=row["id"], last_hash=row_hash, count=n + 1))


def downgrade() -> None:
    from chaoyun.identity.audit import audit_key

    _rechain(audit_key(), None)
