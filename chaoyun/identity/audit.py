"""Append-only audit log with a keyed hash chain; ``verify`` finds edited, inserted or deleted entries.

Each entry's hash is HMAC-SHA256 over the previous hash and the entry's content, keyed with a secret kept
outside the database (``CHAOYUN_AUDIT_KEY``, else the file ``<var dir>/audit_key``, created on first
use). Someone who can write the database but does not hold the key cannot re-chain after editing,
inserting or deleting entries. Cutting off the newest entries together with the head row, or wiping
the log, leaves a consistent chain: those are found against a signed checkpoint kept elsewhere
(:func:`checkpoint`, ``chaoyun audit checkpoint --out FILE`` / ``verify --checkpoint FILE``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity.models import AuditEntry, AuditHead

GENESIS = "0" * 64
KEY_FILE = "audit_key"


def _var_dir() -> Path:
    from chaoyun.settings import get_settings

    return get_settings().var_dir


def audit_key() -> bytes:
    """The chain key: ``CHAOYUN_AUDIT_KEY``, else ``<var dir>/audit_key`` (generated once, mode 600)."""
    return _load_key(os.environ.get("CHAOYUN_AUDIT_KEY", ""), str(_var_dir()))


@lru_cache(maxsize=4)
def _load_key(explicit: str, var_dir: str) -> bytes:
    if explicit:
        return explicit.encode()
    path = Path(var_dir) / KEY_FILE
    for _ in range(50):
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: of several processes starting at once exactly one writes the key.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(os.urandom(32).hex())
            continue
        if text:
            return text.encode()
        time.sleep(0.01)  # another process is writing it
    raise RuntimeError(f"audit key file {path} stays empty")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


FIELDS = (
    "id",
    "ts",
    "actor_user_id",
    "actor_username",
    "actor_org_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
)


def content_hash(prev_hash: str, fields: dict[str, Any], key: bytes | None) -> str:
    """HMAC-SHA256 with ``key`` over the previous hash and the content; plain SHA-256 when ``key`` is None
    (the unkeyed chain of before identity_0003, used only to check it once while migrating)."""
    body = _canonical({k: (fields["ts"].isoformat() if k == "ts" else fields[k]) for k in FIELDS})
    data = (prev_hash + body).encode()
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def entry_hash(prev_hash: str, e: AuditEntry, key: bytes | None = None) -> str:
    return content_hash(prev_hash, {k: getattr(e, k) for k in FIELDS}, key or audit_key())


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


def verify(db: Session, batch: int = 5000, checkpoint: dict[str, Any] | None = None) -> VerifyResult:
    """Recompute the chain with the key. With a ``checkpoint`` (see :func:`checkpoint`) also require that
    the chain still holds the checkpoint's head entry unchanged and at least as many entries."""
    problems: list[str] = []
    key = audit_key()
    prev = GENESIS
    expected_id = 1
    checked = 0
    cp_seen = False
    if checkpoint is not None:
        problems += _checkpoint_problems(checkpoint, key)
    for e in _iter_entries(db, batch):
        if e.id != expected_id:
            problems.append(f"entry {expected_id}..{e.id - 1} missing (deleted)")
            expected_id = e.id
        if e.prev_hash != prev:
            problems.append(f"entry {e.id}: previous-hash link broken")
        if not hmac.compare_digest(entry_hash(e.prev_hash, e, key), e.hash):
            problems.append(
                f"entry {e.id}: content does not match its keyed hash (edited, or re-chained without the key)"
            )
        if checkpoint is not None and e.id == checkpoint.get("id"):
            cp_seen = True
            if e.hash != checkpoint.get("head"):
                problems.append(f"entry {e.id} differs from the checkpoint's head (history rewritten)")
        prev = e.hash
        expected_id += 1
        checked += 1
    if checkpoint is not None:
        if not cp_seen and checkpoint.get("id"):
            problems.append(f"checkpoint head entry {checkpoint.get('id')} is gone (log truncated or wiped)")
        if checked < int(checkpoint.get("count", 0)):
            problems.append(
                f"checkpoint of {checkpoint.get('time')} counted {checkpoint.get('count')} entries; "
                f"only {checked} now (entries deleted)"
            )
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


CHECKPOINT_FIELDS = ("id", "count", "head", "time")


def _checkpoint_mac(cp: dict[str, Any], key: bytes) -> str:
    body = _canonical({k: cp.get(k) for k in CHECKPOINT_FIELDS})
    return hmac.new(key, b"chaoyun-audit-checkpoint:" + body.encode(), hashlib.sha256).hexdigest()


def checkpoint(db: Session) -> dict[str, Any]:
    """The head as a signed record (id, count, head hash, time, HMAC), to be kept outside the database
    (another machine, a ticket, a printout): verify against it detects truncation, wiping and re-chaining."""
    head = db.get(AuditHead, 1)
    cp: dict[str, Any] = {
        "id": head.last_id if head else 0,
        "count": head.count if head else 0,
        "head": head.last_hash if head else GENESIS,
        "time": utcnow().replace(microsecond=0).isoformat(),
    }
    cp["hmac"] = _checkpoint_mac(cp, audit_key())
    return cp


def _checkpoint_problems(cp: dict[str, Any], key: bytes) -> list[str]:
    if not isinstance(cp.get("hmac"), str) or not hmac.compare_digest(_checkpoint_mac(cp, key), cp["hmac"]):
        return ["checkpoint signature does not match (the checkpoint was altered, or made with another key)"]
    return []


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


# The audit page's sort keys (anything else in ``sort`` falls back to newest first).
SORT_COLUMNS = {"ts": AuditEntry.ts, "actor": AuditEntry.actor_username, "action": AuditEntry.action}


def search(stmt: Select[AuditEntry], text: str, action_codes: Collection[str]) -> Select[AuditEntry]:
    """Entries whose actor username or object id contains ``text`` (any case), or whose action is one of
    ``action_codes`` (the codes whose code or label matched, worked out by the caller in the page's
    language). Done in SQL: the log can be large."""
    if not text:
        return stmt
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    conds = [
        AuditEntry.actor_username.ilike(like, escape="\\"),
        AuditEntry.object_id.ilike(like, escape="\\"),
    ]
    if action_codes:
        conds.append(AuditEntry.action.in_(sorted(action_codes)))
    return stmt.where(or_(*conds))


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
