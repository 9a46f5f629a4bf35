"""Gateway pages and the write-back form, as a signed-in enterprise admin and member (Chinese by default)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors.models import Command, Gateway
from tests.connectors.helpers import make_device, setpoint_model
from tests.test_route_security import org_of


def test_gateway_pages(login: Any, db: Session) -> None:
    admin = login("factory")
    page = admin.get("/gateways")
    assert page.status_code == 200 and "边缘网关" in page.text
    uid = f"gw-{secrets.token_hex(3)}"
    r = admin.post("/gateways", {"uid": uid, "name": "一号车间网关"})
    assert r.status_code == 200 and "只显示一次" in r.text and "cyg_" in r.text
    gw = db.execute(select(Gateway).where(Gateway.uid == uid)).scalar_one()
    bad = admin.post(f"/gateways/{gw.id}/config", {"config": "devices: [\n"})
    assert bad.status_code == 422 and "YAML" in bad.text
    foreign = admin.post(f"/gateways/{gw.id}/config", {"config": "devices:\n  - {uid: not-mine, protocol: modbus, "
                                                                   "host: h, registers: [{metric: m, address: 0}]}\n"})
    assert foreign.status_code == 422 and "not-mine" in foreign.text
    org = org_of(db, "factory")
    dev, _ = make_device(db, org.id)
    text = f"devices:\n  - {{uid: {dev.uid}, protocol: modbus, host: h, registers: [{{metric: v, address: 0}}]}}\n"
    ok = admin.post(f"/gateways/{gw.id}/config", {"config": text})
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(Gateway, gw.id).config_version == 2  # type: ignore[union-attr]
    # A member sees the gateway but no editing form; another enterprise does not see it at all.
    member = login("operator").get(f"/gateways/{gw.id}")
    assert member.status_code == 200 and 'name="config"' not in member.text
    assert login("factory2").get(f"/gateways/{gw.id}").status_code == 404
    assert uid not in login("factory2").get("/gateways").text


def test_write_back_form(login: Any, db: Session) -> None:
    org = org_of(db, "factory")
    dev, _ = make_device(db, org.id, model=setpoint_model(db))
    admin = login("factory")
    page = admin.get(f"/devices/{dev.id}/commands")
    assert page.status_code == 200 and 'name="metric"' in page.text and "setpoint" in page.text
    bad = admin.post(f"/devices/{dev.id}/commands", {"metric": "setpoint", "value": "9999"})
    assert bad.status_code == 422 and "超出有效范围" in bad.text
    r = admin.post(f"/devices/{dev.id}/commands", {"metric": "setpoint", "value": "55"})
    assert r.status_code == 303
    cmd = db.execute(select(Command).where(Command.device_id == dev.id)).scalars().first()
    assert cmd is not None and cmd.value == 55.0 and cmd.requested_by == "factory"
    listing = admin.get(f"/devices/{dev.id}/commands").text
    assert re.search(r"(待下发|已下发到网关)", listing)
    # Members see the history but may not send.
    member = login("operator")
    assert 'name="value"' not in member.get(f"/devices/{dev.id}/commands").text
    assert member.post(f"/devices/{dev.id}/commands", {"metric": "setpoint", "value": "1"}).status_code == 403
