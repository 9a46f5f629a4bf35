"""OEE from telemetry fed through ingest: a worked example computed by hand, losses, labels, counts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chaoyun.apps.models import PlannedDowntime, ShiftCalendar
from chaoyun.apps.oee import service as oee
from tests.apps.helpers import feed, local, new_device, new_org

DAY = date(2026, 3, 2)


def _worked_example(db: Session) -> tuple[int, int]:
    """One injection moulding machine (ideal cycle 30 s), one shift 08:00–16:00 with a 30-minute break:

    planned time  = 480 − 30 = 450 min
    breakdown     10:00–10:40 = 40 min (fault)
    set-up        14:00–14:20 = 20 min
    small stop    15:00–15:03 =  3 min (idle, shorter than 5 min: a performance loss)
    operating     = 450 − 40 − 20 = 390 min
    availability  = 390 / 450 = 0.866667
    performance   = 700 cycles × 30 s / (390 × 60 s) = 21000 / 23400 = 0.897436
    quality       = (700 − 14) / 700 = 0.98
    OEE           = 0.866667 × 0.897436 × 0.98 = 0.762222  (= 686 × 30 s / 27000 s)
    """
    org = new_org(db, "OEE例题厂")
    db.add(
        ShiftCalendar(
            org_id=org.id,
            shifts=[{"key": "A", "name": "A", "start": "08:00", "end": "16:00", "breaks": [["12:00", "12:30"]]}],
            small_stop_s=300,
        )
    )
    db.commit()
    d = new_device(db, org.id, "injection_moulding", "1号注塑机")
    y, m, dd = DAY.year, DAY.month, DAY.day
    states = [
        (7, 0, "running"),
        (10, 0, "fault"),
        (10, 40, "running"),
        (14, 0, "setup"),
        (14, 20, "running"),
        (15, 0, "idle"),
        (15, 3, "running"),
        (16, 30, "off"),
    ]
    pts = [(local(y, m, dd, h, mi), {"state": s}) for h, mi, s in states]
    pts += [
        (local(y, m, dd, 7, 59), {"cycle_count": 1000, "reject_count": 50}),
        (local(y, m, dd, 14, 25), {"reject_count": 52}),
        (local(y, m, dd, 15, 59), {"cycle_count": 1700, "reject_count": 64}),
    ]
    feed(db, d, pts, local(y, m, dd, 18))
    return org.id, d.id


def test_worked_example(db: Session) -> None:
    org_id, _dev_id = _worked_example(db)
    p = oee.compute_period(db, org_id, DAY, DAY, keep_stops=True)
    o = p.summary()
    assert o.planned_s == 450 * 60
    assert o.availability == pytest.approx(390 / 450)
    assert o.performance == pytest.approx(21000 / 23400)
    assert o.quality == pytest.approx(0.98)
    assert o.oee == pytest.approx(0.762222, abs=1e-6)
    L = o.losses
    assert L["breakdown"] == 40 * 60 and L["setup"] == 20 * 60 and L["small_stops"] == 3 * 60
    assert L["startup_rejects"] == 2 * 30 and L["production_rejects"] == 12 * 30
    # reduced speed: operating × (1 − P) − small stops = 23400 − 21000 − 180 s
    assert L["reduced_speed"] == pytest.approx(23400 - 21000 - 180)
    stops = oee.stops(p)
    assert [(s.state, s.minutes) for s in stops] == [("setup", 20.0), ("fault", 40.0)]
    par = oee.pareto(stops)
    assert par[0] == {"reason": "unlabelled_breakdown", "minutes": 40.0, "cumulative_pct": 66.7}


def test_planned_downtime_and_operator_counts(db: Session) -> None:
    org_id, dev_id = _worked_example(db)
    # The break is already out; declare 10:00–10:40 planned maintenance instead of a breakdown.
    db.add(
        PlannedDowntime(
            org_id=org_id, device_id=None, start=local(2026, 3, 2, 10), end=local(2026, 3, 2, 10, 40), reason="保养"
        )
    )
    db.commit()
    p = oee.compute_period(db, org_id, DAY, DAY)
    o = p.summary()
    assert o.planned_s == 410 * 60 and o.availability == pytest.approx(390 / 410)
    # Operator counts override telemetry for that shift.
    from chaoyun.apps.models import ProductionCount

    db.add(
        ProductionCount(org_id=org_id, device_id=dev_id, day=DAY, shift="A", good=690, rejects=10, startup_rejects=0)
    )
    db.commit()
    o2 = oee.compute_period(db, org_id, DAY, DAY).summary()
    assert o2.good == 690 and o2.rejects == 10 and o2.quality == pytest.approx(690 / 700)


def test_default_two_shifts_and_grouping(db: Session) -> None:
    org = new_org(db, "两班厂")
    a = new_device(db, org.id, "cnc", "CNC-1", "机加车间", "L1")
    b = new_device(db, org.id, "cnc", "CNC-2", "机加车间", "L2")
    y, m, d = 2026, 3, 3
    feed(
        db,
        a,
        [(local(y, m, d, 0), {"state": "running", "cycle_count": 0}), (local(y, m, d + 1, 8), {"cycle_count": 400})],
        local(y, m, d + 1, 9),
    )
    feed(db, b, [(local(y, m, d, 0), {"state": "idle"})], local(y, m, d + 1, 9))
    p = oee.compute_period(db, org.id, date(y, m, d), date(y, m, d))
    # Default calendar: 08–20 with 12–13 off, 20–08 with 00–01 off: 22 planned hours per machine.
    assert p.summary([p.machines[0]]).planned_s == 22 * 3600
    shifts = oee.by_shift(p)
    assert [s["shift"] for s in shifts] == ["A", "B"]
    machines = oee.by_group(p, "machine")
    assert machines[0]["name"] == "CNC-1" and machines[1]["availability"] == 0.0
    assert {r["name"] for r in oee.by_group(p, "line")} == {"机加车间 / L1", "机加车间 / L2"}


def test_operator_labels_feed_the_pareto(login: Any, db: Session) -> None:
    from sqlalchemy import select

    from chaoyun.identity.models import Membership, User
    from chaoyun.identity.permissions import Actor

    user = db.execute(select(User).where(User.username == "operator")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    d = new_device(db, m.org_id, "injection_moulding", "标注测试机")
    y, mo, dd = 2026, 3, 9
    feed(
        db,
        d,
        [
            (local(y, mo, dd, 7), {"state": "running"}),
            (local(y, mo, dd, 9), {"state": "fault"}),
            (local(y, mo, dd, 9, 30), {"state": "running"}),
        ],
        local(y, mo, dd, 21),
    )
    c = login("operator")
    body = {
        "device_id": d.id,
        "start": local(y, mo, dd, 9).isoformat(),
        "end": local(y, mo, dd, 9, 30).isoformat(),
        "reason": "breakdown_electrical",
    }
    r = c.post("/api/v1/apps/oee/stop-labels", json=body)
    assert r.status_code == 201, r.text
    assert c.post("/api/v1/apps/oee/stop-labels", json=body | {"reason": "nonsense"}).status_code == 422
    foreign = login("factory2").post("/api/v1/apps/oee/stop-labels", json=body)
    assert foreign.status_code == 404
    p = oee.compute_period(db, m.org_id, date(y, mo, dd), date(y, mo, dd), device_ids=[d.id], keep_stops=True)
    par = oee.pareto(oee.stops(p))
    assert par[0]["reason"] == "breakdown_electrical" and par[0]["minutes"] == 30.0
    assert Actor(user, m).org_id == m.org_id


def test_calendar_and_count_validation(login: Any) -> None:
    c = login("factory")
    bad = c.request("PUT", "/api/v1/apps/oee/calendar", json={"shifts": [{"key": "A", "start": "8点", "end": "20:00"}]})
    assert bad.status_code == 422 and bad.json()["error"]["message_zh"] != bad.json()["error"]["message_en"]
    dup = c.request(
        "PUT", "/api/v1/apps/oee/calendar", json={"shifts": [{"key": "A", "start": "08:00", "end": "20:00"}] * 2}
    )
    assert dup.status_code == 422
    inverted = c.post(
        "/api/v1/apps/oee/downtime", json={"start": "2026-03-02T10:00:00+08:00", "end": "2026-03-02T09:00:00+08:00"}
    )
    assert inverted.status_code == 422 and inverted.json()["error"]["field"] == "end"
    assert login("operator").request("PUT", "/api/v1/apps/oee/calendar", json={"shifts": []}).status_code == 403


def test_an_ongoing_stop_ends_now_not_at_the_end_of_the_day(db: Session) -> None:
    """A fault that began a minute before "now" lasts one minute: in the stop list, the Pareto, the
    overview (page, API, Excel) and the loss tree; the future is neither a loss nor planned time."""
    org = new_org(db, "停机进行中厂")
    db.add(ShiftCalendar(org_id=org.id, shifts=[{"key": "D", "name": "D", "start": "00:00", "end": "00:00"}]))
    db.commit()
    d = new_device(db, org.id, "injection_moulding", "进行中")
    feed(
        db,
        d,
        [(local(2026, 3, 4, 8), {"state": "running"}), (local(2026, 3, 4, 14), {"state": "fault"})],
        local(2026, 3, 4, 14, 1),
    )
    now = local(2026, 3, 4, 14, 1)
    p = oee.compute_period(db, org.id, date(2026, 3, 4), date(2026, 3, 4), keep_stops=True, now=now)
    st = oee.stops(p, min_s=0)
    assert [(s.state, s.minutes) for s in st] == [("fault", 1.0)]
    assert st[0].end == now and st[0].ongoing
    o = p.summary()
    assert o.losses["breakdown"] == 60
    # 00:00–08:00 had no report: no signal, apart from the losses; 08:00–14:01 observed.
    assert o.no_signal_s == 8 * 3600 and o.planned_s == (14 * 60 + 1) * 60
    assert o.availability == pytest.approx(360 / 361)
    tree = oee.loss_tree(o)
    assert [k for g in tree if g["group"] == "availability" for k, _ in g["items"]] == [
        "breakdown",
        "setup",
        "idle",
        "off",
    ]
    assert tree[-1] == {"group": "no_signal_group", "items": [("no_signal", 8.0)]}


def test_ongoing_stop_on_the_page_and_in_excel(login: Any, db: Session) -> None:
    """Real clock: a fault that began ten minutes ago shows ten minutes in the API, on the page and in the
    Excel (it showed the time up to the end of the shift: hundreds of minutes)."""
    import io
    from datetime import UTC, datetime, timedelta

    from openpyxl import load_workbook
    from sqlalchemy import select

    from chaoyun.identity.models import Membership, User

    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    cal_row = db.get(ShiftCalendar, m.org_id)
    if cal_row is None:
        db.add(ShiftCalendar(org_id=m.org_id, shifts=[{"key": "D", "name": "D", "start": "00:00", "end": "00:00"}]))
    else:
        cal_row.shifts = [{"key": "D", "name": "D", "start": "00:00", "end": "00:00"}]
    db.commit()
    d = new_device(db, m.org_id, "injection_moulding", "实时停机机")
    now = datetime.now(UTC)
    feed(
        db,
        d,
        [(now - timedelta(minutes=30), {"state": "running"}), (now - timedelta(minutes=10), {"state": "fault"})],
        now - timedelta(minutes=1),
    )
    c = login("factory")
    ov = c.get("/api/v1/apps/oee?days=2").json()
    mine = [s for s in ov["stops"] if s["device_id"] == d.id]
    assert len(mine) == 1 and 9.9 <= mine[0]["minutes"] <= 11.0, mine
    page = c.get("/apps/oee?days=2").text
    assert "实时停机机" in page and "badge text-bg-warning" in page
    wb = load_workbook(io.BytesIO(c.get("/apps/oee.xlsx?days=2").content))
    ws = wb.worksheets[-1]
    rows = [r for r in ws.iter_rows(values_only=True) if r[0] == "实时停机机"]
    assert len(rows) == 1 and 9.9 <= float(rows[0][3]) <= 11.0, rows


def test_operator_counts_win_for_their_shift(db: Session) -> None:
    """Counter says 700 made; the operator enters good 100, rejects 0: quality is 100 %, total is 100, and
    both sources are reported."""
    from chaoyun.apps.models import ProductionCount

    org_id, dev_id = _worked_example(db)
    db.add(ProductionCount(org_id=org_id, device_id=dev_id, day=DAY, shift="A", good=100, rejects=0, startup_rejects=0))
    db.commit()
    p = oee.compute_period(db, org_id, DAY, DAY)
    o = p.summary()
    assert o.quality == 1.0 and o.total == 100 and o.good == 100 and o.rejects == 0
    assert o.performance == pytest.approx(100 * 30 / (390 * 60))
    row = oee.oee_row("x", o)
    assert row["counter_total"] == 700 and row["manual_total"] == 100 and row["manual_shifts"] == 1


def test_holidays_weekdays_and_make_up_days_decide_planned_time() -> None:
    from chaoyun.apps.oee import calendar as cal

    day_shift = {"key": "A", "name": "A", "start": "08:00", "end": "17:00", "breaks": [["12:00", "13:00"]]}
    weekdays = cal.validate_shifts([day_shift | {"days": [0, 1, 2, 3, 4]}])
    assert weekdays[0]["days"] == [0, 1, 2, 3, 4]
    # Every day is the old format: no "days" key stored, so old calendars read the same.
    assert "days" not in cal.validate_shifts([day_shift | {"days": list(range(7))}])[0]
    official = cal.Calendar(weekdays)  # the official 2026 list by default
    w = cal.build_windows(official, date(2026, 10, 1), date(2026, 10, 11))
    days = sorted({d for d, _k in w.labels})
    # 1–7 October are holidays, the 10th (a Saturday) is worked with Monday's shifts, the 11th is a Sunday.
    assert days == ["2026-10-08", "2026-10-09", "2026-10-10"]
    assert float((w.ends - w.starts).sum()) / 3_600_000 == 3 * 8
    # The old stored format (a plain list) still reads, with the official holidays; version 2 round-trips.
    old = cal.from_stored([day_shift])
    assert old.shifts == [day_shift] and date(2026, 10, 1) in old.holidays
    v2 = cal.from_stored(cal.Calendar(weekdays, [date(2026, 12, 25)], []).stored())
    assert v2.holidays == {date(2026, 12, 25)} and v2.workdays == set() and v2.shifts == weekdays
    with pytest.raises(Exception, match="weekday"):
        cal.validate_shifts([day_shift | {"days": [7]}])


def test_oee_planned_time_skips_official_holidays(db: Session) -> None:
    org = new_org(db, "国庆厂")
    d = new_device(db, org.id, "cnc", "国庆CNC")
    feed(db, d, [(local(2026, 9, 30, 0), {"state": "running", "cycle_count": 0})], local(2026, 10, 2))
    holiday = oee.compute_period(db, org.id, date(2026, 10, 1), date(2026, 10, 1)).summary()
    assert holiday.planned_s == 0 and holiday.availability is None
    workday = oee.compute_period(db, org.id, date(2026, 9, 30), date(2026, 9, 30)).summary()
    assert workday.planned_s == 22 * 3600


def test_calendar_form_and_week_preview(login: Any, db: Session) -> None:
    from sqlalchemy import select

    from chaoyun.identity.models import Membership, User

    c = login("factory")
    form = {
        "key_0": "A",
        "name_0": "白班",
        "start_0": "08:00",
        "end_0": "17:00",
        "breaks_0": "12:00-13:00",
        "days_0": ["0", "1", "2", "3", "4"],
        "holidays": "2026-10-01\n2026-10-02",
        "workdays": "2026-10-10",
        "small_stop_s": "300",
    }
    r = c.post("/apps/oee/calendar", data=form)
    assert r.status_code == 303, r.text
    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    db.expire_all()
    stored = db.get(ShiftCalendar, m.org_id)
    assert stored is not None and stored.shifts["version"] == 2  # type: ignore[call-overload]
    assert stored.shifts["holidays"] == ["2026-10-01", "2026-10-02"]  # type: ignore[call-overload]
    page = c.get("/apps/oee?preview=2026-10-07").text
    assert 'id="calendar-form"' in page and 'name="breaks_0" value="12:00-13:00"' in page
    # Week of Monday 5 October: Mon–Fri 8 h each, Saturday 10th a make-up day (8 h), Sunday nothing.
    assert '<th class="text-end" id="preview-total">48.00</th>' in page
    # Bad input: a clear message, nothing saved.
    bad = c.post("/apps/oee/calendar", data=form | {"breaks_0": "12:00"})
    assert bad.status_code == 422 and "12:00-13:00" in bad.text
    both = c.post("/apps/oee/calendar", data=form | {"workdays": "2026-10-01"})
    assert both.status_code == 422
    db.expire_all()
    assert db.get(ShiftCalendar, m.org_id).shifts["workdays"] == ["2026-10-10"]  # type: ignore[union-attr]
    # The API takes the same calendar; holidays omitted means the official list.
    shifts = [{"key": "A", "start": "08:00", "end": "20:00"}, {"key": "B", "start": "20:00", "end": "08:00"}]
    api = c.request("PUT", "/api/v1/apps/oee/calendar", json={"shifts": shifts})
    assert api.status_code == 200 and "2026-02-17" in api.json()["holidays"] and api.json()["version"] == 2


def test_calendar_form_refused_keeps_what_was_typed(login: Any, db: Session) -> None:
    """A refused calendar comes back as the same page (422): the error beside its field, every row, box and
    text as typed, nothing saved."""
    c = login("factory")
    before = [x.shifts for x in db.query(ShiftCalendar).all()]
    form = {
        "key_0": "A",
        "name_0": "早班",
        "start_0": "07:30",
        "end_0": "16:30",
        "breaks_0": "12:00",
        "days_0": ["0", "2", "4"],
        "holidays": "2026-10-01",
        "workdays": "2026-10-11",
        "small_stop_s": "240",
    }
    r = c.post("/apps/oee/calendar", data=form)
    assert r.status_code == 422, r.text
    page = r.text
    assert 'data-field="breaks_0"' in page and 'id="form-error"' in page
    assert 'name="breaks_0" value="12:00"' in page and 'name="name_0" value="早班"' in page
    assert 'name="start_0" value="07:30"' in page and 'name="end_0" value="16:30"' in page
    assert 'value="240"' in page and ">2026-10-11</textarea>" in page and ">2026-10-01</textarea>" in page
    # Only the weekdays that were ticked are ticked again.
    assert 'name="days_0" value="2" checked' in page and 'name="days_0" value="1">' in page
    # A service refusal (the same day both off and worked) sits beside the make-up days.
    both = c.post("/apps/oee/calendar", data=form | {"breaks_0": "12:00-13:00", "workdays": "2026-10-01"})
    assert both.status_code == 422 and 'data-field="workdays"' in both.text
    # Pydantic's range check beside the small-stop field.
    big = c.post("/apps/oee/calendar", data=form | {"breaks_0": "", "small_stop_s": "99999"})
    assert big.status_code == 422 and 'data-field="small_stop_s"' in big.text and 'value="99999"' in big.text
    db.expire_all()
    assert [x.shifts for x in db.query(ShiftCalendar).all()] == before


def test_downtime_form_refused_keeps_what_was_typed(login: Any, db: Session) -> None:
    c = login("factory")
    before = db.query(PlannedDowntime).count()
    typed = {"start": "2026-03-02T10:00", "end": "2026-03-02T09:00", "reason": "换模 mould change"}
    r = c.post("/apps/oee/downtime", data=typed)
    assert r.status_code == 422, r.text
    assert 'data-field="end"' in r.text and 'id="downtime-form"' in r.text
    assert 'value="2026-03-02T10:00"' in r.text and 'value="2026-03-02T09:00"' in r.text
    assert 'value="换模 mould change"' in r.text
    bad = c.post("/apps/oee/downtime", data=typed | {"start": "tomorrow"})
    assert bad.status_code == 422 and 'data-field="start"' in bad.text and 'value="tomorrow"' in bad.text
    db.expire_all()
    assert db.query(PlannedDowntime).count() == before
    ok = c.post("/apps/oee/downtime", data=typed | {"end": "2026-03-02T11:00"})
    assert ok.status_code == 303


def test_counts_form_refused_keeps_what_was_typed(login: Any, db: Session) -> None:
    from sqlalchemy import select

    from chaoyun.apps.models import ProductionCount
    from chaoyun.identity.models import Membership, User

    c = login("factory")
    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    dev = new_device(db, m.org_id, "injection_moulding", "注塑机-计数")
    before = db.query(ProductionCount).count()
    typed = {"device_id": str(dev.id), "day": "2026-03-02", "shift": "A", "good": "七百", "rejects": "5"}
    r = c.post("/apps/oee/counts", data=typed | {"startup_rejects": "2"})
    assert r.status_code == 422, r.text
    assert 'data-field="good"' in r.text and 'id="counts-form"' in r.text
    assert 'name="good" value="七百"' in r.text and 'name="rejects" value="5"' in r.text
    assert 'name="day" value="2026-03-02"' in r.text and 'name="startup_rejects" value="2"' in r.text
    # The service's rule beside its field, the other values kept.
    r = c.post("/apps/oee/counts", data=typed | {"good": "700", "startup_rejects": "9"})
    assert r.status_code == 422 and 'data-field="startup_rejects"' in r.text and 'name="good" value="700"' in r.text
    db.expire_all()
    assert db.query(ProductionCount).count() == before
