import os
import subprocess
import sys
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from chaoyun.identity import audit
from chaoyun.identity.models import AuditEntry, AuditHead


def _cli_verify() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaoyun.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_entries_are_chained_and_verify(db: Session, login: Any) -> None:
    login("city")  # at least one login entry
    result = audit.verify(db)
    assert result.ok, result.problems
    entries = db.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(2)).scalars().all()
    assert entries[0].prev_hash == entries[1].hash
    cli = _cli_verify()
    assert cli.returncode == 0 and "intact" in cli.stdout


def test_edit_insert_and_delete_are_detected(db: Session, login: Any) -> None:
    login("city")
    login("city")
    last = db.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert last is not None
    victim = last.id - 1
    original = db.get(AuditEntry, victim)
    assert original is not None
    saved_action = original.action

    # An edited entry.
    db.execute(update(AuditEntry).where(AuditEntry.id == victim).values(action="approve"))
    db.commit()
    r = _cli_verify()
    assert r.returncode == 1 and f"entry {victim}" in r.stdout and "edited" in r.stdout
    db.execute(update(AuditEntry).where(AuditEntry.id == victim).values(action=saved_action))
    db.commit()
    assert audit.verify(db).ok

    # A deleted entry in the middle, and the newest one (caught by the head row).
    row = db.get(AuditEntry, victim)
    assert row is not None
    snapshot = {c.name: getattr(row, c.name) for c in AuditEntry.__table__.columns}
    db.execute(delete(AuditEntry).where(AuditEntry.id == victim))
    db.commit()
    problems = audit.verify(db).problems
    assert any("missing" in p for p in problems)
    db.add(AuditEntry(**snapshot))
    db.commit()
    assert audit.verify(db).ok

    newest = db.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert newest is not None
    snap2 = {c.name: getattr(newest, c.name) for c in AuditEntry.__table__.columns}
    db.execute(delete(AuditEntry).where(AuditEntry.id == newest.id))
    db.commit()
    assert not audit.verify(db).ok
    db.add(AuditEntry(**snap2))
    db.commit()
    assert audit.verify(db).ok


def test_head_tracks_count(db: Session) -> None:
    head = db.get(AuditHead, 1)
    assert head is not None
    n = db.execute(select(AuditEntry.id)).all()
    assert head.count == len(n)


def test_audit_page_for_city_officers_with_filters(login: Any) -> None:
    city = login("city")
    page = city.get("/gov/audit?action=login&actor=city")
    assert page.status_code == 200 and "city" in page.text and "登录" in page.text
    api = city.get("/api/v1/audit?action=login_failed").json()
    assert all(e["action"] == "login_failed" for e in api)
    assert login("chenghai").get("/gov/audit").status_code == 403
    assert login("evaluator").get("/gov/audit").status_code == 200


# ---------------------------------------------------------------- keyed chain and checkpoints
# Each attack runs in the test's own transaction and is rolled back, so the log stays intact for the rest.


def _rechain(db: Session, key: bytes | None) -> None:
    """What an attacker with write access to the database does after editing: recompute every hash and
    the head (with the real key, a guessed one, or plain SHA-256)."""
    prev = audit.GENESIS
    n = last = 0
    for e in db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        e.prev_hash = prev
        e.hash = audit.content_hash(prev, {k: getattr(e, k) for k in audit.FIELDS}, key)
        prev, n, last = e.hash, n + 1, e.id
    db.flush()
    head = db.get(AuditHead, 1)
    assert head is not None
    head.last_hash, head.count, head.last_id = prev, n, last
    db.flush()


def _edit_one(db: Session) -> None:
    e = db.execute(select(AuditEntry).order_by(AuditEntry.id).limit(1).offset(3)).scalar_one()
    e.action = "approve"
    db.flush()


def test_edit_and_rechain_without_the_key_is_detected(db: Session, login: Any) -> None:
    login("city")
    assert audit.verify(db).ok
    for key in (None, b"a-guessed-key"):
        _edit_one(db)
        _rechain(db, key)
        result = audit.verify(db)
        assert not result.ok and any("keyed hash" in p for p in result.problems)
        db.rollback()
    assert audit.verify(db).ok


def test_truncation_wipe_and_keyed_rechain_are_detected_against_a_checkpoint(db: Session, login: Any) -> None:
    login("city")
    cp = audit.checkpoint(db)
    assert set(cp) == {"id", "count", "head", "time", "hmac"}
    login("city")
    assert audit.verify(db, checkpoint=cp).ok  # more entries since the checkpoint is fine

    # Tail truncation with the head reset: a consistent chain, caught only against the checkpoint.
    keep = cp["id"] - 2
    db.execute(delete(AuditEntry).where(AuditEntry.id > keep))
    kept = db.get(AuditEntry, keep)
    head = db.get(AuditHead, 1)
    assert kept is not None and head is not None
    head.last_id, head.last_hash, head.count = keep, kept.hash, keep
    db.flush()
    assert audit.verify(db).ok
    bad = audit.verify(db, checkpoint=cp)
    assert not bad.ok and any("gone" in p for p in bad.problems) and any("only" in p for p in bad.problems)
    db.rollback()

    # Wiping everything.
    db.execute(delete(AuditEntry))
    db.execute(delete(AuditHead))
    db.flush()
    assert audit.verify(db).ok
    assert not audit.verify(db, checkpoint=cp).ok
    db.rollback()

    # An insider holding the key edits an old entry and re-chains: only the checkpoint shows it.
    _edit_one(db)
    _rechain(db, audit.audit_key())
    assert audit.verify(db).ok
    bad = audit.verify(db, checkpoint=cp)
    assert not bad.ok and any("history rewritten" in p for p in bad.problems)
    db.rollback()

    # A forged checkpoint (fewer entries claimed) fails its signature.
    forged = {**cp, "count": 1}
    assert any("signature" in p for p in audit.verify(db, checkpoint=forged).problems)
    assert audit.verify(db, checkpoint=cp).ok


def test_cli_checkpoint_and_verify(tmp_path: Any, db: Session) -> None:
    import json

    out = tmp_path / "cp.json"
    made = subprocess.run(
        [sys.executable, "-m", "chaoyun.cli", "audit", "checkpoint", "--out", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    cp = json.loads(out.read_text())
    ok = subprocess.run(
        [sys.executable, "-m", "chaoyun.cli", "audit", "verify", "--checkpoint", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout
    out.write_text(json.dumps({**cp, "count": cp["count"] + 1000}))
    bad = subprocess.run(
        [sys.executable, "-m", "chaoyun.cli", "audit", "verify", "--checkpoint", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert bad.returncode == 1 and "signature" in bad.stdout


def test_migration_rechains_the_unkeyed_log_with_the_key(db: Session) -> None:
    from alembic import command

    from chaoyun import migrate

    db.close()
    command.downgrade(migrate.config(), "identity_0002")
    try:
        # Before identity_0003: a plain SHA-256 chain (the one an attacker could recompute).
        prev = audit.GENESIS
        for e in db.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
            assert e.prev_hash == prev
            assert e.hash == audit.content_hash(prev, {k: getattr(e, k) for k in audit.FIELDS}, None)
            prev = e.hash
        db.rollback()
        assert not audit.verify(db).ok
        db.rollback()
    finally:
        migrate.upgrade()
    assert audit.verify(db).ok
    newest = db.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    assert newest.action == "audit_rekey" and newest.after is not None
    assert newest.after["unkeyed_chain_intact"] is True
