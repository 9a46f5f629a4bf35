"""Connectivity settings: ``CHAOYUN_MQTT_*`` variables, declared with their defaults in ``chaoyun/settings.py``."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from chaoyun.settings import env as _env


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883``."""
        u = urlparse(url)
        if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported broker URL scheme: {u.scheme!r}")
        tls = u.scheme in ("mqtts", "ssl")
        return cls(
            host=u.hostname or "127.0.0.1",
            port=u.port or (8883 if tls else 1883),
            username=unquote(u.username) if u.username else None,
            password=unquote(u.password) if u.password else None,
            tls=tls,
        )


@dataclass(frozen=True)
class MqttSettings:
    url: str
    ingest_in_server: bool
    share_group: str
    client_id: str
    session_expiry_s: int
    batch_max: int
    batch_wait_ms: int
    receive_maximum: int
    commands_in_server: bool

    @property
    def broker(self) -> BrokerAddress:
        return BrokerAddress.parse(self.url)


def mqtt_settings() -> MqttSettings:
    return MqttSettings(
        url=_env("MQTT_URL"),
        ingest_in_server=_env("MQTT_INGEST") == "1",
        share_group=_env("MQTT_SHARE_GROUP"),
        client_id=_env("MQTT_CLIENT_ID", f"chaoyun-ingest-{socket.gethostname()}"),
        session_expiry_s=int(_env("MQTT_SESSION_EXPIRY")),
        batch_max=int(_env("MQTT_BATCH")),
        batch_wait_ms=int(_env("MQTT_BATCH_MS")),
        receive_maximum=int(_env("MQTT_RECEIVE_MAXIMUM")),
        commands_in_server=_env("MQTT_COMMANDS") == "1",
    )
