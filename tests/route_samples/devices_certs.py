"""Samples for the device-certificate routes (devices/connectors) in tests/test_route_security.py; the
``device_id`` parameter is resolved by ``tests/route_samples/devices.py``."""

from __future__ import annotations

BODIES = {
    ("POST", "/api/v1/devices/{device_id}/certificate"): lambda o: {"days": 30},
    ("POST", "/devices/{device_id}/certificate"): lambda o: {"days": "30"},
}
