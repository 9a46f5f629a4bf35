"""X.509 client certificates of devices, tried on a real Mosquitto started with the config `chaoyun broker-config`
generates (TLS listener: require_certificate, use_identity_as_username, crlfile): a device with its issued
certificate publishes to its own topic and the platform stores it; another device's topic is denied; revoked and
superseded certificates and a certificate of a foreign CA are refused; pages, API and audit."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import broker, certs, device_certs, topics
from chaoyun.devices.connectors.config import BrokerAddress
from chaoyun.devices.connectors.models import DeviceCertificate
from chaoyun.devices.connectors.mqtt_ingest import IngestWorker
from chaoyun.devices.connectors.sink import PlatformSink
from chaoyun.devices.models import Device
from chaoyun.devices.store import get_store
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.identity.models import AuditEntry
from tests.connectors.helpers import Mosquitto, Threaded, actor_for, free_port, make_device, wait_for, wait_port
from tests.test_route_security import org_of


def _write_pems(d: Path, name: str, cert_pem: str, key_pem: str) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}-cert.pem").write_text(cert_pem)
    (d / f"{name}-key.pem").write_text(key_pem)
    return d / f"{name}-cert.pem", d / f"{name}-key.pem"


def tls_connect(port: int, ca: Path, cert: Path, key: Path, timeout: float = 6) -> tuple[mqtt.Client | None, bool]:
    """(client, True) once the broker accepted the connection (CONNACK success); (None, False) when it refused:
    a failed handshake, a closed connection or no CONNACK (with TLS 1.3 the client learns of a refused client
    certificate only after its own handshake finished)."""
    seen: dict[str, Any] = {}
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-{secrets.token_hex(4)}", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
    c.on_connect = lambda cl, ud, fl, rc, pr: seen.setdefault("rc", rc)
    c.on_disconnect = lambda cl, ud, fl, rc, pr: seen.setdefault("closed", rc)
    try:
        c.connect("127.0.0.1", port)
    except OSError:  # ssl.SSLError included
        return None, False
    c.loop_start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and "rc" not in seen and "closed" not in seen:
        time.sleep(0.05)
    if "rc" in seen and not seen["rc"].is_failure and "closed" not in seen:
        return c, True
    c.loop_stop()
    return None, False


@pytest.fixture()
def tls_broker(db: Session, tmp_path: Path) -> Any:
    org = org_of(db, "factory")
    actor = actor_for(db, "factory")
    dev_a, _ = make_device(db, org.id)
    dev_b, _ = make_device(db, org.id)
    platform_pw = secrets.token_urlsafe(12)
    out = tmp_path / "broker"
    port, tls_port = free_port(), free_port()

    def configure() -> None:
        """What an operator does after a change: `chaoyun broker-config --tls-port ...`, then SIGHUP."""
        accounts = broker.collect_accounts(db, platform_password=platform_pw)
        accounts.append(broker.platform_account("chaoyun-platform", broker.mosquitto_hash(platform_pw)))
        tls = broker.write_tls_files(out, db, port=tls_port, bind="127.0.0.1", hostnames=("localhost", "127.0.0.1"))
        broker.write_files(out, accounts, port=port, tls_listener=tls)

    configure()
    mosq = Mosquitto(conf=(out / "mosquitto.conf").read_text(), port=port).start()
    wait_port(tls_port)
    worker = IngestWorker(
        PlatformSink(), address=BrokerAddress("127.0.0.1", port, "chaoyun-platform", platform_pw, False),
        client_id=f"ingest-{secrets.token_hex(4)}", group="", batch_max=200, batch_wait_ms=20, session_expiry_s=60,
    )
    thread = Threaded(worker).start()
    wait_for(worker.connected.is_set, 10, what="ingest worker connected")
    time.sleep(0.2)

    def reload() -> None:
        db.expire_all()
        configure()
        mosq.reload()

    yield {"org": org, "actor": actor, "a": dev_a, "b": dev_b, "out": out, "tls_port": tls_port, "port": port,
           "reload": reload, "mosq": mosq, "tmp": tmp_path}
    thread.stop()
    mosq.stop()


def test_generated_config_has_the_tls_listener(tls_broker: Any) -> None:
    out = tls_broker["out"]
    conf = (out / "mosquitto.conf").read_text()
    for line in (f"listener {tls_broker['tls_port']} 127.0.0.1", f"cafile {out / 'ca.pem'}",
                 f"certfile {out / 'server-cert.pem'}", f"keyfile {out / 'server-key.pem'}",
                 "require_certificate true", "use_identity_as_username true", f"crlfile {out / 'crl.pem'}"):
        assert line in conf
    crl = x509.load_pem_x509_crl((out / "crl.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert oct((out / "server-key.pem").stat().st_mode)[-3:] == "600"


def test_certificate_device_publishes_only_its_own_topics(tls_broker: Any, db: Session) -> None:
    t = tls_broker
    dev_a, dev_b = t["a"], t["b"]
    issued = device_certs.issue_certificate(db, t["actor"], dev_a.id, days=30)
    t["reload"]()
    cert, key = _write_pems(t["tmp"] / "dev", "a", issued.cert_pem, issued.key_pem)
    ca = t["tmp"] / "ca.pem"
    ca.write_text(issued.ca_pem)

    client, ok = tls_connect(t["tls_port"], ca, cert, key)
    assert ok and client is not None, f"the device's own certificate was refused; broker log {t['mosq'].log}"
    client.publish(topics.telemetry(dev_a.uid), '{"voltage": 231.5}', qos=1).wait_for_publish(5)
    wait_for(lambda: get_store().count(dev_a.id) == 1, 15, what="the certificate device's reading stored")
    assert get_store().latest(dev_a.id)["voltage"].value == pytest.approx(231.5)

    # The CN is the user name, so the per-device ACL applies: another device's topic is denied.
    client.publish(topics.telemetry(dev_b.uid), '{"voltage": 666}', qos=1).wait_for_publish(5)
    time.sleep(0.8)
    assert get_store().count(dev_b.id) == 0, "a certificate device wrote to another device's topic"
    client.loop_stop()
    client.disconnect()

    # Stored: serial, thumbprint, expiry; never the key.
    row = db.execute(select(DeviceCertificate).where(DeviceCertificate.device_id == dev_a.id)).scalar_one()
    assert row.thumbprint == certs.thumbprint(x509.load_pem_x509_certificate(issued.cert_pem.encode()))
    assert row.status == "valid" and row.serial == issued.row.serial
    db.expire_all()
    assert db.get(Device, dev_a.id).cert_thumbprint == row.thumbprint  # type: ignore[union-attr]


def test_revoked_superseded_and_foreign_certificates_are_refused(tls_broker: Any, db: Session) -> None:
    t = tls_broker
    dev_a, dev_b = t["a"], t["b"]
    first_b = device_certs.issue_certificate(db, t["actor"], dev_b.id)
    second_b = device_certs.issue_certificate(db, t["actor"], dev_b.id)  # supersedes the first
    issued_a = device_certs.issue_certificate(db, t["actor"], dev_a.id)
    ca = t["tmp"] / "ca.pem"
    ca.write_text(issued_a.ca_pem)
    d = t["tmp"] / "dev"
    pems = {n: _write_pems(d, n, i.cert_pem, i.key_pem)
            for n, i in (("b1", first_b), ("b2", second_b), ("a", issued_a))}
    t["reload"]()
    assert tls_connect(t["tls_port"], ca, *pems["b2"])[1]
    assert not tls_connect(t["tls_port"], ca, *pems["b1"])[1], "a superseded certificate was accepted"
    client, ok = tls_connect(t["tls_port"], ca, *pems["a"])
    assert ok and client is not None
    client.loop_stop()
    client.disconnect()

    # Revoke A's certificate: once the CRL is regenerated and the broker reloaded, it is refused.
    device_certs.revoke_certificate(db, t["actor"], dev_a.id)
    t["reload"]()
    assert not tls_connect(t["tls_port"], ca, *pems["a"])[1], "a revoked certificate was accepted"
    assert tls_connect(t["tls_port"], ca, *pems["b2"])[1]

    # A certificate with the right CN from another CA is refused.
    other = certs.load_or_create_ca(t["tmp"] / "other-ca")
    forged = certs.issue_client_cert(other, dev_b.uid)
    assert not tls_connect(t["tls_port"], ca, *_write_pems(d, "forged", forged.cert_pem, forged.key_pem))[1]

    # A deleted device's certificate stays in the CRL (a new device may take the same uid).
    from chaoyun.devices import service

    service.delete_device(db, t["actor"], dev_b.id)
    serials = {s for s, _ in device_certs.revoked_serials(db)}
    assert int(second_b.row.serial, 16) in serials and int(issued_a.row.serial, 16) in serials

    actions = [a for (a,) in db.execute(
        select(AuditEntry.action).where(AuditEntry.object_type == "device", AuditEntry.object_id == str(dev_a.id))
    ).all()]
    assert "device.certificate_issue" in actions and "device.certificate_revoke" in actions


def test_scope_and_validation(db: Session) -> None:
    org = org_of(db, "factory")
    dev, _ = make_device(db, org.id)
    with pytest.raises(NotFound):
        device_certs.issue_certificate(db, actor_for(db, "factory2"), dev.id)
    with pytest.raises(Forbidden):
        device_certs.issue_certificate(db, actor_for(db, "operator"), dev.id)
    with pytest.raises(Invalid):
        device_certs.issue_certificate(db, actor_for(db, "factory"), dev.id, days=0)
    with pytest.raises(NotFound):
        device_certs.revoke_certificate(db, actor_for(db, "factory"), dev.id)


def test_certificate_pages_and_api(login: Any, db: Session) -> None:
    org = org_of(db, "factory")
    dev, _ = make_device(db, org.id)
    admin = login("factory")
    page = admin.get(f"/devices/{dev.id}")
    assert page.status_code == 200 and f'action="/devices/{dev.id}/certificate"' in page.text
    r = admin.post(f"/devices/{dev.id}/certificate", {"days": "365"})
    assert r.status_code == 200
    assert "BEGIN PRIVATE KEY" in r.text and "BEGIN CERTIFICATE" in r.text and "只显示一次" in r.text
    assert f'download="{dev.uid}-key.pem"' in r.text
    row = db.execute(select(DeviceCertificate).where(DeviceCertificate.device_id == dev.id)).scalar_one()
    again = admin.get(f"/devices/{dev.id}")
    assert row.thumbprint in again.text and "BEGIN PRIVATE KEY" not in again.text  # shown once only
    member = login("operator")
    assert f'action="/devices/{dev.id}/certificate"' not in member.get(f"/devices/{dev.id}").text
    assert member.post(f"/devices/{dev.id}/certificate", {"days": "30"}).status_code == 403
    assert login("factory2").post(f"/devices/{dev.id}/certificate", {"days": "30"}).status_code == 404
    revoked = admin.post(f"/devices/{dev.id}/certificate/revoke")
    assert revoked.status_code == 303 and "cert_revoked" in revoked.headers["location"]

    # JSON API
    created = admin.post(f"/api/v1/devices/{dev.id}/certificate", json={"days": 90})
    assert created.status_code == 201, created.text
    body = created.json()
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == dev.uid
    assert body["thumbprint"] == certs.thumbprint(cert) and "PRIVATE KEY" in body["private_key_pem"]
    listing = admin.get(f"/api/v1/devices/{dev.id}/certificates").json()
    assert [c["status"] for c in listing] == ["valid", "revoked"]
    assert all("private_key_pem" not in c for c in listing)
    assert admin.post(f"/api/v1/devices/{dev.id}/certificate", json={"days": 0}).status_code == 422
    assert admin.post(f"/api/v1/devices/{dev.id}/certificate/revoke").json()["status"] == "revoked"
