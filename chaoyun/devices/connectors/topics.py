"""The documented MQTT topic layout (docs/connectivity.md).

``chaoyun/v1/devices/{uid}/telemetry``        device → platform, telemetry
``chaoyun/v1/devices/{uid}/attributes``       device → platform, static attributes (firmware, serial...)
``chaoyun/v1/devices/{uid}/commands``         platform → device/gateway, write-back commands
``chaoyun/v1/devices/{uid}/commands/result``  device/gateway → platform, command outcomes
``chaoyun/v1/gateways/{uid}/config``          platform → gateway, pushed configuration (retained)
``chaoyun/v1/gateways/{uid}/status``          gateway → platform, heartbeat / config version applied
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "chaoyun/v1"
DEVICE_KINDS = ("telemetry", "attributes", "commands", "commands/result")


def telemetry(uid: str) -> str:
    return f"{PREFIX}/devices/{uid}/telemetry"


def attributes(uid: str) -> str:
    return f"{PREFIX}/devices/{uid}/attributes"


def commands(uid: str) -> str:
    return f"{PREFIX}/devices/{uid}/commands"


def command_result(uid: str) -> str:
    return f"{PREFIX}/devices/{uid}/commands/result"


def gateway_config(uid: str) -> str:
    return f"{PREFIX}/gateways/{uid}/config"


def gateway_status(uid: str) -> str:
    return f"{PREFIX}/gateways/{uid}/status"


# What the platform's ingest workers subscribe to (through a shared subscription group).
INGEST_FILTERS = (f"{PREFIX}/devices/+/telemetry", f"{PREFIX}/devices/+/attributes")
RESULT_FILTER = f"{PREFIX}/devices/+/commands/result"
STATUS_FILTER = f"{PREFIX}/gateways/+/status"
PLATFORM_FILTERS = (*INGEST_FILTERS, RESULT_FILTER, STATUS_FILTER)


def shared(group: str, topic_filter: str) -> str:
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True)
class DeviceTopic:
    uid: str
    kind: str  # telemetry | attributes | commands | commands/result


_TELEMETRY_HEAD = f"{PREFIX}/devices/"
_TELEMETRY_TAIL = "/telemetry"


def telemetry_uid(topic: str) -> str | None:
    """The device uid of a telemetry topic, or None: the ingest hot path's shortcut past ``parse`` (which
    builds an object per message)."""
    if topic.startswith(_TELEMETRY_HEAD) and topic.endswith(_TELEMETRY_TAIL):
        uid = topic[len(_TELEMETRY_HEAD) : -len(_TELEMETRY_TAIL)]
        if uid and "/" not in uid:
            return uid
    return None


def parse(topic: str) -> DeviceTopic | None:
    """The device uid and message kind of a device topic, or None for anything else."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "chaoyun" or parts[1] != "v1" or parts[2] != "devices":
        return None
    uid, kind = parts[3], "/".join(parts[4:])
    if not uid or kind not in DEVICE_KINDS:
        return None
    return DeviceTopic(uid, kind)


def parse_gateway(topic: str) -> tuple[str, str] | None:
    parts = topic.split("/")
    if len(parts) != 5 or parts[:3] != ["chaoyun", "v1", "gateways"] or not parts[3]:
        return None
    return parts[3], parts[4]
