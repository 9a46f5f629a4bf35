"""Samples for the intrusion detector's routes (tests/test_route_security.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.security.ids import engine, synth
from chaoyun.security.ids.models import IdsAlert, IdsProfile, IdsScan

_PROFILE: dict[str, Any] = {}


def sample_profile() -> dict[str, Any]:
    if not _PROFILE:
        _PROFILE.update(engine.learn(synth.plant(10), source="sample.pcap"))
    return _PROFILE


def ids_profile_id(db: Session, owner: Organisation) -> str:
    p = db.execute(select(IdsProfile).where(IdsProfile.org_id == owner.id).order_by(IdsProfile.id)).scalars().first()
    if p is None:
        p = IdsProfile(org_id=owner.id, name="样例基线", source="sample.pcap", profile=sample_profile(), summary={})
        db.add(p)
        db.commit()
    return str(p.id)


def ids_scan_id(db: Session, owner: Organisation) -> str:
    s = db.execute(select(IdsScan).where(IdsScan.org_id == owner.id).order_by(IdsScan.id)).scalars().first()
    if s is None:
        s = IdsScan(org_id=owner.id, source="sample.pcap", frames=10, flagged=0, alerts=0)
        db.add(s)
        db.commit()
    return str(s.id)


def ids_alert_id(db: Session, owner: Organisation) -> str:
    a = db.execute(select(IdsAlert).where(IdsAlert.org_id == owner.id).order_by(IdsAlert.id)).scalars().first()
    if a is None:
        now = datetime.now(UTC)
        a = IdsAlert(
            org_id=owner.id,
            at=now,
            last_at=now,
            rule="unknown_host",
            severity="critical",
            summary="未知主机: 192.168.10.66 → 192.168.10.21",
            src="192.168.10.66",
            dst="192.168.10.21",
            frames=[1, 2],
            frame_count=2,
            source="sample.pcap",
        )
        db.add(a)
        db.commit()
    return str(a.id)


PATH_PARAMS = {"ids_profile_id": ids_profile_id, "ids_scan_id": ids_scan_id, "ids_alert_id": ids_alert_id}

BODIES = {
    ("POST", "/api/v1/security/ids/alerts"): lambda owner: {
        "source": "gw-1",
        "alerts": [
            {
                "rule": "unknown_host",
                "src": "192.168.10.66",
                "dst": "192.168.10.21",
                "detail": "sample",
                "first_ts": 1767225600.0,
                "last_ts": 1767225601.0,
                "frames": [1, 2],
                "count": 2,
            }
        ],
    },
    ("POST", "/api/v1/security/ids/profiles"): lambda owner: {"name": "样例基线", "profile": sample_profile()},
}
