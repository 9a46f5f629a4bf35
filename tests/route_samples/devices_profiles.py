"""Samples for the device-profile routes (chaoyun/devices/profiles; tests/test_route_security.py)."""

from __future__ import annotations

import secrets
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.models import DeviceModel
from chaoyun.devices.profiles import document as pdoc
from chaoyun.identity.models import Organisation


def _doc(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name_zh": "样例吹塑机",
        "name_en": "Sample blow moulder",
        "metrics": [{"key": "temp", "name_zh": "温度", "name_en": "Temperature", "type": "number", "min": 0,
                     "max": 300}],
        "connectors": {"modbus": {"registers": [{"metric": "temp", "address": 0, "type": "int16"}]}},
    }


def _key(owner: Organisation) -> str:
    return f"rs_profile_{owner.id}"


def profile_id(db: Session, owner: Organisation) -> str:
    m = db.execute(select(DeviceModel).where(DeviceModel.key == _key(owner))).scalar_one_or_none()
    if m is None:
        doc = pdoc.check(_doc(_key(owner)))
        m = DeviceModel(key=doc.key, name_zh=doc.name_zh, name_en=doc.name_en, builtin=False, org_id=owner.id)
        db.add(m)
        db.commit()
        from chaoyun.devices.profiles.service import _apply

        _apply(db, m, doc)
        db.commit()
    return str(m.id)


def _new_key(owner: Organisation) -> str:
    return f"rs_{secrets.token_hex(5)}"


PATH_PARAMS = {"profile_id": profile_id}

BODIES = {
    ("POST", "/api/v1/device-profiles"): lambda o: {"profile": _doc(_new_key(o))},
    ("PUT", "/api/v1/device-profiles/{profile_id}"): lambda o: {"profile": _doc(_key(o))},
    ("POST", "/api/v1/device-profiles/{profile_id}/copy"): lambda o: {"key": _new_key(o)},
    ("POST", "/device-profiles/new"): lambda o: {"text": yaml.safe_dump(_doc(_new_key(o)), allow_unicode=True)},
    ("POST", "/device-profiles/{profile_id}/edit"): lambda o: {"text": yaml.safe_dump(_doc(_key(o)),
                                                                                       allow_unicode=True)},
    ("POST", "/device-profiles/{profile_id}/copy"): lambda o: {"key": _new_key(o)},
    ("PUT", "/api/v1/devices/{device_id}/connection"): lambda o: {"protocol": "modbus", "host": "127.0.0.1"},
    ("POST", "/devices/{device_id}/connection"): lambda o: {"protocol": "modbus", "host": "127.0.0.1"},
}
