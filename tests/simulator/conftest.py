"""The simulator tests seed the demo equipment of the demo firms: devices with hours of back-filled telemetry and
alarm rules on the injection moulding machines. Other tests on the same worker's database (alarms, OEE, energy,
the home pages) create their own devices in those firms and count what they see, so whatever a simulator test
created — devices with their telemetry, and rules — is removed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chaoyun.devices.models import AlarmRule, Device
from chaoyun.devices.store import get_store


@pytest.fixture(autouse=True)
def _remove_what_the_test_seeded(db: Session) -> Iterator[None]:
    rules_before = set(db.execute(select(AlarmRule.id)).scalars())
    devices_before = set(db.execute(select(Device.id)).scalars())
    yield
    db.rollback()
    new_rules = [i for i in db.execute(select(AlarmRule.id)).scalars() if i not in rules_before]
    new_devices = [i for i in db.execute(select(Device.id)).scalars() if i not in devices_before]
    if new_rules:
        db.execute(delete(AlarmRule).where(AlarmRule.id.in_(new_rules)))
    if new_devices:
        db.execute(delete(Device).where(Device.id.in_(new_devices)))
    db.commit()
    store = get_store()
    for device_id in new_devices:
        store.delete_device(device_id)
