"""Append-only audit log with a hash chain; ``verify`` finds edited, inserted or deleted entries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def entry_hash(prev_hash: str, e: AuditEntry) -> str:
    body = _canonical(
        {
            "id": e.id,
            "ts": e.ts.isoformat(),
            "actor_user_id": e.actor_user_id,
            "actor_username": e.actor_username,
            "actor_org_id": e.actor_org_id,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "before": e.before,
            "after": e.after,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _jsonable(d: dict[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    out: dict[str, Any] = json.loads(_canonical(d))
    return out


def record(
    db: Session,
    *,
    actor_user_id: int | None,
    actor_username: str,
    actor_org_id: int | None,
    action: str,
    object_type: str,
    object_id: str | int = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry inside the caller's transaction (it commits with the change it describes)."""
    # Row lock on PostgreSQL serialises writers so the chain never forks; SQLite serialises anyway.
    head = db.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS, count=0)
        db.add(head)
        db.flush()
    entry = AuditEntry(
        id=head.last_id + 1,
        # Microseconds are dropped so the timestamp hashes identically after a database round trip.
        ts=utcnow().replace(microsecond=0),
        actor_user_id=actor_user_id,
        actor_username=actor_username,
        actor_org_id=actor_org_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=_jsonable(before),
        after=_jsonable(after),
        prev_hash=head.last_hash,
        hash="",
    )
    entry.hash = entry_hash(head.last_hash, entry)
    db.add(entry)
    head.last_id = entry.id
    head.last_hash = entry.hash
    head.count += 1
    db.flush()
    return entry


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problems: list[str]


def verify(db: Session, batch: int = 5000) -> VerifyResult:
    problems: list[str] = []
    prev = GENESIS
    expected_id = 1
    checked = 0
    for e in _iter_entries(db, batch):
        if e.id != expected_id:
            problems.append(f"entry {expected_id}..{e.id - 1} missing (deleted)")
            expected_id = e.id
        if e.prev_hash != prev:
            problems.append(f"entry {e.id}: previous-hash link broken")
        if entry_hash(e.prev_hash, e) != e.hash:
            problems.append(f"entry {e.id}: content does not match its hash (edited)")
        prev = e.hash
        expected_id += 1
        checked += 1
    head = db.get(AuditHead, 1)
    if head is not None:
        if head.count != checked or head.last_id != expected_id - 1:
            problems.append(
                f"head says {head.count} entries up to id {head.last_id}; found {checked} "
                f"up to id {expected_id - 1} (newest entries deleted?)"
            )
        elif head.last_hash != prev:
            problems.append("head hash does not match the newest entry")
    elif checked:
        problems.append("audit head row is missing")
    return VerifyResult(ok=not problems, checked=checked, problems=problems)


def _iter_entries(db: Session, batch: int) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = list(
            db.execute(select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)).scalars()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        db.expunge_all()


def query(
    *,
    action: str | None = None,
    object_type: str | None = None,
    actor: str | None = None,
    org_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    q = select(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    if object_type:
        q = q.where(AuditEntry.object_type == object_type)
    if actor:
        q = q.where(AuditEntry.actor_username == actor)
    if org_id is not None:
        q = q.where(AuditEntry.actor_org_id == org_id)
    if since is not None:
        q = q.where(AuditEntry.ts >= since)
    if until is not None:
        q = q.where(AuditEntry.ts < until)
    return q.order_by(AuditEntry.id.desc())


def record_by(
    db: Session,
    actor: Any,
    action: str,
    object_type: str,
    object_id: str | int = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record a change made by an ``Actor`` (or None for the system)."""
    return record(
        db,
        actor_user_id=actor.user.id if actor else None,
        actor_username=actor.user.username if actor else "system",
        actor_org_id=actor.org_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
