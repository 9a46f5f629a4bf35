"""The topic layout: the ingest shortcut for telemetry topics agrees with the full parser."""

from __future__ import annotations

import pytest

from chaoyun.devices.connectors import topics


@pytest.mark.parametrize(
    "topic",
    [
        "chaoyun/v1/devices/meter-1/telemetry",
        "chaoyun/v1/devices/m/telemetry",
        "chaoyun/v1/devices//telemetry",
        "chaoyun/v1/devices/a/b/telemetry",
        "chaoyun/v1/devices/meter-1/attributes",
        "chaoyun/v1/devices/meter-1/commands/result",
        "chaoyun/v2/devices/meter-1/telemetry",
        "chaoyun/v1/gateways/gw-1/status",
        "chaoyun/v1/devices/telemetry",
        "other/telemetry",
    ],
)
def test_telemetry_shortcut_agrees_with_parse(topic: str) -> None:
    parsed = topics.parse(topic)
    expected = parsed.uid if parsed is not None and parsed.kind == "telemetry" else None
    assert topics.telemetry_uid(topic) == expected
