"""Write-back commands and edge gateways: the service functions (``(db, actor, ...)``, audited).

``send_command(db, actor, device_id, metric, value) -> Command``: an authorised user sets a writable metric
(setpoint register or node) of a device. The command is stored (pending), published on the device's commands
topic with an MQTT message expiry (sent), and the gateway reports the outcome on ``.../commands/result``
(succeeded | failed). A command that gets no answer within ``CHAOYUN_COMMAND_TIMEOUT_S`` expires.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.config import mqtt_settings
from chaoyun.devices.connectors.models import Command, DeviceAttributes, Gateway
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor

log = logging.getLogger("chaoyun.commands")
UID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}$")
STATUSES = ("pending", "sent", "succeeded", "failed", "expired")
# How each status reads on the pages (distinct msgids: bare "failed" etc. mean other things elsewhere).
STATUS_LABELS = {
    "pending": N_("Waiting to be sent"),
    "sent": N_("Sent to the gateway"),
    "succeeded": N_("Write succeeded"),
    "failed": N_("Write failed"),
    "expired": N_("No answer in time"),
}


def command_timeout_s() -> int:
    from chaoyun.settings import env

    return int(env("COMMAND_TIMEOUT_S"))


# ------------------------------------------------------------------------------------------ scope


def _org_read(db: Session, actor: Actor, org_id: int) -> Organisation:
    """Enterprises see their own gateways and devices; platform admins all; government roles none."""
    org = db.get(Organisation, org_id)
    allowed = actor.role == "platform_admin" or (actor.audience == "enterprise" and actor.org_id == org_id)
    if org is None or not allowed:
        raise NotFound(N_("No such gateway, or it is not yours to see."))
    return org


def _own_org_write(actor: Actor, org_id: int, msg: str) -> None:
    """Devices and gateways are changed by their own enterprise (platform admins may help)."""
    if actor.org_id != org_id and actor.role != "platform_admin":
        raise Forbidden(msg)


def get_device(db: Session, actor: Actor, device_id: int) -> Any:
    from chaoyun.devices import service

    return service.get_device(db, actor, device_id)


# ------------------------------------------------------------------------------------------ commands


def writable_metrics(device: Any) -> list[Any]:
    return [m for m in device.model.metrics if m.writable]


def send_command(db: Session, actor: Actor, device_id: int, metric: str, value: Any) -> Command:
    dev = get_device(db, actor, device_id)
    _own_org_write(actor, dev.org_id, N_("Only the device's own enterprise may send it commands."))
    spec = next((m for m in dev.model.metrics if m.key == metric), None)
    if spec is None or not spec.writable:
        raise Invalid(N_("“%(metric)s” is not a writable setpoint of this device."), field="metric", metric=metric)
    value = _coerce(spec, value)
    cmd = Command(
        org_id=dev.org_id, device_id=dev.id, metric=metric, value=value, status="pending",
        requested_by=actor.user.username,
    )
    db.add(cmd)
    db.flush()
    record_by(
        db, actor, "device.command", "device", dev.id, None, {"command": cmd.id, "metric": metric, "value": value}
    )
    db.commit()
    publish_command(db, cmd, dev.uid)
    return cmd


def _coerce(spec: Any, value: Any) -> Any:
    if spec.type == "bool":
        if isinstance(value, str):
            if value.lower() in ("1", "true", "on", "yes"):
                return True
            if value.lower() in ("0", "false", "off", "no"):
                return False
        if isinstance(value, bool):
            return value
        raise Invalid(N_("The value must be true or false."), field="value")
    if spec.type == "string":
        return str(value)[:256]
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise Invalid(N_("The value must be a number."), field="value") from None
    if num != num or num in (float("inf"), float("-inf")):
        raise Invalid(N_("The value must be a number."), field="value")
    lo, hi = spec.min_value, spec.max_value
    if (lo is not None and num < lo) or (hi is not None and num > hi):
        raise Invalid(
            N_("The value %(value)s is outside the valid range %(min)s to %(max)s."),
            field="value", value=num, min=lo, max=hi,
        )
    return num


def command_payload(cmd: Command) -> dict[str, Any]:
    expires = (cmd.created_at + timedelta(seconds=command_timeout_s())).timestamp() * 1000
    return {"id": cmd.id, "metric": cmd.metric, "value": cmd.value, "expires_at": int(expires)}


def publish_command(db: Session, cmd: Command, uid: str) -> bool:
    """Publish (QoS 1, message expiry) and mark sent; on failure the command stays pending for a retry."""
    try:
        publish(topics.commands(uid), command_payload(cmd), expiry_s=command_timeout_s())
    except Exception as exc:
        log.warning("command %s not published yet: %s", cmd.id, exc)
        return False
    db.execute(
        update(Command).where(Command.id == cmd.id, Command.status == "pending").values(status="sent", sent_at=utcnow())
    )
    db.commit()
    db.refresh(cmd)
    return True


def apply_results(db: Session, results: list[tuple[str, Any]]) -> int:
    """Results reported by gateways/devices on ``.../commands/result``; only the device's own commands."""
    from chaoyun.devices.models import Device

    done = 0
    for uid, doc in results:
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), int):
            continue
        status = doc.get("status")
        if status not in ("succeeded", "failed"):
            continue
        cmd = db.get(Command, doc["id"])
        dev = db.execute(select(Device).where(Device.uid == uid)).scalar_one_or_none()
        if cmd is None or dev is None or cmd.device_id != dev.id or cmd.status not in ("pending", "sent"):
            continue
        before = {"status": cmd.status}
        cmd.status = status
        cmd.message = str(doc.get("message") or "")[:300]
        cmd.finished_at = utcnow()
        record_by(db, None, "device.command_result", "device", dev.id, before,
                  {"command": cmd.id, "status": status, "message": cmd.message})
        done += 1
    return done


def expire_commands(db: Session) -> int:
    cutoff = utcnow() - timedelta(seconds=command_timeout_s())
    res = db.execute(
        update(Command)
        .where(Command.status.in_(("pending", "sent")), Command.created_at < cutoff)
        .values(status="expired", finished_at=utcnow(), message="no result in time")
    )
    db.commit()
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def resend_pending(db: Session) -> int:
    from chaoyun.devices.models import Device

    n = 0
    for cmd in db.execute(select(Command).where(Command.status == "pending").limit(100)).scalars().all():
        dev = db.get(Device, cmd.device_id)
        if dev is not None and publish_command(db, cmd, dev.uid):
            n += 1
    return n


def list_commands(db: Session, actor: Actor, device_id: int, limit: int = 20) -> list[Command]:
    dev = get_device(db, actor, device_id)
    q = select(Command).where(Command.device_id == dev.id).order_by(Command.id.desc()).limit(limit)
    return list(db.execute(q).scalars())


def get_command(db: Session, actor: Actor, command_id: int) -> Command:
    cmd = db.get(Command, command_id)
    if cmd is None:
        raise NotFound(N_("No such command."))
    try:
        get_device(db, actor, cmd.device_id)
    except NotFound:
        raise NotFound(N_("No such command.")) from None
    return cmd


# ------------------------------------------------------------------------------------------ attributes, status


def record_attributes(db: Session, device: Any, payload: Any) -> None:
    if not isinstance(payload, dict):
        return
    row = db.get(DeviceAttributes, device.id)
    clean = {str(k)[:64]: v for k, v in list(payload.items())[:100] if isinstance(v, str | int | float | bool)}
    if row is None:
        db.add(DeviceAttributes(device_id=device.id, attributes=clean, updated_at=utcnow()))
    else:
        row.attributes = {**(row.attributes or {}), **clean}
        row.updated_at = utcnow()


def apply_gateway_status(db: Session, statuses: list[tuple[str, Any]]) -> None:
    for uid, doc in statuses:
        gw = db.execute(select(Gateway).where(Gateway.uid == uid)).scalar_one_or_none()
        if gw is None:
            continue
        gw.last_seen_at = utcnow()
        if isinstance(doc, dict) and isinstance(doc.get("applied_version"), int):
            gw.applied_version = doc["applied_version"]


# ------------------------------------------------------------------------------------------ gateways


def list_gateways(db: Session, actor: Actor) -> list[Gateway]:
    q = select(Gateway).order_by(Gateway.id)
    if actor.role != "platform_admin":
        q = q.where(Gateway.org_id == actor.org_id) if actor.audience == "enterprise" else q.where(false())
    return list(db.execute(q).scalars())


def get_gateway(db: Session, actor: Actor, gateway_id: int) -> Gateway:
    gw = db.get(Gateway, gateway_id)
    if gw is None:
        raise NotFound(N_("No such gateway, or it is not yours to see."))
    try:
        _org_read(db, actor, gw.org_id)
    except NotFound:
        raise NotFound(N_("No such gateway, or it is not yours to see.")) from None
    return gw


def validate_config_text(db: Session, org_id: int, text: str) -> dict[str, Any]:
    """YAML → the device part of a gateway configuration, checked as the gateway will check it."""
    import yaml

    from chaoyun.devices.connectors.gateway import ConfigError, parse_devices
    from chaoyun.devices.models import Device

    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise Invalid(
            N_("The configuration is not valid YAML: %(detail)s"), field="config", detail=str(exc)[:200]
        ) from None
    if not isinstance(doc, dict):
        raise Invalid(N_("The configuration must be a YAML mapping with a devices list."), field="config")
    try:
        parse_devices(doc.get("devices") or [])
    except ConfigError as exc:
        raise Invalid(N_("The configuration is invalid: %(detail)s"), field="config", detail=str(exc)[:200]) from None
    uids = [str(d["uid"]) for d in doc.get("devices") or []]
    if uids:
        own = set(db.execute(select(Device.uid).where(Device.org_id == org_id, Device.uid.in_(uids))).scalars())
        foreign = [u for u in uids if u not in own]
        if foreign:
            raise Invalid(
                N_("These devices are not registered to this enterprise: %(detail)s"),
                field="config", detail=", ".join(foreign[:10]),
            )
    for secret_key in ("token", "password", "private_key"):
        if secret_key in (doc.get("platform") or {}):
            raise Invalid(N_("Platform credentials belong in the gateway's local file, not here."), field="config")
    return {"devices": doc.get("devices") or []}


def create_gateway(db: Session, actor: Actor, org_id: int, uid: str, name: str) -> tuple[Gateway, str, str]:
    """A new gateway; returns it with its raw token and MQTT password (shown once)."""
    from chaoyun.devices.credentials import mosquitto_hash, nats_hash, new_mqtt_password, token_hash

    org = _org_read(db, actor, org_id)
    _own_org_write(actor, org.id, N_("Only the enterprise itself may add gateways."))
    if org.kind != "enterprise":
        raise Invalid(N_("Gateways belong to enterprises."), field="org_id")
    uid = uid.strip().lower()
    if not UID_RE.match(uid):
        raise Invalid(N_("The gateway id may use lower-case letters, digits and hyphens (2–39)."), field="uid")
    if db.execute(select(Gateway.id).where(Gateway.uid == uid)).first():
        raise Invalid(N_("A gateway with this id exists already."), field="uid")
    name = name.strip()
    if not name:
        raise Invalid(N_("A name is required."), field="name")
    token = f"cyg_{secrets.token_urlsafe(32)}"
    password = new_mqtt_password()
    gw = Gateway(
        org_id=org.id, uid=uid, name=name[:100], config_text="devices: []\n", config={"devices": []},
        config_version=1, token_hash=token_hash(token), token_prefix=token[:10],
        mqtt_password_hash=mosquitto_hash(password), mqtt_password_bcrypt=nats_hash(password),
    )
    db.add(gw)
    db.flush()
    record_by(db, actor, "gateway.create", "gateway", gw.id, None, {"uid": uid, "name": gw.name})
    db.commit()
    return gw, token, password


def update_config(db: Session, actor: Actor, gateway_id: int, text: str) -> Gateway:
    gw = get_gateway(db, actor, gateway_id)
    _own_org_write(actor, gw.org_id, N_("Only the enterprise itself may change its gateways."))
    config = validate_config_text(db, gw.org_id, text)
    before = {"version": gw.config_version, "config": gw.config}
    gw.config_text = text
    gw.config = config
    gw.config_version += 1
    record_by(db, actor, "gateway.config", "gateway", gw.id, before, {"version": gw.config_version, "config": config})
    db.commit()
    push_config(gw)
    return gw


def rotate_credentials(db: Session, actor: Actor, gateway_id: int) -> tuple[Gateway, str, str]:
    from chaoyun.devices.credentials import mosquitto_hash, nats_hash, new_mqtt_password, token_hash

    gw = get_gateway(db, actor, gateway_id)
    _own_org_write(actor, gw.org_id, N_("Only the enterprise itself may change its gateways."))
    token = f"cyg_{secrets.token_urlsafe(32)}"
    password = new_mqtt_password()
    gw.token_hash = token_hash(token)
    gw.token_prefix = token[:10]
    gw.mqtt_password_hash = mosquitto_hash(password)
    gw.mqtt_password_bcrypt = nats_hash(password)
    record_by(db, actor, "gateway.rotate", "gateway", gw.id, None, {"token_prefix": gw.token_prefix})
    db.commit()
    return gw, token, password


def pushed_document(gw: Gateway) -> dict[str, Any]:
    return {"version": gw.config_version, "config": gw.config}


def push_config(gw: Gateway) -> bool:
    """Retained, so a gateway that connects later gets the newest configuration at once."""
    try:
        publish(topics.gateway_config(gw.uid), pushed_document(gw), retain=True)
        return True
    except Exception as exc:
        log.warning("gateway %s config not pushed over MQTT (%s); it can fetch it over HTTP", gw.uid, exc)
        return False


def authenticate_gateway(db: Session, raw_token: str) -> Gateway:
    from chaoyun.devices.credentials import token_hash
    from chaoyun.errors import Unauthorized

    gw = None
    if raw_token:
        gw = db.execute(select(Gateway).where(Gateway.token_hash == token_hash(raw_token))).scalar_one_or_none()
    if gw is None or not gw.enabled:
        raise Unauthorized(N_("The gateway token is unknown or the gateway is disabled."))
    return gw


# ------------------------------------------------------------------------------------------ publishing


class _Publisher:
    """One long-lived paho client per process for the platform's outgoing messages (commands, configs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None
        self._url = ""

    def _connect(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        url = mqtt_settings().url
        if self._client is not None and self._client.is_connected() and url == self._url:
            return self._client
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        self._url = url
        addr = mqtt_settings().broker
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"chaoyun-pub-{secrets.token_hex(4)}", protocol=mqtt.MQTTv5
        )
        if addr.username:
            client.username_pw_set(addr.username, addr.password)
        if addr.tls:
            client.tls_set()
        client.connect(addr.host, addr.port, keepalive=30)
        client.loop_start()
        self._client = client
        return client

    def publish(self, topic: str, payload: dict[str, Any], retain: bool, expiry_s: int | None) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        with self._lock:
            client = self._connect()
            props = None
            if expiry_s:
                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                props.MessageExpiryInterval = expiry_s
            info = client.publish(topic, json.dumps(payload), qos=1, retain=retain, properties=props)
            info.wait_for_publish(timeout=5)
            if not info.is_published():
                raise TimeoutError("the broker did not acknowledge the message")


_publisher = _Publisher()


def publish(topic: str, payload: dict[str, Any], retain: bool = False, expiry_s: int | None = None) -> None:
    _publisher.publish(topic, payload, retain, expiry_s)
