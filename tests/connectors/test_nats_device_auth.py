"""Device authentication on the NATS broker from the registry's bcrypt hashes: a real ``nats-server`` (one node,
MQTT listener) with the users ``render_users`` generates; devices connect over MQTT with their own secret."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.orm import Session

from chaoyun.devices import service
from chaoyun.devices.connectors import broker, nats_broker, topics
from chaoyun.devices.connectors.nats_broker import LocalCluster
from chaoyun.devices.credentials import nats_hash
from chaoyun.devices.models import Device
from chaoyun.devices.schemas import DeviceIn
from tests.connectors.helpers import actor_for, make_device, wait_for
from tests.test_route_security import org_of

needs_nats = pytest.mark.skipif(not Path(nats_broker.NATS_SERVER).exists(), reason="nats-server not installed")
PLATFORM_USER, PLATFORM_PW = "platform", secrets.token_hex(8)


def test_render_users_takes_the_bcrypt_hash() -> None:
    h = nats_hash("s3cret", cost=4)
    assert h.startswith("$2a$04$") and len(h) == 60
    accounts = [
        broker.device_account("d1", "$7$101$abc$def"),  # before the migration: PBKDF2 only
        broker.device_account("d2", "$7$101$abc$def", nats_password_hash=h),
        broker.gateway_account("gw-g1", "$7$101$abc$def", "g1", ["d2"], nats_password_hash=h),
    ]
    cfg = nats_broker.render_users(accounts)
    assert [u["user"] for u in cfg.users] == ["d2", "gw-g1"]
    assert all(u["password"] == h for u in cfg.users)
    assert cfg.without_password == ["d1"]


@pytest.fixture()
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="chaoyun-nats-auth-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Client:
    """One MQTT 3.1.1 client: CONNACK result, PUBACKs and SUBACK codes, messages received."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.connack: int | None = None
        self.closed = threading.Event()
        self.acked: set[int] = set()
        self.suback: dict[int, list[int]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{secrets.token_hex(3)}",
                             protocol=mqtt.MQTTv311)
        self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *_a: self.closed.set()
        self.c.on_publish = lambda _c, _u, mid, _rc, _p: self.acked.add(mid)
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = lambda _c, _u, msg: self.messages.append((msg.topic, bytes(msg.payload)))
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        wait_for(lambda: self.connack is not None or self.closed.is_set(), 20, what=f"CONNACK for {user}")

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        self.connack = rc.value

    def _on_subscribe(self, _c: mqtt.Client, _u: object, mid: int, rcs: list[ReasonCode], _p: object) -> None:
        self.suback[mid] = [r.value for r in rcs]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


# Closed without a CONNACK; MQTT 3.1.1 return codes 4 and 5 (bad user name or password, not authorised), which
# paho reports as the MQTT 5 reason codes 134 and 135.
REFUSED = (-1, 4, 5, 134, 135)


def connack(port: int, user: str, password: str) -> int:
    """The CONNACK return code of one connect (-1: the server closed the connection without one)."""
    c = Client(port, user, password)
    try:
        return -1 if c.connack is None else c.connack
    finally:
        c.close()


@needs_nats
def test_devices_authenticate_on_nats_with_their_secret(db: Session, tmp: Path) -> None:
    org = org_of(db, "factory")
    actor = actor_for(db, "factory")
    # Devices registered before the bcrypt column: PBKDF2 only.
    legacy, _legacy_pw = make_device(db, org.id)
    a, old_a = make_device(db, org.id)
    b, _ = make_device(db, org.id)
    assert legacy.mqtt_password_bcrypt is None
    # Rotating the secret writes the bcrypt hash next to the PBKDF2 one.
    pw_a = service.rotate_credentials(db, actor, a.id).mqtt_password
    pw_b = service.rotate_credentials(db, actor, b.id).mqtt_password
    db.refresh(a)
    assert (a.mqtt_password_bcrypt or "").startswith("$2a$11$") and a.mqtt_password_hash.startswith("$7$")

    accounts = [acc for acc in broker.collect_accounts(db) if acc.username != PLATFORM_USER]
    accounts.append(broker.platform_account(PLATFORM_USER, ""))
    cfg = nats_broker.render_users(accounts, platform_user=PLATFORM_USER,
                                   passwords={PLATFORM_USER: nats_hash(PLATFORM_PW, cost=4)})
    users = {str(u["user"]): u for u in cfg.users}
    assert legacy.uid in cfg.without_password and legacy.uid not in users
    assert a.uid in users and b.uid in users and a.uid not in cfg.without_password
    # Only hashes in the generated configuration.
    text_users = repr(cfg.users)
    assert pw_a not in text_users and PLATFORM_PW not in text_users

    cluster = LocalCluster(tmp / "nats", cfg.users, size=1).start()
    port = cluster.nodes[0].mqtt_port
    clients: list[Client] = []
    try:
        # Wrong secrets and devices without a bcrypt hash are refused (CONNACK 4/5), the right one accepted.
        assert connack(port, a.uid, pw_a + "x") in REFUSED
        assert connack(port, a.uid, old_a) in REFUSED
        assert connack(port, legacy.uid, _legacy_pw) in REFUSED
        assert connack(port, a.uid, pw_b) in REFUSED  # another device's secret

        platform = Client(port, PLATFORM_USER, PLATFORM_PW)
        clients.append(platform)
        assert platform.connack == 0
        platform.c.subscribe("chaoyun/v1/devices/+/telemetry", qos=1)
        wait_for(lambda: bool(platform.suback), 10, what="platform SUBACK")

        dev = Client(port, a.uid, pw_a)
        clients.append(dev)
        assert dev.connack == 0
        # Its own topic: stored and acknowledged (PUBACK), and delivered.
        info = dev.c.publish(topics.telemetry(a.uid), b'{"values": {"power": 1}}', qos=1)
        wait_for(lambda: info.mid in dev.acked, 10, what="PUBACK on the device's own topic")
        wait_for(lambda: any(t == topics.telemetry(a.uid) for t, _ in platform.messages), 10,
                 what="platform receives the device's point")

        # Another device's topics: the publish is dropped, the subscription refused (SUBACK 0x80).
        _rc, mid = dev.c.subscribe(topics.commands(b.uid), qos=1)
        assert mid is not None
        wait_for(lambda: mid in dev.suback, 10, what="SUBACK for another device's commands")
        assert dev.suback[mid] == [0x80]
        if not dev.c.is_connected():
            dev.c.reconnect()
        dev.c.publish(topics.telemetry(b.uid), b'{"values": {"power": 666}}', qos=1)
        dev.c.publish(topics.telemetry(a.uid), b'{"values": {"power": 2}}', qos=1)
        wait_for(lambda: sum(t == topics.telemetry(a.uid) for t, _ in platform.messages) >= 2, 10,
                 what="the marker after the forbidden publish")
        assert not any(t == topics.telemetry(b.uid) for t, _ in platform.messages)
        # B itself may publish on its topic.
        dev_b = Client(port, b.uid, pw_b)
        clients.append(dev_b)
        assert dev_b.connack == 0
        info_b = dev_b.c.publish(topics.telemetry(b.uid), b'{"values": {"power": 3}}', qos=1)
        wait_for(lambda: info_b.mid in dev_b.acked, 10, what="PUBACK for B")
        wait_for(lambda: any(t == topics.telemetry(b.uid) for t, _ in platform.messages), 10,
                 what="platform receives B's point")
    finally:
        for c in clients:
            c.close()
        cluster.stop()


def test_device_created_gets_bcrypt(db: Session) -> None:
    """Creating a device writes both hashes (the path every new device takes)."""
    from tests.connectors.helpers import energy_model

    actor = actor_for(db, "factory")
    model = energy_model(db)
    data = DeviceIn(name=f"bcrypt {secrets.token_hex(3)}", model=model.key)
    dev, creds = service.create_device(db, actor, data)
    row = db.get(Device, dev.id)
    assert row is not None and row.mqtt_password_bcrypt is not None
    import bcrypt

    assert bcrypt.checkpw(creds.mqtt_password.encode(), row.mqtt_password_bcrypt.encode())
    assert not bcrypt.checkpw(b"wrong", row.mqtt_password_bcrypt.encode())


def test_gateway_created_and_rotated_gets_bcrypt(db: Session) -> None:
    import bcrypt

    from chaoyun.devices.connectors import commands

    org = org_of(db, "factory")
    actor = actor_for(db, "factory")
    gw, _token, pw = commands.create_gateway(db, actor, org.id, f"gw-{secrets.token_hex(3)}", "NATS 网关")
    assert gw.mqtt_password_bcrypt is not None
    assert bcrypt.checkpw(pw.encode(), gw.mqtt_password_bcrypt.encode())
    gw.mqtt_password_bcrypt = None  # as before the migration
    db.commit()
    acc = next(a for a in broker.collect_accounts(db) if a.username == gw.mqtt_username)
    assert gw.mqtt_username in nats_broker.render_users([acc]).without_password
    gw, _token, new_pw = commands.rotate_credentials(db, actor, gw.id)
    assert gw.mqtt_password_bcrypt is not None
    assert bcrypt.checkpw(new_pw.encode(), gw.mqtt_password_bcrypt.encode())
    acc = next(a for a in broker.collect_accounts(db) if a.username == gw.mqtt_username)
    assert nats_broker.render_users([acc]).users[0]["password"] == gw.mqtt_password_bcrypt
