"""Samples for devices/connectors routes (gateways, commands) in tests/test_route_security.py."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors.models import Command, Gateway
from chaoyun.devices.credentials import token_hash
from chaoyun.identity.models import Organisation
from tests.route_samples.devices import _device


def gateway_id(db: Session, owner: Organisation) -> str:
    gw = db.execute(select(Gateway).where(Gateway.org_id == owner.id).order_by(Gateway.id)).scalars().first()
    if gw is None:
        gw = Gateway(
            org_id=owner.id, uid=f"rs-gw-{secrets.token_hex(4)}", name=f"样例网关{owner.id}",
            config_text="devices: []\n", config={"devices": []}, token_hash=token_hash(secrets.token_hex(16)),
        )
        db.add(gw)
        db.commit()
    return str(gw.id)


def command_id(db: Session, owner: Organisation) -> str:
    d = _device(db, owner)
    c = Command(org_id=owner.id, device_id=d.id, metric="setpoint", value=1.0, status="sent", requested_by="x")
    db.add(c)
    db.commit()
    return str(c.id)


PATH_PARAMS = {"gateway_id": gateway_id, "command_id": command_id}


def _new_gateway(owner: Organisation) -> dict[str, Any]:
    return {"uid": f"rs-{secrets.token_hex(4)}", "name": "样例网关"}


BODIES = {
    ("POST", "/api/v1/gateways"): _new_gateway,
    ("POST", "/gateways"): _new_gateway,
    ("PUT", "/api/v1/gateways/{gateway_id}/config"): lambda o: {"config": "devices: []\n"},
    ("POST", "/gateways/{gateway_id}/config"): lambda o: {"config": "devices: []\n"},
    ("POST", "/api/v1/devices/{device_id}/commands"): lambda o: {"metric": "setpoint", "value": 1},
    ("POST", "/devices/{device_id}/commands"): lambda o: {"metric": "setpoint", "value": "1"},
    ("POST", "/api/v1/gateway/telemetry"): lambda o: {"messages": []},
}
