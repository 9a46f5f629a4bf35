"""The simulator tests seed the demo equipment, which includes alarm rules on the demo firm's injection moulding
machines; those would also apply to devices other tests (tests/devices/test_alarms.py) create in that firm on the
same worker's database. Rules created during a test are removed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chaoyun.devices.models import AlarmRule


@pytest.fixture(autouse=True)
def _no_new_alarm_rules_left(db: Session) -> Iterator[None]:
    before = set(db.execute(select(AlarmRule.id)).scalars())
    yield
    db.rollback()
    new = [i for i in db.execute(select(AlarmRule.id)).scalars() if i not in before]
    if new:
        db.execute(delete(AlarmRule).where(AlarmRule.id.in_(new)))
        db.commit()
