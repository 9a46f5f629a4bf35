"""Incidents: IDS alerts grouped by time window (idempotent), device alarms and audit entries gathered, timeline,
tracing from an alert, handling (assign, states, escalation) and the closing report as a PDF; scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.errors import Conflict, Invalid, NotFound
from chaoyun.security import exports
from chaoyun.security.ids import service as ids_service
from chaoyun.security.incidents import service as incidents
from chaoyun.security.models import IncidentItem


def _alerts(
    db: Session, org_id: int, at: datetime, n: int, src: str, dst: str, rule: str = "unknown_host"
) -> list[int]:
    found = [
        {"rule": rule, "src": src, "dst": dst, "frames": [10 + i], "first_ts": (at + timedelta(seconds=i)).timestamp()}
        for i in range(n)
    ]
    return ids_service.store_alerts(db, org_id, found, source="test").alert_ids


def test_grouping_idempotent_and_window(db: Session, factory: Any, factory2: Any) -> None:
    at = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
    first = _alerts(db, factory.org_id, at, 2, "10.9.9.9", "10.0.0.21")
    inc_id = incidents.open_from_alerts(db, factory.org_id, first)
    # The same alerts again: the same incident, nothing added twice.
    assert incidents.open_from_alerts(db, factory.org_id, first) == inc_id
    assert incidents.open_from_alerts(db, factory.org_id, list(reversed(first))) == inc_id
    n = (
        db.execute(select(IncidentItem).where(IncidentItem.incident_id == inc_id, IncidentItem.kind == "ids_alert"))
        .scalars()
        .all()
    )
    assert sorted(i.ref_id for i in n) == sorted(first)
    # Within the window: joins; far away: a new incident.
    near = _alerts(db, factory.org_id, at + timedelta(minutes=90), 1, "10.9.9.9", "10.0.0.22", "modbus_function")
    assert incidents.open_from_alerts(db, factory.org_id, near) == inc_id
    inc = db.get(incidents.Incident, inc_id)
    assert inc is not None and inc.severity == "high" and inc.last_at >= at + timedelta(minutes=90)
    far = _alerts(db, factory.org_id, at + timedelta(days=2), 1, "10.9.9.9", "10.0.0.21")
    assert incidents.open_from_alerts(db, factory.org_id, far) != inc_id
    # Another organisation's alert ids are not this organisation's.
    with pytest.raises(NotFound):
        incidents.open_from_alerts(db, factory2.org_id, first)


def test_handling_trace_and_report(
    db: Session, factory: Any, factory2: Any, chenghai: Any, chaonan: Any, city: Any
) -> None:
    at = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)
    dev = db.execute(select(Device).where(Device.org_id == factory.org_id).order_by(Device.id)).scalars().first()
    a = _alerts(db, factory.org_id, at, 1, "192.168.7.7", "10.0.0.31", "modbus_function")
    b = _alerts(db, factory.org_id, at + timedelta(minutes=5), 1, "10.0.0.31", "10.0.0.32", "unknown_flow")
    c = _alerts(db, factory.org_id, at + timedelta(minutes=6), 1, "10.5.5.5", "10.0.0.40", "unknown_flow")
    inc_id = incidents.open_from_alerts(db, factory.org_id, a + b + c)
    with pytest.raises(NotFound):
        incidents.get_incident(db, factory2, inc_id)
    with pytest.raises(NotFound):
        incidents.get_incident(db, chaonan, inc_id)
    assert incidents.get_incident(db, chenghai, inc_id).id == inc_id

    tr = incidents.trace(db, factory, inc_id, a[0])
    # One hop: 192.168.7.7 → 10.0.0.31, which then reached 10.0.0.32; 10.5.5.5 is unrelated.
    assert {"192.168.7.7", "10.0.0.31", "10.0.0.32"} <= set(tr.hosts) and "10.5.5.5" not in tr.hosts
    assert [x.id for x in tr.related_alerts] == b
    with pytest.raises(NotFound):
        incidents.trace(db, factory, inc_id, 2**31 - 1)

    people = incidents.assignable(db, incidents.get_incident(db, factory, inc_id))
    with pytest.raises(Invalid):
        incidents.assign(db, factory, inc_id, 2**31 - 1)
    incidents.assign(db, factory, inc_id, people[0][0])
    incidents.set_state(db, factory, inc_id, "investigating", "正在排查")
    with pytest.raises(Conflict):
        incidents.set_state(db, factory, inc_id, "open")
    with pytest.raises(Invalid):
        incidents.escalate(db, factory, inc_id, "")
    assert incidents.escalate(db, factory, inc_id, "需要区里支援").escalation == "district"
    with pytest.raises(Conflict):
        incidents.escalate(db, factory, inc_id, "再上报")  # an enterprise takes it to the district only
    assert incidents.escalate(db, chenghai, inc_id, "涉及多家企业").escalation == "city"
    incidents.add_note(db, factory, inc_id, "已断开 192.168.7.7 的接入")
    with pytest.raises(Invalid) as err:
        incidents.close(db, factory, inc_id, "", "", "")
    assert err.value.field == "cause"
    incidents.close(db, factory, inc_id, "运维笔记本接入控制网", "隔离主机、修改 PLC 口令", "远程运维需审批")
    with pytest.raises(Conflict):
        incidents.add_note(db, factory, inc_id, "晚了")

    tl = incidents.timeline(db, factory, inc_id)
    kinds = [e.kind for e in tl.entries]
    assert kinds.count("ids_alert") == 3 and "note" in kinds and "state" in kinds
    assert [e.at for e in tl.entries] == sorted(e.at for e in tl.entries)
    pdf = exports.incident_pdf(tl, "测试企业")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1500
    assert dev is None or isinstance(dev.id, int)
    assert incidents.open_count(db, city) >= 0


def test_manual_hidden_danger(db: Session, factory: Any, factory2: Any) -> None:
    with pytest.raises(NotFound):
        incidents.open_manual(db, factory, factory2.org_id, "x", "high", "")
    with pytest.raises(Invalid):
        incidents.open_manual(db, factory, factory.org_id, " ", "high", "")
    inc = incidents.open_manual(db, factory, factory.org_id, "发现未授权的 4G 路由器", "high", "在二车间")
    assert inc.state == "open" and incidents.open_count(db, factory, high_only=True) >= 1
