"""The ``chaoyun gateway --config`` document generated from device profiles: each device's connection (host,
port, unit / url, set on the device) with its profile's connector template (Modbus register map, OPC UA nodes).

The output is exactly what ``connectors/gateway.py`` reads (``load_config``), checked with its own parser
before it is handed out. Deprecated metrics are left out; writable setpoints get ``writable: true``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.errors import Invalid
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor

PASSWORD_PLACEHOLDER = "GATEWAY-MQTT-PASSWORD"


def device_entry(device: Device) -> dict[str, Any]:
    """The ``devices[]`` entry of one device (raises ``Invalid`` naming what is missing)."""
    from chaoyun.devices.connectors.gateway import ConfigError, parse_devices

    conn = dict(device.connection or {})
    proto = str(conn.get("protocol", "modbus"))
    profile = device.model
    tmpl = (profile.connectors or {}).get(proto)
    if not tmpl:
        raise Invalid(
            N_(
                "The profile “%(profile)s” has no %(protocol)s template; add one to generate the gateway configuration."
            ),
            field="connectors",
            profile=profile.key,
            protocol=proto,
        )
    skip = {m.key for m in profile.metrics if m.deprecated}
    writable = {m.key for m in profile.metrics if m.writable}
    entry: dict[str, Any] = {"uid": device.uid, "protocol": proto}
    if proto == "modbus":
        if not conn.get("host"):
            raise Invalid(N_("Set the device's address (host) first."), field="host")
        entry |= {
            "host": conn["host"],
            "port": int(conn.get("port", 502)),
            "unit": int(conn.get("unit", 1)),
            "interval_s": float(conn.get("interval_s", 1.0)),
        }
        entry["registers"] = [
            {**r, **({"writable": True} if r["metric"] in writable else {})}
            for r in tmpl.get("registers", [])
            if r["metric"] not in skip
        ]
    else:
        if not conn.get("url"):
            raise Invalid(N_("Set the device's OPC UA endpoint (url) first."), field="url")
        entry["url"] = conn["url"]
        entry["nodes"] = [
            {**n, **({"writable": True} if n["metric"] in writable else {})}
            for n in tmpl.get("nodes", [])
            if n["metric"] not in skip
        ]
    try:
        parse_devices([entry])
    except ConfigError as exc:
        raise Invalid(N_("The generated configuration is not valid: %(problem)s"), problem=str(exc)) from None
    return entry


def document(gateway_uid: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole local gateway file: identity, platform link (the broker of CHAOYUN_MQTT_URL, the gateway's own
    MQTT user; its password is shown once when the gateway is created, so it is a placeholder here)."""
    from chaoyun.devices.connectors.config import mqtt_settings

    broker = urlparse(mqtt_settings().url)
    host = broker.hostname or "127.0.0.1"
    port = broker.port or (8883 if broker.scheme in ("mqtts", "ssl") else 1883)
    scheme = "mqtts" if broker.scheme in ("mqtts", "ssl") else "mqtt"
    return {
        "gateway": {"uid": gateway_uid, "buffer": f"{gateway_uid}-buffer.db"},
        "platform": {
            "transport": "mqtt",
            "mqtt_url": f"{scheme}://gw-{gateway_uid}:{PASSWORD_PLACEHOLDER}@{host}:{port}",
        },
        "devices": entries,
    }


def dump(doc: dict[str, Any]) -> str:
    import yaml

    head = (
        "# chaoyun gateway --config <this file>\n"
        f"# Replace {PASSWORD_PLACEHOLDER} with the gateway's MQTT password (shown when it was created).\n"
    )
    return head + str(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120))


def for_device(db: Session, actor: Actor, device_id: int) -> str:
    from chaoyun.devices import service as devices

    device = devices.get_device(db, actor, device_id)
    gw = str((device.connection or {}).get("gateway") or f"gw-{device.uid}")
    return dump(document(gw, [device_entry(device)]))


def gateway_devices(db: Session, org_id: int, gateway_uid: str) -> list[Device]:
    devs = db.execute(select(Device).where(Device.org_id == org_id, Device.enabled.is_(True)).order_by(Device.id))
    return [d for d in devs.scalars() if (d.connection or {}).get("gateway") == gateway_uid]


def for_gateway(db: Session, actor: Actor, gateway_id: int) -> str:
    """The file of a registered gateway: every device of its enterprise whose connection names it."""
    from chaoyun.devices.connectors import commands

    gw = commands.get_gateway(db, actor, gateway_id)
    entries = [device_entry(d) for d in gateway_devices(db, gw.org_id, gw.uid)]
    return dump(document(gw.uid, entries))


def push_to_gateway(db: Session, actor: Actor, gateway_id: int) -> Any:
    """Replace the gateway's pushed device list by the generated one (audited, pushed as any config edit)."""
    import yaml

    from chaoyun.devices.connectors import commands

    gw = commands.get_gateway(db, actor, gateway_id)
    entries = [device_entry(d) for d in gateway_devices(db, gw.org_id, gw.uid)]
    text = yaml.safe_dump({"devices": entries}, allow_unicode=True, sort_keys=False, width=120)
    return commands.update_config(db, actor, gw.id, text)
