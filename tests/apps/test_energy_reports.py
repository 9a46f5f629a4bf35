"""Energy and time-of-use cost from meters fed through ingest; energy per unit; pages; PDF and Excel;
scheduled reports; the government's aggregate view."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.energy import service as energy
from chaoyun.apps.energy import tariffs as tf
from chaoyun.apps.models import Report
from chaoyun.apps.reports import service as reports
from tests.apps.helpers import feed, local, new_device, new_org


def test_periods_follow_the_guangdong_structure() -> None:
    t = tf.get_tariff("gd_industrial_1_10kv")
    when = [
        local(2026, 3, 2, 3),
        local(2026, 3, 2, 9),
        local(2026, 3, 2, 10, 30),
        local(2026, 3, 2, 13),
        local(2026, 3, 2, 18, 45),
        local(2026, 3, 2, 23),
        local(2026, 7, 15, 11, 30),
        local(2026, 7, 15, 10, 30),
        local(2026, 8, 3, 16),
    ]
    codes = tf.periods_of(t, np.array([int(w.timestamp() * 1000) for w in when]))
    assert [tf.PERIODS[c] for c in codes] == [
        "valley",
        "flat",
        "peak",
        "flat",
        "peak",
        "flat",
        "critical",
        "peak",
        "critical",
    ]
    assert t.prices() == {
        "critical": Decimal("1.3813"),
        "peak": Decimal("1.1050"),
        "flat": Decimal("0.6500"),
        "valley": Decimal("0.2470"),
    }


def _meter_day(db: Session, org_id: int, day: date, kwh_per_hour: float = 10.0) -> None:
    meter = new_device(db, org_id, "energy_meter", "总电表", "配电房", "")
    pts = [
        (local(day.year, day.month, day.day) + timedelta(minutes=15 * i), {"energy": 1000 + kwh_per_hour * i / 4})
        for i in range(97)
    ]
    feed(db, meter, pts, local(day.year, day.month, day.day) + timedelta(days=1))


def test_meter_cost_by_period(db: Session) -> None:
    org = new_org(db, "电费厂")
    day = date(2026, 3, 4)
    _meter_day(db, org.id, day)
    r = energy.report(db, org.id, day, day)
    kwh = r.kwh_by_period()
    # 10 kWh every hour: valley 8 h, peak 7 h, flat 9 h.
    assert kwh == {"critical": 0.0, "peak": 70.0, "flat": 90.0, "valley": 80.0}
    cost = r.cost()
    assert cost["total"] == Decimal("77.35") + Decimal("58.50") + Decimal("19.76")


def test_energy_per_unit_and_shifting(db: Session) -> None:
    org = new_org(db, "单耗厂")
    day = date(2026, 3, 5)
    m = new_device(db, org.id, "injection_moulding", "注塑机A")
    comp = new_device(db, org.id, "air_compressor", "空压机1", "动力站", "")
    y, mo, d = day.year, day.month, day.day
    # The moulding machine: 8 kWh per hour all day, idle 10:00–12:00 (peak), 480 good parts.
    pts = [(local(y, mo, d) + timedelta(hours=h), {"energy": 500 + 8 * h, "good_count": 20 * h}) for h in range(25)]
    pts += [
        (local(y, mo, d, 0), {"state": "running"}),
        (local(y, mo, d, 10), {"state": "idle"}),
        (local(y, mo, d, 12), {"state": "running"}),
    ]
    feed(db, m, pts, local(y, mo, d) + timedelta(days=1))
    feed(
        db,
        comp,
        [(local(y, mo, d) + timedelta(hours=h), {"energy": 100 * h, "state": "running"}) for h in range(25)],
        local(y, mo, d) + timedelta(days=1),
    )
    epu = energy.energy_per_unit(db, org.id, day, day)
    assert epu.good_units == 480 and epu.kwh == 8 * 24 + 100 * 24
    assert epu.kwh_per_unit is not None and abs(epu.kwh_per_unit - 8 * 24 / 480) < 1e-9
    r = energy.report(db, org.id, day, day)
    shift = {s["device"]: s for s in r.shifting()}
    # Compressor: 30 % of its 7 peak hours × 100 kWh = 210 kWh at (1.105 − 0.247) yuan.
    comp = shift["空压机1"]
    assert comp["estimated_movable_kwh"] == 210.0 and comp["estimated_saving_yuan"] == Decimal("180.18")
    assert comp["assumed_flexible_share"] == 0.3
    # The moulding machine idled through two peak hours: 16 kWh avoidable.
    mould = shift["注塑机A"]
    assert mould["estimated_movable_kwh"] == 16.0 and mould["estimated_saving_yuan"] == Decimal("13.73")
    # Savings are estimates: the names say so and the assumption travels with them.
    d = r.as_dict()
    assert "shifting" not in d and d["shifting_assumption"] == {"utility": 0.3, "idle_machine": 1.0}
    assert d["shifting_estimates"][0]["estimated_saving_yuan"] == "180.18"


def test_pages_and_exports(login: Any, db: Session) -> None:
    from chaoyun.identity.models import Membership, User

    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    d = new_device(db, m.org_id, "injection_moulding", "页面测试机")
    states = ["running", "fault", "running", "setup"]
    pts = [
        (local(2026, 3, 12, h), {"state": states[h % 4], "cycle_count": 100 * h, "reject_count": h, "energy": 10 * h})
        for h in range(24)
    ]
    feed(db, d, pts, local(2026, 3, 13))
    c = login("factory")
    for url in (
        "/apps/oee?days=1&end=2026-03-12",
        "/apps/quality",
        "/apps/energy?days=1&end=2026-03-12",
        "/apps/reports",
        "/home",
    ):
        r = c.get(url)
        assert r.status_code == 200, url
    page = c.get("/apps/oee?days=1&end=2026-03-12").text
    assert "设备综合效率" in page and "页面测试机" in page and "oee-machines" in page and "时间开动率" in page
    xl = c.get("/apps/oee.xlsx?days=1&end=2026-03-12")
    assert xl.status_code == 200 and xl.content[:2] == b"PK"
    energy_page = c.get("/apps/energy?days=1&end=2026-03-12").text
    assert 'id="shifting-assumption"' in energy_page and "估算" in energy_page
    api = c.get("/api/v1/apps/energy?days=1&end=2026-03-12").json()
    assert "shifting_estimates" in api and "shifting_assumption" in api
    assert login("factory2").get("/apps/oee").status_code == 200
    assert "页面测试机" not in login("factory2").get("/apps/oee?days=1&end=2026-03-12").text
    api = c.get("/api/v1/apps/energy?days=1&end=2026-03-12")
    assert api.status_code == 200 and api.json()["total_kwh"] > 0


def test_report_generation_and_download(login: Any, db: Session) -> None:
    org = new_org(db, "报告厂")
    day = date(2026, 3, 6)
    _meter_day(db, org.id, day)
    rep = reports.generate(db, org.id, "daily", day)
    assert rep.content[:5] == b"%PDF-" and rep.size > 1000
    again = reports.generate(db, org.id, "daily", day)
    assert again.id == rep.id  # regenerating replaces, never duplicates
    c = login("factory")
    r = c.post("/apps/reports", data={"kind": "weekly", "day": "2026-03-04"})
    assert r.status_code == 303
    mine = c.get("/api/v1/apps/reports").json()
    weekly = next(x for x in mine if x["kind"] == "weekly")
    assert weekly["period_start"] == "2026-03-02"
    pdf = c.get(f"/apps/reports/{weekly['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    assert login("factory2").get(f"/apps/reports/{weekly['id']}/pdf").status_code == 404


def test_scheduled_reports_are_due_once(db: Session) -> None:
    org = new_org(db, "定时厂")
    new_device(db, org.id, "cnc", "CNC")
    today = date(2026, 3, 11)  # a Wednesday
    due = [(k, d) for o, k, d in reports.due(db, today) if o == org.id]
    assert due == [("daily", date(2026, 3, 10)), ("weekly", date(2026, 3, 8))]
    for o, k, d in reports.due(db, today):
        if o == org.id:
            reports.generate(db, o, k, d)
    assert [x for x in reports.due(db, today) if x[0] == org.id] == []
    kinds = db.execute(
        select(Report.kind, Report.period_start).where(Report.org_id == org.id).order_by(Report.kind)
    ).all()
    assert [tuple(k) for k in kinds] == [("daily", date(2026, 3, 10)), ("weekly", date(2026, 3, 2))]


def test_government_sees_aggregates_only(login: Any, db: Session) -> None:
    city = login("city")
    r = city.get("/gov/apps")
    assert r.status_code == 200
    from chaoyun.identity.models import Organisation

    names = [o.name for o in db.execute(select(Organisation).where(Organisation.kind == "enterprise")).scalars()]
    assert not any(n in r.text for n in names)
    assert city.get("/apps/oee").status_code == 403
    assert city.get("/api/v1/apps/oee").status_code == 403
    rows = login("chenghai").get("/api/v1/apps/cluster-oee").json()
    assert all(row["district"] == "chenghai" for row in rows)
    assert all(row["avg_oee"] is None or row["enterprises"] >= 3 for row in rows)
    assert login("factory").get("/gov/apps").status_code == 403


def test_a_report_for_a_day_still_to_come_is_refused(login: Any, db: Session) -> None:
    from datetime import datetime, timedelta

    from chaoyun.apps.models import Report
    from chaoyun.apps.oee.calendar import LOCAL

    tomorrow = datetime.now(LOCAL).date() + timedelta(days=1)
    c = login("factory")
    before = db.query(Report).count()
    r = c.post("/api/v1/apps/reports", json={"kind": "daily", "day": tomorrow.isoformat()})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == "day" and tomorrow.isoformat() in err["message_en"] and "尚未" in err["message_zh"]
    page = c.post("/apps/reports", data={"kind": "weekly", "day": tomorrow.isoformat()})
    assert page.status_code == 422 and tomorrow.isoformat() in page.text
    # The same page: the reason beside the day, the chosen kind and the typed day kept.
    assert 'id="report-form"' in page.text and 'data-field="day"' in page.text
    assert f'name="day" value="{tomorrow.isoformat()}"' in page.text and '<option value="weekly" selected' in page.text
    bad = c.post("/apps/reports", data={"kind": "yearly", "day": "2026-13-01"})
    assert bad.status_code == 422 and 'data-field="kind"' in bad.text and 'data-field="day"' in bad.text
    assert 'name="day" value="2026-13-01"' in bad.text
    assert db.query(Report).count() == before
    # The tariff form: an unknown tariff is refused beside the field on the energy page.
    t = c.post("/apps/energy/tariff", data={"tariff": "no-such"})
    assert t.status_code == 422 and 'id="tariff-form"' in t.text and 'data-field="tariff"' in t.text
