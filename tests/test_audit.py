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
