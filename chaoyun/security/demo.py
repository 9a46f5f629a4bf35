"""Demo of the security inspection (run by ``chaoyun demo`` with the other contexts' seeds): the city opens this
year's industrial-control security inspection over Chenghai's toy makers; each enterprise answers the self-check
from a simulated security posture (what it has in place follows from facts on the platform: lead enterprise, size,
machines connected) and attaches evidence for what it claims; the Chenghai inspector checks on site (a "met" the
enterprise could not evidence counts as partly met); the checklist engine scores both and issues the findings;
some enterprises rectify and pass the re-check, overdue findings escalate by the real rule. Nothing here draws a
score: scores, findings, risk and escalation are computed by the platform's rules.

``seed_incidents`` (wired in ``chaoyun demo`` after the simulated history) turns the intrusion detector's demo
alerts of the demo factory, if any, into an incident and takes it through the first handling steps."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.identity.models import EnterpriseProfile, Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import District
from chaoyun.security import engine, files, service
from chaoyun.security.ids import public as ids
from chaoyun.security.incidents import service as incidents
from chaoyun.security.models import Campaign, Inspection

MAX_ENTERPRISES = 12


def _actor(db: Session, username: str) -> Actor | None:
    user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.memberships:
        return None
    return Actor(user=user, membership=user.memberships[0])


def _unit(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (the simulation's fixed seed; no randomness between runs)."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def posture(db: Session, org: Organisation, prof: EnterpriseProfile) -> float:
    """How much of the checklist an enterprise has in place, from what the platform knows about it."""
    devices = int(db.execute(select(func.count(Device.id)).where(Device.org_id == org.id)).scalar_one())
    p = 0.35 + (0.2 if prof.is_lead else 0.0) + (0.1 if prof.size_class in ("large", "medium") else 0.0)
    p += 0.15 if devices else 0.0
    return min(0.95, p + 0.2 * (_unit("posture", org.id) - 0.5))


def simulated_answers(org_id: int, level: float, checklist: engine.Checklist) -> dict[str, str]:
    """An item is in place when the posture clears the item's own hurdle; near the hurdle it is partly in place."""
    out = {}
    for it in checklist.items:
        hurdle = _unit("hurdle", org_id, it.code)
        out[it.code] = "yes" if level > hurdle + 0.1 else "partial" if level > hurdle - 0.1 else "no"
    return out


def evidence_pdf(org_name: str, item: engine.Item) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("STSong-Light", 12)
    c.drawString(60, 780, f"{org_name} 自查佐证材料（演示）")
    c.drawString(60, 760, f"{item.code} {item.source[:60]}")
    c.save()
    return buf.getvalue()


def seed(db: Session, today: Any = None) -> dict[str, int]:
    city = _actor(db, "city")
    inspector = _actor(db, "chenghai")
    if city is None or inspector is None:
        return {}
    today = today or service.today_local()
    name = f"{today.year} 年澄海区玩具行业工业控制系统安全检查"
    if db.execute(select(Campaign.id).where(Campaign.name == name)).first():
        return {"campaigns": 0}
    rows = db.execute(
        select(Organisation, EnterpriseProfile)
        .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
        .where(
            Organisation.kind == "enterprise",
            Organisation.status == "active",
            Organisation.district == District.CHENGHAI.value,
            EnterpriseProfile.cluster == "toys",
        )
        .order_by(Organisation.id)
        .limit(MAX_ENTERPRISES)
    ).all()
    if not rows:
        return {"campaigns": 0}
    c = service.create_campaign(
        db, city, today.year, name, ["toys"], today - timedelta(days=20), org_ids=[o.id for o, _p in rows]
    )
    checklist = service.checklist_of(c)
    stats = {"campaigns": 1, "enterprises": len(rows), "self_checks": 0, "onsite": 0, "findings": 0, "closed": 0}
    demo_factory = db.execute(
        select(Membership.org_id).join(User, User.id == Membership.user_id).where(User.username == "factory")
    ).scalar_one_or_none()
    for n, (org, prof) in enumerate(rows):
        i = db.execute(
            select(Inspection).where(Inspection.campaign_id == c.id, Inspection.org_id == org.id)
        ).scalar_one()
        if n % 6 == 5 and org.id != demo_factory:
            continue  # has not answered yet
        level = posture(db, org, prof)
        answers = simulated_answers(org.id, level, checklist)
        who = service.Who.on_behalf(org.id)
        # Evidence for every high-risk item it claims, and for the others when its posture is good.
        evidenced = set()
        for it in checklist.items:
            if answers[it.code] == "yes" and (it.risk == "high" or _unit("doc", org.id, it.code) < level):
                service.evidence_for(
                    db, i, it.code, files.Upload(f"{it.code}-自查佐证.pdf", evidence_pdf(org.name, it)), who
                )
                evidenced.add(it.code)
        service.self_check_for(db, i, answers, {}, True, who)
        stats["self_checks"] += 1
        if n % 6 == 4:
            continue  # awaiting the on-site check
        onsite = {k: ("partial" if a == "yes" and k not in evidenced else a) for k, a in answers.items()}
        inspected_on = today - timedelta(days=10 + 9 * n)
        service.record_onsite(db, inspector, i.id, onsite, {}, True, inspected_on)
        stats["onsite"] += 1
        fs = service.findings(db, inspector, inspection_id=i.id)
        stats["findings"] += len(fs)
        # The better-prepared enterprises rectify their high-risk findings and pass the re-check.
        if level > 0.5:
            for f in [f for f in fs if f.risk == "high"][:2]:
                service.rectify_for(db, f, "已按整改要求完成（演示）", service.Who.on_behalf(org.id))
                service.recheck(db, inspector, f.id, True, "复查通过（演示）")
                stats["closed"] += 1
    to_district, to_city = service.escalate_overdue(db, today)
    stats["escalated_district"], stats["escalated_city"] = to_district, to_city
    return stats


def seed_incidents(db: Session, now: datetime | None = None) -> dict[str, int]:
    """The demo factory's intrusion alerts (from the intrusion detector's demo) grouped into incidents by the real
    rule; the newest taken to "investigating" with an assignee and a note."""
    owner = _actor(db, "factory")
    if owner is None:
        return {}
    now = now or datetime.now(UTC)
    alerts = ids.alerts_between(db, owner.org_id, now - timedelta(days=60), now + timedelta(days=1))
    if not alerts:
        return {"alerts": 0, "incidents": 0}
    made = {incidents.open_from_alerts(db, owner.org_id, [a.id for a in alerts])}
    inc = incidents.get_incident(db, owner, max(made))
    if inc.state == "open" and inc.assignee_user_id is None:
        incidents.assign(db, owner, inc.id, owner.user.id)
        incidents.set_state(db, owner, inc.id, "investigating", "核对告警涉及的主机与 PLC 写操作（演示）")
    return {"alerts": len(alerts), "incidents": len(made)}
