"""Device credentials: access tokens (sha256-hashed) and MQTT passwords in Mosquitto's own hash format.

Mosquitto 2's password file stores ``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``; keeping
that exact string lets the platform write the broker's password file without knowing any password, and
lets ``authenticate_mqtt`` check the same hash. NATS (2.9) checks passwords in clear or bcrypt only, so the same
password is also kept as a bcrypt hash (``nats_hash``) for the NATS broker's generated users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

import bcrypt

TOKEN_PREFIX = "cyd"
MQTT_ITERATIONS = 1000  # Mosquitto's mosquitto_passwd default is 101; more costs the broker little per connect
# ``nats server passwd`` uses cost 11; NATS pays it on every connect, so keep it there, not higher.
NATS_BCRYPT_COST = 11


def new_device_token() -> str:
    return f"{TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"


def new_mqtt_password() -> str:
    return secrets.token_urlsafe(18)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = MQTT_ITERATIONS) -> str:
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def nats_hash(password: str, cost: int = NATS_BCRYPT_COST) -> str:
    """bcrypt of the MQTT password as NATS reads it: ``$2a$<cost>$...`` (the form ``nats server passwd`` writes;
    nats-server accepts ``$2[abxy]$``)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost, prefix=b"2a")).decode()


def verify_mosquitto_hash(stored: str, password: str) -> bool:
    try:
        _, kind, iterations, salt_b64, hash_b64 = stored.split("$")
        if kind != "7":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(hash_b64)
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def demo_secret(secret_key: str, uid: str, what: str) -> str:
    """Credentials of demo devices are derived from the server's secret key, so the simulator (which has
    the same key) can authenticate without the platform ever storing them in clear."""
    mac = hmac.new(secret_key.encode(), f"chaoyun-demo-{what}:{uid}".encode(), hashlib.sha256).digest()
    raw = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    return f"{TOKEN_PREFIX}_{raw}" if what == "token" else raw[:24]
