"""X.509 client certificates of devices (service functions ``(db, actor, ...)``, audited).

``issue_certificate`` signs a new certificate with the installation's device CA (``certs.load_or_create_ca``):
CN = the device uid, so a broker with ``use_identity_as_username true`` applies the device's ACL unchanged. The
private key and certificate are returned once; the platform stores only serial, thumbprint and expiry (and the
thumbprint of the current certificate in ``devices.cert_thumbprint``). Issuing again revokes the previous
certificate ("superseded"). ``revoke_certificate`` revokes the current one; ``crl_pem`` lists every revoked
serial (and those of deleted devices) for Mosquitto's ``crlfile`` — written by ``chaoyun broker-config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.devices.connectors import certs
from chaoyun.devices.connectors.models import DeviceCertificate
from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor

MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 3650, 730


@dataclass(frozen=True)
class IssuedCertificate:
    row: DeviceCertificate
    cert_pem: str
    key_pem: str
    ca_pem: str


def _device_for_write(db: Session, actor: Actor, device_id: int) -> Any:
    from chaoyun.devices import service

    dev = service.get_device_for_write(db, actor, device_id)
    if actor.org_id != dev.org_id and actor.role != "platform_admin":
        raise Forbidden(N_("Only the device's own enterprise may manage its certificates."))
    return dev


def _active(db: Session, device_id: int) -> list[DeviceCertificate]:
    q = select(DeviceCertificate).where(
        DeviceCertificate.device_id == device_id, DeviceCertificate.revoked_at.is_(None)
    ).order_by(DeviceCertificate.id)
    return list(db.execute(q).scalars())


def list_certificates(db: Session, actor: Actor, device_id: int) -> list[DeviceCertificate]:
    from chaoyun.devices import service

    dev = service.get_device(db, actor, device_id)
    q = select(DeviceCertificate).where(DeviceCertificate.device_id == dev.id).order_by(DeviceCertificate.id.desc())
    return list(db.execute(q).scalars())


def issue_certificate(
    db: Session, actor: Actor, device_id: int, days: int = DEFAULT_DAYS, ca_dir: Path | None = None
) -> IssuedCertificate:
    dev = _device_for_write(db, actor, device_id)
    if not dev.enabled:
        raise Invalid(N_("The device is disabled."), field="device")
    if not MIN_DAYS <= int(days) <= MAX_DAYS:
        raise Invalid(
            N_("The validity must be between %(min)s and %(max)s days."), field="days", min=MIN_DAYS, max=MAX_DAYS
        )
    ca = certs.load_or_create_ca(ca_dir)
    issued = certs.issue_client_cert(ca, dev.uid, days=int(days))
    now = utcnow()
    superseded = []
    for old in _active(db, dev.id):
        old.revoked_at, old.revoked_by, old.revoke_reason = now, actor.user.username, "superseded"
        superseded.append(old.serial)
    row = DeviceCertificate(
        org_id=dev.org_id, device_id=dev.id, device_uid=dev.uid, serial=issued.serial_hex,
        thumbprint=issued.thumbprint, not_after=issued.not_after, issued_by=actor.user.username, issued_at=now,
    )
    db.add(row)
    db.flush()
    before = {"cert_thumbprint": dev.cert_thumbprint}
    dev.cert_thumbprint = issued.thumbprint
    record_by(
        db, actor, "device.certificate_issue", "device", dev.id, before,
        {"serial": row.serial, "thumbprint": row.thumbprint, "not_after": row.not_after.isoformat(),
         "superseded": superseded},
    )
    db.commit()
    return IssuedCertificate(row, issued.cert_pem, issued.key_pem, ca.cert_pem)


def revoke_certificate(db: Session, actor: Actor, device_id: int) -> DeviceCertificate:
    """Revoke the device's current certificate (the broker refuses it once its CRL is regenerated and reloaded)."""
    dev = _device_for_write(db, actor, device_id)
    active = _active(db, dev.id)
    if not active:
        raise NotFound(N_("This device has no valid certificate."))
    now = utcnow()
    for row in active:
        row.revoked_at, row.revoked_by, row.revoke_reason = now, actor.user.username, "revoked"
    before = {"cert_thumbprint": dev.cert_thumbprint}
    dev.cert_thumbprint = None
    record_by(
        db, actor, "device.certificate_revoke", "device", dev.id, before,
        {"serials": [r.serial for r in active], "cert_thumbprint": None},
    )
    db.commit()
    return active[-1]


def revoked_serials(db: Session) -> list[tuple[int, datetime]]:
    """Revoked certificates, and those of deleted devices (a new device may be registered under the same uid)."""
    rows = db.execute(
        select(DeviceCertificate.serial, DeviceCertificate.revoked_at, DeviceCertificate.issued_at).where(
            or_(DeviceCertificate.revoked_at.is_not(None), DeviceCertificate.device_id.is_(None))
        ).order_by(DeviceCertificate.id)
    ).all()
    return [(int(serial, 16), revoked_at or issued_at) for serial, revoked_at, issued_at in rows]


def crl_pem(db: Session, ca_dir: Path | None = None) -> str:
    return certs.make_crl(certs.load_or_create_ca(ca_dir), revoked_serials(db))
