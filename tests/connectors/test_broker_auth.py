"""The generated Mosquitto password file and ACL, tried on a real broker: deny by default, a device publishes
only to its own topics and reads only its own commands, unknown users and wrong passwords are refused."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import broker, topics
from chaoyun.devices.connectors.models import Gateway
from tests.connectors.helpers import Mosquitto, free_port, make_device, wait_for
from tests.test_route_security import org_of


def _connect(port: int, user: str, password: str) -> tuple[mqtt.Client, Any]:
    result: dict[str, Any] = {}
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{secrets.token_hex(4)}", protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, ud, fl, rc, pr: result.setdefault("rc", rc)
    c.connect("127.0.0.1", port)
    c.loop_start()
    wait_for(lambda: "rc" in result, 10, what="CONNACK")
    return c, result["rc"]


@pytest.fixture()
def secured(db: Session, tmp_path: Path) -> Any:
    org = org_of(db, "factory")
    dev_a, pw_a = make_device(db, org.id)
    dev_b, pw_b = make_device(db, org.id)
    gw = Gateway(
        org_id=org.id, uid=f"gw{secrets.token_hex(4)}", name="gw", config={"devices": [{"uid": dev_b.uid}]},
        token_hash=secrets.token_hex(32), mqtt_password_hash="",
    )
    gw_pw = secrets.token_urlsafe(12)
    gw.mqtt_password_hash = broker.mosquitto_hash(gw_pw)
    db.add(gw)
    db.commit()
    platform_pw = secrets.token_urlsafe(12)
    accounts = broker.collect_accounts(db, platform_password=platform_pw)
    # collect_accounts names the platform account after CHAOYUN_MQTT_URL's user; tests add one explicitly.
    accounts.append(broker.platform_account("chaoyun-platform", broker.mosquitto_hash(platform_pw)))
    port = free_port()
    out = tmp_path / "broker"
    broker.write_files(out, accounts, port=port)
    mosq = Mosquitto(conf=(out / "mosquitto.conf").read_text(), port=port).start()
    yield {"port": port, "a": (dev_a, pw_a), "b": (dev_b, pw_b), "gw": (gw, gw_pw), "platform": platform_pw,
           "out": out, "mosq": mosq}
    mosq.stop()


def test_files_are_deny_by_default(secured: Any) -> None:
    acl = (secured["out"] / "acl").read_text()
    conf = (secured["out"] / "mosquitto.conf").read_text()
    passwd = (secured["out"] / "passwd").read_text()
    dev_a = secured["a"][0]
    assert "allow_anonymous false" in conf and "max_queued_messages 0" in conf
    block = f"user {dev_a.uid}\ntopic read {topics.commands(dev_a.uid)}\ntopic write {topics.telemetry(dev_a.uid)}"
    assert block in acl
    assert "pattern" not in acl and "topic readwrite #" not in acl
    assert f"{dev_a.uid}:$7$" in passwd and secured["a"][1] not in passwd  # hashes only
    assert oct((secured["out"] / "passwd").stat().st_mode)[-3:] == "600"


def test_device_publishes_only_to_its_own_topics(secured: Any) -> None:
    port = secured["port"]
    (dev_a, pw_a), (dev_b, _pw_b) = secured["a"], secured["b"]
    got: list[str] = []
    platform, rc = _connect(port, "chaoyun-platform", secured["platform"])
    assert not rc.is_failure
    platform.on_message = lambda c, u, m: got.append(m.topic)
    platform.subscribe(topics.shared("t", "chaoyun/v1/devices/+/telemetry"), qos=1)
    time.sleep(0.3)

    dev, rc = _connect(port, dev_a.uid, pw_a)
    assert not rc.is_failure
    own = dev.publish(topics.telemetry(dev_a.uid), '{"voltage": 220}', qos=1)
    other = dev.publish(topics.telemetry(dev_b.uid), '{"voltage": 666}', qos=1)
    own.wait_for_publish(5)
    other.wait_for_publish(5)
    wait_for(lambda: topics.telemetry(dev_a.uid) in got, 5, what="own message")
    time.sleep(0.3)
    assert topics.telemetry(dev_b.uid) not in got, "a device wrote to another device's topic"

    # A device may read its own commands topic, not another's. (Mosquitto may drop the connection of a
    # client that published where it may not, so a fresh connection is used.)
    dev.loop_stop()
    dev, rc = _connect(port, dev_a.uid, pw_a)
    granted: dict[str, Any] = {}
    dev.on_subscribe = lambda c, u, mid, codes, props: granted.setdefault(mid, codes)
    _, mid_own = dev.subscribe(topics.commands(dev_a.uid), qos=1)
    _, mid_other = dev.subscribe(topics.commands(dev_b.uid), qos=1)
    wait_for(lambda: mid_own in granted and mid_other in granted, 5, what="SUBACKs")
    assert not granted[mid_own][0].is_failure
    received: list[str] = []
    dev.on_message = lambda c, u, m: received.append(m.topic)
    platform.publish(topics.commands(dev_b.uid), '{"id": 1}', qos=1).wait_for_publish(5)
    platform.publish(topics.commands(dev_a.uid), '{"id": 2}', qos=1).wait_for_publish(5)
    wait_for(lambda: topics.commands(dev_a.uid) in received, 5, what="own command")
    time.sleep(0.2)
    assert topics.commands(dev_b.uid) not in received
    for c in (dev, platform):
        c.disconnect()
        c.loop_stop()


def test_unknown_users_and_wrong_passwords_are_refused(secured: Any) -> None:
    port = secured["port"]
    dev_a, _ = secured["a"]
    for user, pw in (("nobody", "x"), (dev_a.uid, "wrong-password"), ("", "")):
        c, rc = _connect(port, user, pw)
        assert rc.is_failure, f"{user!r} connected"
        c.loop_stop()
    anon = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon", protocol=mqtt.MQTTv5)
    seen: dict[str, Any] = {}
    anon.on_connect = lambda cl, ud, fl, rc, pr: seen.setdefault("rc", rc)
    anon.connect("127.0.0.1", port)
    anon.loop_start()
    wait_for(lambda: "rc" in seen, 5, what="CONNACK")
    assert seen["rc"].is_failure
    anon.loop_stop()


def test_gateway_account_covers_its_devices_only(secured: Any) -> None:
    port = secured["port"]
    gw, gw_pw = secured["gw"]
    (dev_a, _), (dev_b, _) = secured["a"], secured["b"]
    got: list[str] = []
    platform, _ = _connect(port, "chaoyun-platform", secured["platform"])
    platform.on_message = lambda c, u, m: got.append(m.topic)
    platform.subscribe("chaoyun/v1/devices/+/telemetry", qos=1)
    time.sleep(0.3)
    c, rc = _connect(port, gw.mqtt_username, gw_pw)
    assert not rc.is_failure
    c.publish(topics.telemetry(dev_b.uid), "{}", qos=1).wait_for_publish(5)
    c.publish(topics.telemetry(dev_a.uid), "{}", qos=1).wait_for_publish(5)
    wait_for(lambda: topics.telemetry(dev_b.uid) in got, 5, what="gateway's device message")
    time.sleep(0.2)
    assert topics.telemetry(dev_a.uid) not in got
    c.loop_stop()
    platform.loop_stop()


def test_reload_after_a_new_device(secured: Any, db: Session) -> None:
    """A device added after the broker started can connect once the files are rewritten and SIGHUP is sent."""
    org_id = secured["a"][0].org_id
    dev_c, pw_c = make_device(db, org_id)
    c, rc = _connect(secured["port"], dev_c.uid, pw_c)
    assert rc.is_failure
    c.loop_stop()
    accounts = broker.collect_accounts(db, platform_password=secured["platform"])
    broker.write_files(secured["out"], accounts, port=secured["port"])
    secured["mosq"].reload()
    c, rc = _connect(secured["port"], dev_c.uid, pw_c)
    assert not rc.is_failure
    c.loop_stop()
