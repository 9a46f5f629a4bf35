"""X.509 with ``cryptography``: self-signed application certificates for OPC UA (gateway and test servers), and
the installation's device CA for MQTT client certificates (below).

OPC UA checks that the certificate names the application: its URI goes into the subjectAltName (and the host
name as a DNS name). Keys are RSA 2048 (Basic256Sha256 accepts 2048–4096 bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _self_signed_builder(name: str, days: int) -> tuple[rsa.RSAPrivateKey, x509.CertificateBuilder]:
    """A new RSA 2048 key and a certificate builder issued by and to ``name`` (O=Chaoyun), valid from five
    minutes ago (clock skew) for ``days``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Chaoyun"),
    ])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
    )
    return key, builder


def make_self_signed(
    out_dir: Path, name: str, application_uri: str, hostnames: tuple[str, ...] = ("localhost",), days: int = 3650
) -> tuple[Path, Path]:
    """Write ``<name>-cert.der`` and ``<name>-key.pem``; return their paths."""
    key, builder = _self_signed_builder(name, days)
    cert = (
        builder
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(application_uri), *(x509.DNSName(h) for h in hostnames)]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=True, data_encipherment=True,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path = out_dir / f"{name}-cert.der"
    key_path = out_dir / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


# ------------------------------------------------------------------------------------------ device CA (MQTT over TLS)
#
# One certificate authority per installation signs the X.509 client certificates of devices that connect to a
# broker terminating TLS (Mosquitto ``require_certificate true`` + ``use_identity_as_username true``): the
# certificate's CN is the device uid, so the broker's per-device ACL applies unchanged. The CA's key and
# certificate live under ``$CHAOYUN_VAR_DIR/device-ca/`` and are made on first use. The platform keeps only
# each device certificate's serial, SHA-256 thumbprint and expiry; revoked serials go into a CRL that
# ``chaoyun broker-config`` writes for Mosquitto's ``crlfile``.

CA_DIR_NAME = "device-ca"
CA_CERT_FILE = "ca-cert.pem"
CA_KEY_FILE = "ca-key.pem"
CRL_DAYS = 90  # a CRL past its next-update is refused by OpenSSL: rerun `chaoyun broker-config` before that


@dataclass(frozen=True)
class DeviceCA:
    directory: Path
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT_FILE

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def default_ca_dir() -> Path:
    from chaoyun.settings import get_settings

    return get_settings().var_dir / CA_DIR_NAME


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    fmt = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _new_ca(name: str, days: int = 20 * 365) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key, builder = _self_signed_builder(name, days)
    cert = (
        builder
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def load_or_create_ca(directory: Path | None = None) -> DeviceCA:
    """The installation's device CA, created on first use (key mode 600).

    Made in a scratch folder and renamed into place, so two processes starting at once end up with one CA."""
    import os
    import secrets
    import shutil

    directory = directory or default_ca_dir()
    if not (directory / CA_CERT_FILE).exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}-{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o700)
        key, cert = _new_ca(f"Chaoyun device CA {secrets.token_hex(4)}")
        (tmp / CA_KEY_FILE).write_bytes(_key_pem(key))
        (tmp / CA_KEY_FILE).chmod(0o600)
        (tmp / CA_CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        try:
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()
            os.rename(tmp, directory)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won: use its CA
    key_obj = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), password=None)
    assert isinstance(key_obj, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
    return DeviceCA(directory, key_obj, cert)


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex (what ``openssl x509 -fingerprint -sha256`` shows)."""
    return cert.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class IssuedCert:
    cert: x509.Certificate
    cert_pem: str
    key_pem: str  # shown once, never stored by the platform

    @property
    def serial_hex(self) -> str:
        return format(self.cert.serial_number, "x")

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.cert)

    @property
    def not_after(self) -> datetime:
        return self.cert.not_valid_after_utc


def _leaf(
    ca: DeviceCA, subject: x509.Name, key: rsa.RSAPrivateKey, days: int, usage: list[x509.ObjectIdentifier],
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def issue_client_cert(ca: DeviceCA, common_name: str, days: int = 730) -> IssuedCert:
    """A TLS client certificate whose CN is ``common_name`` (the device uid = its MQTT user name)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Chaoyun device"),
    ])
    cert = _leaf(ca, subject, key, days, [ExtendedKeyUsageOID.CLIENT_AUTH])
    return IssuedCert(cert, cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key).decode())


def issue_server_cert(ca: DeviceCA, hostnames: tuple[str, ...], days: int = 825) -> IssuedCert:
    """A TLS server certificate for the broker (DNS names and IP addresses in the subjectAltName)."""
    import ipaddress

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    san: list[x509.GeneralName] = []
    for h in hostnames:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            san.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else "broker")])
    cert = _leaf(ca, subject, key, days, [ExtendedKeyUsageOID.SERVER_AUTH], san)
    return IssuedCert(cert, cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key).decode())


def make_crl(ca: DeviceCA, revoked: list[tuple[int, datetime]], days: int = CRL_DAYS) -> str:
    """A PEM CRL of the CA listing ``(serial, revoked at)``; an empty list still makes a valid CRL (Mosquitto with
    ``crlfile`` refuses every client when the CA has no CRL)."""
    import time as _time

    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=days))
        .add_extension(x509.CRLNumber(int(_time.time() * 1000)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(when if when.tzinfo else when.replace(tzinfo=UTC))
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
