"""Broker configuration generated from the registry: Mosquitto password file, ACL file and config.

Deny by default: every account is listed with exactly the topics it may use.
- a device (username = its uid) may publish only its own telemetry / attributes / command results and read
  only its own commands topic;
- a gateway (username ``gw-<uid>``) may do the same for the devices its configuration lists (devices of its
  own organisation only) and read its own configuration topic;
- the platform's ingest account (user of ``CHAOYUN_MQTT_URL``) reads all device data and writes commands
  and gateway configurations;
- no anonymous access.

Passwords never leave the database in clear: devices and gateways keep their MQTT password hash in
Mosquitto's own PBKDF2-SHA512 format (``$7$iterations$salt$hash``), so the file is written from the hashes.
After a change, ``chaoyun broker-config --out DIR`` and a SIGHUP to Mosquitto reload both files.

With ``tls_listener`` the config also gets a TLS listener for devices with X.509 client certificates from the
installation's device CA (``device_certs.py``): ``require_certificate true`` and ``use_identity_as_username true``
(the certificate's CN is the device uid, so the same ACL applies; no password), and ``crlfile`` with the revoked
serials. Mosquitto re-reads the CRL on SIGHUP too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.config import mqtt_settings

MOSQUITTO_ITERATIONS = 101  # Mosquitto's own default for $7$ (mosquitto_passwd); the format carries it


def mosquitto_hash(password: str, *, iterations: int = MOSQUITTO_ITERATIONS, salt: bytes | None = None) -> str:
    """Mosquitto ≥ 2.0 password-file hash: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key, base64."""
    salt = salt or os.urandom(12)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def mosquitto_verify(password: str, encoded: str) -> bool:
    try:
        _, kind, iterations, salt_b64, key_b64 = encoded.split("$")
        if kind != "7":
            return False
        salt, key = base64.b64decode(salt_b64), base64.b64decode(key_b64)
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations), dklen=len(key))
    return hmac.compare_digest(got, key)


@dataclass
class Account:
    username: str
    password_hash: str
    read: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)
    comment: str = ""
    cert: bool = False  # authenticates with a client certificate (TLS listener) as well
    # bcrypt of the same password, for NATS (which cannot check PBKDF2); None where the registry has none yet.
    nats_password_hash: str | None = None


@dataclass(frozen=True)
class TlsListener:
    """The listener for devices with client certificates (all paths as the broker sees them)."""

    port: int
    bind: str
    cafile: Path
    certfile: Path
    keyfile: Path
    crlfile: Path


def device_account(
    uid: str, password_hash: str, comment: str = "", cert: bool = False, nats_password_hash: str | None = None
) -> Account:
    return Account(
        username=uid,
        password_hash=password_hash,
        nats_password_hash=nats_password_hash,
        write=[topics.telemetry(uid), topics.attributes(uid), topics.command_result(uid)],
        read=[topics.commands(uid)],
        comment=comment,
        cert=cert,
    )


def gateway_account(
    username: str,
    password_hash: str,
    gateway_uid: str,
    device_uids: Iterable[str],
    nats_password_hash: str | None = None,
) -> Account:
    acc = Account(
        username=username,
        password_hash=password_hash,
        comment=f"gateway {gateway_uid}",
        nats_password_hash=nats_password_hash,
    )
    acc.read.append(topics.gateway_config(gateway_uid))
    acc.write.append(topics.gateway_status(gateway_uid))
    for uid in sorted(set(device_uids)):
        acc.write += [topics.telemetry(uid), topics.attributes(uid), topics.command_result(uid)]
        acc.read.append(topics.commands(uid))
    return acc


def platform_account(username: str, password_hash: str) -> Account:
    p = topics.PREFIX
    return Account(
        username=username,
        password_hash=password_hash,
        read=[
            f"{p}/devices/+/telemetry",
            f"{p}/devices/+/attributes",
            f"{p}/devices/+/commands/result",
            f"{p}/gateways/+/status",
        ],
        write=[f"{p}/devices/+/commands", f"{p}/gateways/+/config"],
        comment="platform ingest workers",
    )


def render_passwd(accounts: list[Account]) -> str:
    return "".join(f"{a.username}:{a.password_hash}\n" for a in accounts if a.password_hash)


def render_acl(accounts: list[Account]) -> str:
    lines = ["# Generated by `chaoyun broker-config`; deny by default: only what is listed is allowed.", ""]
    for a in accounts:
        if not a.password_hash and not a.cert:
            continue
        if a.comment:
            lines.append(f"# {a.comment}")
        lines.append(f"user {a.username}")
        lines += [f"topic read {t}" for t in a.read]
        lines += [f"topic write {t}" for t in a.write]
        lines.append("")
    return "\n".join(lines)


def render_conf(
    out: Path,
    *,
    port: int = 1883,
    bind: str = "127.0.0.1",
    persistence_dir: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tls_ca: Path | None = None,
    tls_listener: TlsListener | None = None,
) -> str:
    lines = [
        "# Generated by `chaoyun broker-config`. Reload passwd/acl after changes: kill -HUP <mosquitto pid>.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {out / 'passwd'}",
        f"acl_file {out / 'acl'}",
        # The broker keeps the backlog while the platform is slow or down: never drop queued QoS 1 messages
        # for the platform's persistent session (the default of 1000 would silently lose acknowledged data).
        "max_queued_messages 0",
        "max_queued_bytes 0",
        "max_inflight_messages 0",
        "persistent_client_expiration 14d",
        "set_tcp_nodelay true",
    ]
    if persistence_dir is not None:
        lines += ["persistence true", f"persistence_location {persistence_dir}/", "autosave_interval 30"]
    lines.append(f"listener {port} {bind}")
    if tls_cert and tls_key:
        lines += [f"certfile {tls_cert}", f"keyfile {tls_key}"]
        if tls_ca:
            # X.509 client certificates: the certificate's CN is the username (the device uid).
            lines += [f"cafile {tls_ca}", "require_certificate true", "use_identity_as_username true"]
    if tls_listener is not None:
        t = tls_listener
        lines += [
            "",
            "# Devices with X.509 client certificates of the device CA: the certificate's CN (the device uid) is the",
            "# user name, so the ACL above applies; no password. Revoked serials are in the CRL (reloaded on SIGHUP).",
            f"listener {t.port} {t.bind}",
            f"cafile {t.cafile}",
            f"certfile {t.certfile}",
            f"keyfile {t.keyfile}",
            "require_certificate true",
            "use_identity_as_username true",
            f"crlfile {t.crlfile}",
        ]
    return "\n".join(lines) + "\n"


def collect_accounts(db: Session, platform_password: str | None = None) -> list[Account]:
    """Every enabled device, every gateway, and the platform's ingest account."""
    from chaoyun.devices.connectors.models import Gateway
    from chaoyun.devices.models import Device

    accounts: list[Account] = []
    s = mqtt_settings()
    user = s.broker.username
    password = platform_password if platform_password is not None else s.broker.password
    if user and password:
        accounts.append(platform_account(user, mosquitto_hash(password)))
    rows = db.execute(
        select(
            Device.uid, Device.mqtt_password_hash, Device.org_id, Device.cert_thumbprint, Device.mqtt_password_bcrypt
        )
        .where(Device.enabled.is_(True))
        .order_by(Device.id)
    ).all()
    org_of = {uid: org for uid, _h, org, _c, _b in rows}
    for uid, pw_hash, org, thumb, pw_bcrypt in rows:
        if pw_hash or thumb:
            accounts.append(
                device_account(
                    uid, pw_hash, comment=f"device {uid} (org {org})", cert=bool(thumb), nats_password_hash=pw_bcrypt
                )
            )
    for gw in db.execute(select(Gateway).where(Gateway.enabled.is_(True)).order_by(Gateway.id)).scalars():
        uids = [u for u in gw.device_uids() if org_of.get(u) == gw.org_id]
        accounts.append(
            gateway_account(gw.mqtt_username, gw.mqtt_password_hash, gw.uid, uids, gw.mqtt_password_bcrypt)
        )
    return accounts


def _write_atomic(path: Path, text: str, mode: int) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)  # atomic: a SIGHUP never reads a half-written file
    return path


def write_tls_files(
    out: Path,
    db: Session,
    *,
    port: int = 8883,
    bind: str = "0.0.0.0",
    hostnames: tuple[str, ...] = ("localhost",),
    server_cert: Path | None = None,
    server_key: Path | None = None,
    ca_dir: Path | None = None,
) -> TlsListener:
    """``ca.pem`` (the device CA), ``crl.pem`` (revoked serials) and, unless the broker's own certificate is given,
    ``server-cert.pem`` / ``server-key.pem`` issued by the device CA for ``hostnames`` (kept while still valid for
    30 days and naming the same hosts, so devices that pinned it keep working)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509

    from chaoyun.devices.connectors import certs, device_certs

    out.mkdir(parents=True, exist_ok=True)
    ca = certs.load_or_create_ca(ca_dir)
    _write_atomic(out / "ca.pem", ca.cert_pem, 0o644)
    _write_atomic(out / "crl.pem", device_certs.crl_pem(db, ca_dir), 0o644)
    if server_cert is None or server_key is None:
        server_cert, server_key = out / "server-cert.pem", out / "server-key.pem"
        reuse = False
        if server_cert.exists() and server_key.exists():
            cur = x509.load_pem_x509_certificate(server_cert.read_bytes())
            try:
                san = cur.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                names = {str(v) for v in san.get_values_for_type(x509.DNSName)}
                names |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
            except x509.ExtensionNotFound:
                names = set()
            reuse = (
                cur.issuer == ca.cert.subject
                and cur.not_valid_after_utc > datetime.now(UTC) + timedelta(days=30)
                and names == set(hostnames)
            )
        if not reuse:
            issued = certs.issue_server_cert(ca, hostnames)
            _write_atomic(server_key, issued.key_pem, 0o600)
            _write_atomic(server_cert, issued.cert_pem, 0o644)
    return TlsListener(port, bind, out / "ca.pem", server_cert, server_key, out / "crl.pem")


def write_files(out: Path, accounts: list[Account], **conf: object) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("passwd", render_passwd(accounts)),
        ("acl", render_acl(accounts)),
        ("mosquitto.conf", render_conf(out, **conf)),  # type: ignore[arg-type]
    ):
        path = out / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600 if name == "passwd" else 0o644)
        tmp.replace(path)  # atomic: a SIGHUP never reads a half-written file
        written.append(path)
    return written
