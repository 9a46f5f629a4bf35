"""Devices pages people work in: paged device list and export, bulk acknowledgement, alarm rules as
sentences with a real form (metric select, duration refused beside its field, values kept)."""

import io
import re
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Alarm, AlarmRule
from chaoyun.identity.models import AuditEntry
from tests.devices.helpers import make_device, org_of


def _alarm(db: Session, device: Any, **kw: Any) -> Alarm:
    fields = {"kind": "threshold", "severity": "major", "message": "料筒温度过高"} | kw
    a = Alarm(org_id=device.org_id, device_id=device.id, **fields)
    db.add(a)
    db.commit()
    return a


def test_bulk_acknowledge_only_own_alarms(login: Any, db: Session) -> None:
    mine, _ = make_device(db, org_of(db, "factory"))
    other, _ = make_device(db, org_of(db, "factory2"))
    a1, a2, a3 = _alarm(db, mine), _alarm(db, mine), _alarm(db, mine)
    foreign = _alarm(db, other)
    factory = login("factory")
    page = factory.get("/alarms").text
    assert 'id="bulk-ack"' in page and f'name="ids" value="{a1.id}"' in page
    # Someone else's alarm in the batch: 404 and nothing acknowledged.
    r = factory.post("/alarms/acknowledge", data={"ids": [a1.id, foreign.id]})
    assert r.status_code == 404
    db.expire_all()
    assert db.get(Alarm, a1.id).acknowledged_at is None  # type: ignore[union-attr]
    assert db.get(Alarm, foreign.id).acknowledged_at is None  # type: ignore[union-attr]
    # Without the CSRF token: refused.
    bare = factory.client.post("/alarms/acknowledge", data={"ids": [a1.id]})
    assert bare.status_code in (400, 403)
    r = factory.post("/alarms/acknowledge", data={"ids": [a1.id, a2.id]})
    assert r.status_code == 303 and "acked_many" in r.headers["location"]
    db.expire_all()
    assert db.get(Alarm, a1.id).status == "acknowledged"  # type: ignore[union-attr]
    assert db.get(Alarm, a2.id).acknowledged_by == "factory"  # type: ignore[union-attr]
    assert db.get(Alarm, a3.id).status == "active"  # type: ignore[union-attr]
    # Nothing ticked: the page says so.
    r = factory.post("/alarms/acknowledge", data={})
    assert r.status_code == 422 and "至少勾选一条" in r.text


def test_alarm_list_sorts_and_pages(login: Any, db: Session) -> None:
    dev, _ = make_device(db, org_of(db, "factory"))
    for _i in range(30):
        _alarm(db, dev, severity="minor")
    factory = login("factory")
    html = factory.get("/alarms?status=all").text
    assert len(re.findall(r'data-alarm="\d+"', html)) == 25 and "data-total=" in html
    total = int(re.search(r'data-total="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert total >= 30
    html = factory.get("/alarms?status=all&sort=severity&size=50").text
    assert len(re.findall(r'data-alarm="\d+"', html)) == min(50, total)
    assert "list-count" in factory.get("/alarms/rows?status=all&page=2").text


def test_device_list_paged_and_exported(login: Any, db: Session) -> None:
    org = org_of(db, "factory")
    for i in range(27):
        make_device(db, org, name=f"分页设备{i:02d}", workshop="分页车间")
    factory = login("factory")
    html = factory.get("/devices?workshop=分页车间&sort=name").text
    names = re.findall(r">(分页设备\d\d)<", html)
    assert names == [f"分页设备{i:02d}" for i in range(25)]
    html = factory.get("/devices?workshop=分页车间&sort=-name&page=2").text
    assert re.findall(r">(分页设备\d\d)<", html) == ["分页设备01", "分页设备00"]
    assert 'href="/devices.xlsx?workshop=' in html
    before = db.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    r = factory.get("/devices.xlsx?workshop=分页车间")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert ws.max_row == 28 and ws.freeze_panes == "A2"
    assert {ws.cell(n, 1).value for n in range(2, 29)} == {f"分页设备{i:02d}" for i in range(27)}
    # Another enterprise's export does not hold these devices.
    other = load_workbook(io.BytesIO(login("factory2").get("/devices.xlsx").content)).worksheets[0]
    assert not any(str(c.value).startswith("分页设备") for c in other["A"])
    assert db.execute(select(func.count()).select_from(AuditEntry)).scalar_one() > before


def _rule_form(**over: Any) -> dict[str, Any]:
    return {
        "name": "料筒过热",
        "kind": "threshold",
        "target": "model:injection_moulding",
        "metric": "barrel_temp",
        "severity": "critical",
        "op": ">",
        "value": "240",
        "duration_s": "30",
        "hysteresis": "0",
    } | over


def test_rule_form_refuses_negative_duration_beside_the_field(login: Any, db: Session) -> None:
    make_device(db, org_of(db, "factory"))
    factory = login("factory")
    count = db.execute(select(func.count()).select_from(AlarmRule)).scalar_one()
    r = factory.post("/alarms/rules", data=_rule_form(name="负时长规则", duration_s="-10"))
    assert r.status_code == 422
    field = re.search(r'<div class="invalid-feedback d-block" data-field="duration_s">([^<]+)</div>', r.text)
    assert field and "不能为负" in field.group(1)
    assert 'value="负时长规则"' in r.text and 'value="-10"' in r.text  # values kept
    assert re.search(r'<option value="barrel_temp" data-model="injection_moulding" selected>', r.text)
    assert db.execute(select(func.count()).select_from(AlarmRule)).scalar_one() == count
    # Not a number and infinite limits too, each beside its field.
    r = factory.post("/alarms/rules", data=_rule_form(value="inf"))
    assert r.status_code == 422 and 'data-field="value"' in r.text
    r = factory.post("/alarms/rules", data=_rule_form(metric="no_such_metric"))
    assert r.status_code == 422 and 'data-field="metric"' in r.text


def test_rule_reads_as_a_sentence_with_name_and_unit(login: Any, db: Session) -> None:
    dev, _ = make_device(db, org_of(db, "factory"), name="注塑机 3 号")
    factory = login("factory")
    r = factory.post("/alarms/rules", data=_rule_form(name="句子规则", target=f"device:{dev.id}"))
    assert r.status_code == 303, r.text[:3000]
    html = factory.get("/alarms").text
    assert "注塑机 3 号 · 料筒温度 &gt; 240 °C 持续 30 秒" in html
    rules = html[html.index('id="rules"') : html.index('id="rule-form"')]
    assert "\\u003e" not in rules and "duration_s" not in rules and "barrel_temp" not in rules
    # The form lists the model's metrics by name and unit.
    assert re.search(r'data-model="injection_moulding"[^>]*>料筒温度 \(°C\)</option>', html)
    r = factory.post("/alarms/rules", data=_rule_form(name="离线规则", kind="offline", seconds="120"))
    assert r.status_code == 303
    r = factory.post("/alarms/rules", data=_rule_form(name="离线负", kind="offline", seconds="-5"))
    assert r.status_code == 422 and 'data-field="seconds"' in r.text
    factory.client.cookies.set("cy_lang", "en")
    en = factory.get("/alarms").text
    assert "注塑机 3 号 · Barrel temperature &gt; 240 °C for 30 s" in en


def test_webhook_form_keeps_values(login: Any) -> None:
    factory = login("factory")
    r = factory.post("/alarms/webhooks", data={"name": "我的钩子", "url": "ftp://example.com/x"})
    assert r.status_code == 422
    assert 'data-field="url"' in r.text and 'value="我的钩子"' in r.text and 'value="ftp://example.com/x"' in r.text
