"""The security pages and API as each role sees them: forms keep input and show errors beside fields, a second
click creates nothing twice, others' records answer 404, the export and the PDF open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.security import engine
from chaoyun.security.ids import service as ids_service
from chaoyun.security.models import Campaign, Inspection
from tests.security.conftest import PDF, actor_of


def test_journey_through_the_pages(db: Session, login: Any) -> None:
    city = login("city")
    r = city.get("/gov/security")
    assert r.status_code == 200 and "安全监管" in r.text
    # Bad input: the same page, errors beside the fields, values kept.
    r = city.post("/gov/security/campaigns", {"name": "页面测试检查", "year": "20x6", "self_check_due": "bad"})
    assert r.status_code == 422
    assert 'data-field="year"' in r.text and 'data-field="clusters"' in r.text and "页面测试检查" in r.text
    page = city.get("/gov/security").text
    import re

    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {
        "name": "页面测试检查",
        "year": "2026",
        "self_check_due": "2026-12-31",
        "clusters": "toys",
        "form_token": token,
    }
    r1 = city.post("/gov/security/campaigns", form)
    r2 = city.post("/gov/security/campaigns", form)  # a second click
    assert r1.status_code == 303 and r2.status_code == 303
    assert db.execute(select(Campaign).where(Campaign.name == "页面测试检查")).scalars().all().__len__() == 1
    c = db.execute(select(Campaign).where(Campaign.name == "页面测试检查")).scalar_one()
    page = city.get(f"/gov/security/campaigns/{c.id}")
    assert page.status_code == 200 and "risk-table" in page.text
    x = city.get(f"/gov/security/campaigns/{c.id}/export.xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"

    factory = actor_of(db, "factory")
    insp = db.execute(
        select(Inspection).where(Inspection.campaign_id == c.id, Inspection.org_id == factory.org_id)
    ).scalar_one()
    fc = login("factory")
    assert fc.get("/security").status_code == 200
    p = fc.get(f"/security/inspections/{insp.id}")
    assert p.status_code == 200 and "checklist-form" in p.text
    answers = {f"answer_{i.code}": "yes" for i in engine.load("enterprise_ics").items}
    r = fc.post(f"/security/inspections/{insp.id}/self-check", {**answers, "action": "submit"})
    assert r.status_code == 422 and "E-DEV-1" in r.text  # evidence missing, answers kept
    assert 'value="yes" selected' in r.text
    for i in engine.load("enterprise_ics").items:
        if i.risk == "high":
            r = fc.post(
                f"/security/inspections/{insp.id}/evidence",
                {"item": i.code},
                files={"file": (f"{i.code}.pdf", PDF, "application/pdf")},
            )
            assert r.status_code == 303, r.text
    r = fc.post(
        f"/security/inspections/{insp.id}/evidence",
        {"item": "E-DEV-1"},
        files={"file": ("x.pdf", b"MZ", "application/pdf")},
    )
    assert r.status_code == 422 and 'data-field="file"' in r.text
    r = fc.post(f"/security/inspections/{insp.id}/self-check", {**answers, "action": "submit"})
    assert r.status_code == 303
    # Another enterprise and another district see nothing of it.
    assert login("factory2").get(f"/security/inspections/{insp.id}").status_code == 404
    assert login("chaonan").get(f"/security/inspections/{insp.id}").status_code == 404
    ch = login("chenghai")
    onsite = {**answers, "answer_E-CTL-1": "no", "inspected_on": "2026-06-01", "action": "conclude"}
    r = ch.post(f"/security/inspections/{insp.id}/onsite", onsite)
    assert r.status_code == 303, r.text
    p = ch.get(f"/security/inspections/{insp.id}").text
    assert "E-CTL-1" in p and "高风险" in p
    # The finding reaches the enterprise's to-do list and the city's oversight page.
    home = fc.get("/home").text
    assert "未销号的高风险安全问题" in home
    assert "E-CTL-1" in city.get("/gov/security").text
    # English switch.
    en = fc.get(f"/security/inspections/{insp.id}", headers={"Accept-Language": "en"})
    assert en.status_code == 200


def test_incident_pages_and_pdf(db: Session, login: Any) -> None:
    factory = actor_of(db, "factory")
    at = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    res = ids_service.store_alerts(
        db,
        factory.org_id,
        [{"rule": "modbus_function", "src": "10.1.1.9", "dst": "10.1.1.20", "frames": [3], "first_ts": at.timestamp()}],
        source="test",
    )
    inc_id = res.incident_id
    assert inc_id is not None
    fc = login("factory")
    p = fc.get(f"/security/incidents/{inc_id}")
    assert p.status_code == 200 and "timeline" in p.text
    assert "modbus_function" not in p.text  # the rule by its name, not its code
    assert "modbus_function" not in fc.get("/security/incidents").text
    assert fc.get(f"/security/incidents/{inc_id}/trace/{res.alert_ids[0]}").status_code == 200
    assert login("factory2").get(f"/security/incidents/{inc_id}").status_code == 404
    r = fc.post(f"/security/incidents/{inc_id}/act", {"action": "close", "cause": "", "actions": "隔离", "lessons": ""})
    assert r.status_code == 422 and 'data-field="cause"' in r.text and "隔离" in r.text
    r = fc.post(f"/security/incidents/{inc_id}/act", {"action": "close", "cause": "误接入", "actions": "隔离"})
    assert r.status_code == 303
    pdf = fc.get(f"/security/incidents/{inc_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    r = fc.post(f"/security/incidents/{inc_id}/act", {"action": "note", "text": "again"})
    assert r.status_code == 409  # closed: a refusal, not a server error
    api = fc.get(f"/api/v1/security/incidents/{inc_id}")
    assert api.status_code == 200 and api.json()["state"] == "closed"
