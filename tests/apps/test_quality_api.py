"""Inspection plans and measurements through the API and pages: textbook numbers end to end, bad input
(bilingual errors, nothing valid lost), CSV half bad, Nelson tests raising SPC alarms."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.apps.models import SpcAlarm, Subgroup
from tests.apps.textbook import CIRCUIT_BOARDS, PISTON_RINGS


def _plan(client: Any, **kw: Any) -> Any:
    body = {
        "name": "活塞环内径",
        "characteristic": "内径",
        "unit": "mm",
        "chart_type": "xbar_r",
        "subgroup_size": 5,
    } | kw
    return client.post("/api/v1/apps/quality/plans", json=body)


def _bilingual(r: Any) -> dict[str, str]:
    err = r.json()["error"]
    assert err["message_zh"] and err["message_en"] and err["message_zh"] != err["message_en"]
    return err  # type: ignore[no-any-return]


def test_plan_validation(login: Any) -> None:
    c = login("factory")
    r = _plan(c, lsl=74.05, usl=73.95)
    assert r.status_code == 422 and _bilingual(r)["field"] == "lsl"
    r = _plan(c, subgroup_size=30)
    assert r.status_code == 422 and "25" in _bilingual(r)["message_en"]
    r = _plan(c, chart_type="imr", subgroup_size=5)
    assert r.status_code == 422
    r = _plan(c, tests=[1, 9])
    assert r.status_code == 422
    r = _plan(c, chart_type="zz")
    assert r.status_code == 422
    # The operator (member) cannot create plans.
    assert _plan(login("operator")).status_code == 403


def test_piston_rings_end_to_end(login: Any, db: Session) -> None:
    c = login("factory")
    plan = _plan(c, lsl=73.95, usl=74.05, target=74.0).json()
    r = c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"values": row} for row in PISTON_RINGS]},
    )
    assert r.status_code == 201 and r.json()["accepted"] == 25
    ch = c.get(f"/api/v1/apps/quality/plans/{plan['id']}").json()["chart"]
    assert f"{ch['primary']['center']:.4g}" == "74"  # 74.001 to four significant figures
    assert round(ch["primary"]["center"], 3) == 74.001 and round(ch["secondary"]["center"], 3) == 0.023
    assert f"{ch['primary']['ucl'][0]:.4g}" == "74.01" and f"{ch['primary']['lcl'][0]:.4g}" == "73.99"
    assert round(ch["secondary"]["ucl"][0], 3) == 0.049
    assert ch["capability"]["cp"] > 1.6 and ch["histogram"]["counts"]
    # The page draws it, and the operator can read it too.
    page = login("operator").get(f"/apps/quality/plans/{plan['id']}")
    assert page.status_code == 200 and "chart-primary" in page.text and "Cpk" in page.text
    xl = c.get(f"/apps/quality/plans/{plan['id']}/export.xlsx")
    assert xl.status_code == 200 and xl.content[:2] == b"PK"


def test_bad_measurements_keep_the_good_ones(login: Any, db: Session) -> None:
    c = login("operator")
    plan = _plan(login("factory"), subgroup_size=3).json()
    url = f"/api/v1/apps/quality/plans/{plan['id']}/measurements"
    r = c.post(
        url,
        json={
            "subgroups": [
                {"values": [1.0, 1.1, 0.9]},
                {"values": [1.0, 1.1]},
                {"values": [1.0, "abc", 1.2]},
                {"values": [1.2, 1.0, 0.95]},
            ]
        },
    )
    assert r.status_code == 207
    body = r.json()
    assert body["accepted"] == 2
    assert [e["row"] for e in body["rejected"]] == [2, 3]
    assert "subgroup size is 3" in body["rejected"][0]["message_en"] and "子组" in body["rejected"][0]["message_zh"]
    assert "not a number" in body["rejected"][1]["message_en"]
    r = c.post(url, json={"subgroups": [{"values": ["x", "y", "z"]}]})
    assert r.status_code == 422 and r.json()["accepted"] == 0
    n = db.execute(select(func.count()).select_from(Subgroup).where(Subgroup.plan_id == plan["id"])).scalar_one()
    assert n == 2
    # Form entry with text in a measurement: the same page (422), the error beside the values, all kept.
    page = c.post(f"/apps/quality/plans/{plan['id']}/measure", data={"values": "1.0 abc 1.1", "note": "夜班"})
    assert page.status_code == 422 and 'data-field="values"' in page.text and 'id="measure-form"' in page.text
    assert 'name="values" value="1.0 abc 1.1"' in page.text and 'name="note" value="夜班"' in page.text
    assert (
        db.execute(select(func.count()).select_from(Subgroup).where(Subgroup.plan_id == plan["id"])).scalar_one() == 2
    )


def test_csv_half_bad(login: Any, db: Session) -> None:
    c = login("factory")
    plan = _plan(c, subgroup_size=3).json()
    csv = (
        "ts,x1,x2,x3\n2026-03-01T08:00,1.0,1.1,0.9\n2026-03-01T09:00,1.0,1.2\n2026-03-01T10:00,1.0,一点,1.1\n"
        ",0.9,1.0,1.05\nnot-a-time,1,1,1\n2026-03-01T12:00,1.1,1.0,1.0\n"
    )
    r = c.client.post(
        f"/apps/quality/plans/{plan['id']}/import",
        files={"file": ("m.csv", csv.encode("utf-8"), "text/csv")},
        data={"csrf_token": c.csrf},
    )
    assert r.status_code == 200
    assert "import-rejected" in r.text
    rows = (
        db.execute(select(Subgroup.values).where(Subgroup.plan_id == plan["id"]).order_by(Subgroup.seq)).scalars().all()
    )
    assert rows == [[1.0, 1.1, 0.9], [0.9, 1.0, 1.05], [1.1, 1.0, 1.0]]
    # Excel works the same way.
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["x1", "x2", "x3"])
    ws.append([1.0, 1.0, 1.0])
    ws.append([1.0, None, 1.0])
    buf = io.BytesIO()
    wb.save(buf)
    r = c.client.post(
        f"/apps/quality/plans/{plan['id']}/import",
        files={"file": ("m.xlsx", buf.getvalue(), "application/octet-stream")},
        data={"csrf_token": c.csrf},
    )
    assert r.status_code == 200
    assert (
        db.execute(select(func.count()).select_from(Subgroup).where(Subgroup.plan_id == plan["id"])).scalar_one() == 4
    )


def test_attribute_chart_and_alarms(login: Any, db: Session) -> None:
    c = login("factory")
    plan = _plan(c, name="电路板缺陷", chart_type="c", subgroup_size=1, tests=[1, 2]).json()
    r = c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"defects": v, "sample_size": 1} for v in CIRCUIT_BOARDS]},
    )
    assert r.status_code == 201 and r.json()["new_alarms"] == 2
    ch = c.get(f"/api/v1/apps/quality/plans/{plan['id']}").json()["chart"]
    assert f"{ch['primary']['center']:.4g}" == "19.85" and f"{ch['primary']['lcl'][0]:.4g}" == "6.481"
    alarms = db.execute(select(SpcAlarm).where(SpcAlarm.plan_id == plan["id"]).order_by(SpcAlarm.seq)).scalars().all()
    assert [(a.seq, a.test) for a in alarms] == [(6, 1), (20, 1)]
    # A bad count in a c chart: negative, and a sample of the wrong size.
    r = c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"defects": -1}, {"defects": 3, "sample_size": 2}]},
    )
    assert r.status_code == 422 and len(r.json()["rejected"]) == 2
    # Acknowledge; another enterprise cannot.
    other = login("factory2").post(f"/api/v1/apps/quality/alarms/{alarms[0].id}/ack")
    assert other.status_code == 404
    ok = login("operator").post(f"/api/v1/apps/quality/alarms/{alarms[0].id}/ack")
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"
    page = c.get("/apps/quality")
    assert page.status_code == 200 and "spc-alarms" in page.text


def test_fixed_limits_and_test_switches(login: Any) -> None:
    c = login("factory")
    plan = _plan(c, subgroup_size=5, limits_mode="fixed", baseline_count=25, tests=[1]).json()
    shifted = [[v + 0.012 for v in row] for row in PISTON_RINGS[:10]]
    c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"values": r} for r in PISTON_RINGS + shifted]},
    )
    ch = c.get(f"/api/v1/apps/quality/plans/{plan['id']}").json()["chart"]
    assert ch["baseline"] == 25 and f"{ch['primary']['ucl'][0]:.4g}" == "74.01"
    without = sum(1 for f in ch["primary"]["flags"] if 2 in f)
    assert without == 0
    r = c.request("PATCH", f"/api/v1/apps/quality/plans/{plan['id']}", json={"tests": [1, 2, 5, 6]})
    assert r.status_code == 200 and r.json()["tests"] == [1, 2, 5, 6]
    ch = c.get(f"/api/v1/apps/quality/plans/{plan['id']}").json()["chart"]
    assert sum(1 for f in ch["primary"]["flags"][25:] if 2 in f or 5 in f or 6 in f) > 0


def test_demo_seed_is_idempotent_and_fires_nelson_tests(db: Session) -> None:
    from chaoyun.apps import demo
    from chaoyun.apps.models import InspectionPlan

    demo.seed(db)
    demo.seed(db)
    org_id = db.execute(select(InspectionPlan.org_id).where(InspectionPlan.name == "外壳壁厚")).scalars().all()
    assert len(org_id) == 1
    plans = (
        db.execute(
            select(InspectionPlan).where(
                InspectionPlan.org_id == org_id[0], InspectionPlan.name.in_([p[0]["name"] for p in demo.PLANS])
            )
        )
        .scalars()
        .all()
    )
    assert len(plans) == 4
    n = db.execute(
        select(func.count()).select_from(Subgroup).where(Subgroup.plan_id.in_([p.id for p in plans]))
    ).scalar_one()
    assert n == 60 + 100 + 30 + 25
    wall = next(p for p in plans if p.name == "外壳壁厚")
    tests = {t for (t,) in db.execute(select(SpcAlarm.test).where(SpcAlarm.plan_id == wall.id)).all()}
    assert tests & {2, 5, 6}, tests
    seqs = [s for (s,) in db.execute(select(SpcAlarm.seq).where(SpcAlarm.plan_id == wall.id)).all()]
    assert min(seqs) > 40  # only the shifted part is flagged


def test_measurements_from_telemetry(login: Any, db: Session) -> None:
    from chaoyun.apps.quality import service as quality
    from chaoyun.identity.models import Membership, User
    from tests.apps.helpers import feed, local, new_device

    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    d = new_device(db, m.org_id, "injection_moulding", "SPC遥测机")
    pts = [(local(2026, 3, 10, 8, i), {"barrel_temp": 220 + (i % 3)}) for i in range(10)]
    feed(db, d, pts, local(2026, 3, 10, 9))
    c = login("factory")
    plan = _plan(c, name="料筒温度", chart_type="xbar_r", subgroup_size=3, device_id=d.id, metric="barrel_temp").json()
    r = c.post(f"/apps/quality/plans/{plan['id']}/telemetry")
    assert r.status_code == 200 and "import-accepted" in r.text
    rows = (
        db.execute(select(Subgroup.values).where(Subgroup.plan_id == plan["id"]).order_by(Subgroup.seq)).scalars().all()
    )
    assert rows == [[220.0, 221.0, 222.0]] * 3  # ten values: three full subgroups, the tenth waits
    # Nothing new: nothing added.
    p = quality.plan_or_404(db, plan["id"])
    assert quality.pull_telemetry(db, None, p, until=local(2026, 3, 10, 9)).accepted == 0
    # Another enterprise's device cannot be a plan's source.
    other = _plan(login("factory2"), name="x", device_id=d.id, metric="barrel_temp")
    assert other.status_code == 422


def test_bulk_acknowledge_spc_alarms(login: Any, db: Session) -> None:
    """Several alarms in one POST (selected, or all open ones), one audit entry each; a foreign id refuses
    the whole request and nothing is acknowledged."""
    from chaoyun.identity.models import AuditEntry

    c = login("factory")
    plan = _plan(c, name="批量确认", chart_type="c", subgroup_size=1, tests=[1, 2]).json()
    c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"defects": v, "sample_size": 1} for v in CIRCUIT_BOARDS]},
    )
    ids = [a.id for a in db.execute(select(SpcAlarm).where(SpcAlarm.plan_id == plan["id"])).scalars()]
    assert len(ids) == 2
    foreign = login("factory2").post("/api/v1/apps/quality/alarms/ack", json={"alarm_ids": ids})
    assert foreign.status_code == 404
    db.expire_all()
    assert {a.status for a in db.execute(select(SpcAlarm).where(SpcAlarm.id.in_(ids))).scalars()} == {"active"}
    page = c.get("/apps/quality").text
    assert 'id="bulk-ack"' in page and f'name="alarm_ids" value="{ids[0]}"' in page
    r = login("operator").post("/apps/quality/alarms/ack", data={"alarm_ids": [str(i) for i in ids]})
    assert r.status_code == 303
    db.expire_all()
    assert {a.status for a in db.execute(select(SpcAlarm).where(SpcAlarm.id.in_(ids))).scalars()} == {"acknowledged"}
    audits = (
        db.execute(
            select(AuditEntry).where(
                AuditEntry.object_type == "spc_alarm", AuditEntry.object_id.in_([str(i) for i in ids])
            )
        )
        .scalars()
        .all()
    )
    assert len([a for a in audits if a.action == "acknowledge"]) == 2
    none_left = login("operator").post("/api/v1/apps/quality/alarms/ack", json={"all": True})
    assert none_left.status_code == 200


def _import(c: Any, plan_id: int, name: str, body: bytes) -> Any:
    return c.client.post(
        f"/apps/quality/plans/{plan_id}/import",
        files={"file": (name, body, "text/csv")},
        data={"csrf_token": c.csrf},
    )


def test_import_maps_columns_by_name_in_any_order(login: Any, db: Session) -> None:
    """A title line, then a header naming the columns in any order (extra columns ignored); a bad row is
    reported with its line in the file and the good rows are kept."""
    c = login("factory")
    plan = _plan(c, name="列名导入", subgroup_size=3).json()
    csv = (
        "活塞环内径检验记录,,,,\n"
        "\n"
        "x3,操作员,x1,时间,x2\n"
        "0.9,张三,1.0,2026-03-01T08:00,1.1\n"
        "1.2,李四,1.0,2026-03-01T09:00,一点\n"
        "1.05,王五,0.9,2026-03-01T10:00,1.0\n"
    )
    r = _import(c, plan["id"], "m.csv", csv.encode("utf-8"))
    assert r.status_code == 200, r.text
    assert "import-rejected" in r.text and "<td>5</td>" in r.text  # line 5 of the file
    rows = db.execute(select(Subgroup.values).where(Subgroup.plan_id == plan["id"]).order_by(Subgroup.seq)).scalars()
    assert list(rows) == [[1.0, 1.1, 0.9], [0.9, 1.0, 1.05]]
    # A header that does not name x1..x3 is refused with a clear message, nothing saved.
    bad = _import(c, plan["id"], "m.csv", b"x1,x2,x4\n1,1,1\n")
    assert bad.status_code == 422 and "x1" in bad.text and "x4" in bad.text
    count = db.execute(select(func.count()).select_from(Subgroup).where(Subgroup.plan_id == plan["id"])).scalar_one()
    assert count == 2
    # The same in the API's language for a Chinese header (值1…) and GB18030 text.
    gb = "样本量,值2,值1,值3\n5,1.0,1.1,1.2\n".encode("gb18030")
    ok = _import(c, plan["id"], "m.csv", gb)
    assert ok.status_code == 200
    last = (
        db.execute(select(Subgroup.values).where(Subgroup.plan_id == plan["id"]).order_by(Subgroup.seq.desc()))
        .scalars()
        .first()
    )
    assert last == [1.1, 1.0, 1.2]


def test_fixed_limits_report_each_phase_and_the_plan_precision(login: Any) -> None:
    c = login("factory")
    plan = _plan(
        c, name="分阶段能力", subgroup_size=5, limits_mode="fixed", baseline_count=25, lsl=73.95, usl=74.05
    ).json()
    shifted = [[round(v + 0.01, 3) for v in row] for row in PISTON_RINGS[:10]]
    r = c.post(
        f"/api/v1/apps/quality/plans/{plan['id']}/measurements",
        json={"subgroups": [{"values": row} for row in PISTON_RINGS + shifted]},
    )
    assert r.status_code == 201, r.text
    ch = c.get(f"/api/v1/apps/quality/plans/{plan['id']}").json()["chart"]
    phases = {p["phase"]: p for p in ch["capability_phases"]}
    assert set(phases) == {"I", "II"} and phases["I"]["n"] == 125 and phases["II"]["n"] == 50
    assert round(phases["I"]["cp"], 2) == 1.67
    # The headline is phase II's own figures, not phase I's σ with the mean of both.
    assert ch["capability"]["mean"] == phases["II"]["mean"] and ch["capability"]["n"] == 50
    assert ch["decimals"] == 4
    page = c.get(f"/apps/quality/plans/{plan['id']}").text
    assert "CL 74.0012" in page and 'data-phase="II"' in page


def test_plan_form_refused_keeps_what_was_typed(login: Any, db: Session) -> None:
    """The plan form answers bad input with the same page (422): each error beside its field, all typed."""
    from chaoyun.apps.models import InspectionPlan

    c = login("factory")
    before = db.query(InspectionPlan).count()
    typed = {
        "name": "活塞环直径",
        "characteristic": "外径",
        "chart_type": "xbar_r",
        "subgroup_size": "five",
        "lsl": "74.0x",
        "usl": "74.05",
        "target": "74.0",
        "unit": "mm",
        "limits_mode": "fixed",
        "baseline_count": "25",
        "metric": "diameter",
        "tests": ["1", "2", "5"],
    }
    r = c.post("/apps/quality/plans", data=typed)
    assert r.status_code == 422, r.text
    page = r.text
    assert 'data-field="subgroup_size"' in page and 'data-field="lsl"' in page and 'id="form-error"' in page
    for v in ("活塞环直径", "外径", "five", "74.0x", "74.05", "mm", "25", "diameter"):
        assert f'value="{v}"' in page, v
    assert '<option value="xbar_r" selected' in page and '<option value="fixed" selected' in page
    assert 'value="5" id="t5" checked' in page and 'value="3" id="t3">' in page
    # A service rule (I-MR takes subgroups of one) beside the subgroup size.
    imr = c.post("/apps/quality/plans", data=typed | {"chart_type": "imr", "subgroup_size": "5", "lsl": "73.95"})
    assert imr.status_code == 422 and 'data-field="subgroup_size"' in imr.text and 'value="73.95"' in imr.text
    db.expire_all()
    assert db.query(InspectionPlan).count() == before


def test_plan_settings_form_refused_keeps_what_was_typed(login: Any, db: Session) -> None:
    c = login("factory")
    plan = _plan(c).json()
    url = f"/apps/quality/plans/{plan['id']}"
    r = c.post(url + "/settings", data={"lsl": "9", "usl": "3", "target": "6", "baseline_count": "x", "tests": ["2"]})
    assert r.status_code == 422, r.text
    assert 'data-field="baseline_count"' in r.text and 'value="x"' in r.text and 'id="settings-form"' in r.text
    assert 'value="2" id="pt2" checked' in r.text and 'value="1" id="pt1">' in r.text
    # Lower limit above the upper one: the service's rule, beside LSL, the typed limits kept.
    r = c.post(url + "/settings", data={"lsl": "9", "usl": "3", "target": "6", "tests": ["2"]})
    assert r.status_code == 422 and 'data-field="lsl"' in r.text
    assert 'name="lsl" value="9"' in r.text and 'name="usl" value="3"' in r.text
    stored = c.get(f"/api/v1/apps/quality/plans/{plan['id']}").json()["plan"]
    assert stored["lsl"] is None and stored["tests"] == plan["tests"]


def test_import_form_refused_keeps_the_file_staged(login: Any, db: Session) -> None:
    """A refused import comes back on the plan page (422) with the reason beside the file field and the
    file kept: sending the form again without choosing it anew uses the staged copy."""
    import re

    c = login("factory")
    plan = _plan(c, subgroup_size=3).json()
    url = f"/apps/quality/plans/{plan['id']}/import"
    none = c.client.post(url, data={"csrf_token": c.csrf}, files={"file": ("", b"", "text/csv")})
    assert none.status_code == 422 and 'data-field="file"' in none.text
    csv = "x1,x2\n1.0,1.1\n"
    r = c.client.post(url, files={"file": ("环径.csv", csv.encode("utf-8"), "text/csv")}, data={"csrf_token": c.csrf})
    assert r.status_code == 422, r.text
    assert 'data-field="file"' in r.text and 'id="import-form"' in r.text and 'data-staged="file"' in r.text
    assert "环径.csv" in r.text
    token = re.search(r'name="file__staged" value="([^"]+)"', r.text)
    assert token is not None
    again = c.client.post(url, data={"csrf_token": c.csrf, "file__staged": token.group(1)})
    assert again.status_code == 422 and "x1 to x3" in again.text and "环径.csv" in again.text
    n = db.execute(select(func.count()).select_from(Subgroup).where(Subgroup.plan_id == plan["id"])).scalar_one()
    assert n == 0
