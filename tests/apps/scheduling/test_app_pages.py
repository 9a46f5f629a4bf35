"""The scheduling app's pages and JSON API through HTTP: the planner form (errors beside fields, values kept), a solve
started from the page with live progress, publishing (refusals as messages, never 500), pins, the what-if page,
the Excel export, repair proposals, the operator's "next up" page; who may see what; app use recorded."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.models import AppUse
from chaoyun.apps.scheduling import jobs
from chaoyun.apps.scheduling.models import SchedulePlan, SolveJob
from chaoyun.db import utcnow
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.production import service as production
from chaoyun.production.schemas import WorkOrderIn
from tests.apps.helpers import new_device
from tests.production.helpers import Firm, product

FORM = {"horizon_days": "7", "objective": "makespan", "mix": "0.5", "time_limit_s": "5", "name": "页面测试"}


def _firm(db: Session, username: str = "factory") -> Firm:
    u, m = db.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id).where(User.username == username)
    ).one()
    org = db.get(Organisation, m.org_id)
    assert org is not None
    member = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org.id, Membership.role == "enterprise_member")
    ).first()
    admin = Actor(u, m)
    return Firm(
        org,
        admin,
        Actor(*member) if member else admin,
        new_device(db, org.id, "injection_moulding", "排产1号注塑机"),
        new_device(db, org.id, "injection_moulding", "排产2号注塑机"),
        new_device(db, org.id, "packaging", "排产包装机"),
    )


def _orders(db: Session, f: Firm, prefix: str, n: int = 3) -> list[int]:
    item = product(db, f, code=f"{prefix}-ITEM")
    ids = []
    for i in range(n):
        wo = production.create_work_order(
            db,
            f.admin,
            WorkOrderIn(
                number=f"{prefix}-{i}",
                item_id=item.id,
                quantity=80 + 20 * i,
                due_date=timefmt.local_today() + timedelta(days=2 + i),
            ),
        )
        production.transition(db, f.admin, wo.id, "released")
        ids.append(wo.id)
    return ids


def _plan_id(r: Any) -> int:
    m = re.search(r"/apps/scheduling/plans/(\d+)", r.headers["location"])
    assert m, r.headers.get("location")
    return int(m.group(1))


def test_planner_solve_publish_and_operator_pages(db: Session, login: Any) -> None:
    f = _firm(db)
    ids = _orders(db, f, "PG")
    client = login("factory")
    page = client.get("/apps/scheduling")
    assert page.status_code == 200
    assert "智能排产" in page.text and "开始排产" in page.text and "PG-0" in page.text

    # Bad values come back beside their fields, with what was typed and ticked kept.
    bad_values = {**FORM, "horizon_days": "0", "time_limit_s": "9999", "wo": [str(ids[1])]}
    bad = client.post("/apps/scheduling/solve", bad_values)
    assert bad.status_code == 422
    assert 'data-field="horizon_days"' in bad.text and 'data-field="time_limit_s"' in bad.text
    assert 'value="9999"' in bad.text and "页面测试" in bad.text
    assert f'value="{ids[1]}" id="wo-{ids[1]}" checked' in bad.text
    assert f'value="{ids[0]}" id="wo-{ids[0]}" checked' not in bad.text
    none = client.post("/apps/scheduling/solve", FORM)
    assert none.status_code == 422 and 'data-field="wo"' in none.text

    r = client.post("/apps/scheduling/solve", {**FORM, "wo": [str(i) for i in ids]})
    assert r.status_code == 303
    plan_id = _plan_id(r)
    shown = client.get(f"/apps/scheduling/plans/{plan_id}")
    assert shown.status_code == 200 and 'id="progress"' in shown.text
    assert jobs.wait(plan_id, 60)
    fragment = client.get(f"/apps/scheduling/plans/{plan_id}/progress")
    assert fragment.status_code == 200 and fragment.headers.get("HX-Refresh") == "true"
    shown = client.get(f"/apps/scheduling/plans/{plan_id}")
    assert 'id="gantt"' in shown.text and 'data-bars="6"' in shown.text and "发布" in shown.text

    # Publish; publishing it again is a message on the page, not an error page.
    r = client.post(f"/apps/scheduling/plans/{plan_id}/publish")
    assert r.status_code == 303
    again = client.post(f"/apps/scheduling/plans/{plan_id}/publish")
    assert again.status_code == 409 and "已是当前发布的方案" in again.text and 'id="gantt"' in again.text

    # The operator's page: what to run next on the packing machine, from the published plan.
    op = login("operator")
    machines = op.get("/apps/scheduling/machines")
    assert machines.status_code == 200 and "排产包装机" in machines.text
    nxt = op.get(f"/apps/scheduling/machines/{f.pack.id}")
    assert nxt.status_code == 200 and "PG-0" in nxt.text and "包装" in nxt.text
    api = op.get(f"/api/v1/apps/scheduling/machines/{f.pack.id}/next").json()
    assert api["plan_id"] == plan_id and len(api["next"]) == 3
    # Members see plans but do not plan.
    assert op.post(f"/apps/scheduling/plans/{plan_id}/publish").status_code == 403

    # Excel export with a Chinese header.
    x = client.get(f"/apps/scheduling/plans/{plan_id}/export.xlsx")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["工单", "产品", "工序", "设备"] and ws.max_row == 7

    # A pin with a bad time comes back beside its field; a good one is listed and re-solved around.
    pins = f"/apps/scheduling/plans/{plan_id}/pins"
    r = client.post(pins, {"op_key": "PG-2/10", "device_id": str(f.im2.id), "start": "明天"})
    assert r.status_code == 422 and 'data-field="start"' in r.text and 'value="明天"' in r.text
    plan = db.get(SchedulePlan, plan_id)
    assert plan is not None
    start = timefmt.to_local(plan.origin + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(pins, {"op_key": "PG-2/10", "device_id": str(f.im2.id), "start": start})
    assert r.status_code == 303
    page = client.get(f"/apps/scheduling/plans/{plan_id}")
    assert 'data-pin="PG-2/10"' in page.text and "围绕钉住重新排产" in page.text
    r = client.post(f"/apps/scheduling/plans/{plan_id}/resolve")
    assert r.status_code == 303
    second = _plan_id(r)
    assert second != plan_id and jobs.wait(second, 60)
    cmp = client.get(f"/apps/scheduling/compare?a={plan_id}&b={second}")
    assert cmp.status_code == 200 and "PG-2/10" in cmp.text and "各设备负荷" in cmp.text

    # In English too.
    client.post("/lang", {"lang": "en", "back": "/apps/scheduling"})
    en = client.get(f"/apps/scheduling/plans/{plan_id}")
    assert en.status_code == 200 and "Schedule plan" in en.text and "Published" in en.text and "By order" in en.text
    assert "Next up per machine" in client.get("/apps/scheduling").text
    client.post("/lang", {"lang": "zh_CN", "back": "/apps/scheduling"})

    # App use is recorded under the scheduling app (the programme's evidence of real use).
    uses = db.execute(select(AppUse.app).where(AppUse.org_id == f.org.id)).scalars().all()
    assert "scheduling" in uses


def test_api_solve_conflicts_bad_input_and_proposals(db: Session, login: Any) -> None:
    f = _firm(db, "factory2")
    ids = _orders(db, f, "API", n=2)
    client = login("factory2")
    r = client.post("/api/v1/apps/scheduling/solve", json={"work_order_ids": ids, "time_limit_s": 3})
    assert r.status_code == 202, r.text
    plan_id = r.json()["id"]
    busy = client.post("/api/v1/apps/scheduling/solve", json={"time_limit_s": 3})
    assert busy.status_code in (202, 409)  # 202 only when the first had already finished
    if busy.status_code == 409:
        assert busy.json()["error"]["message_zh"]
    assert jobs.wait(plan_id, 60)
    if busy.status_code == 202:
        jobs.wait(busy.json()["id"], 60)
    body = client.get(f"/api/v1/apps/scheduling/plans/{plan_id}").json()
    assert body["status"] == "solved" and len(body["operations"]) == 4 and body["job"]["state"] == "done"
    assert client.get(f"/api/v1/apps/scheduling/plans/{plan_id}/gantt").json()["bars"]
    assert client.post(f"/api/v1/apps/scheduling/plans/{plan_id}/publish").status_code == 200
    assert client.post(f"/api/v1/apps/scheduling/plans/{plan_id}/publish").status_code == 409
    assert client.post(f"/api/v1/apps/scheduling/plans/{plan_id}/cancel").status_code == 409

    # A repair proposal (as a breakdown makes it): accepted once, the second time a 409.
    p = jobs.propose_repair(db, f.org.id, f.im1.id, down_from=utcnow())
    p = p or jobs.propose_repair(db, f.org.id, f.im2.id, down_from=utcnow())
    assert p is not None
    page = client.get(f"/apps/scheduling/proposals/{p.id}")
    assert page.status_code == 200 and "接受并发布" in page.text
    assert client.get("/apps/scheduling").text.count(f"/apps/scheduling/proposals/{p.id}") == 1
    r = client.post(f"/apps/scheduling/proposals/{p.id}/accept")
    assert r.status_code == 303
    twice = client.post(f"/apps/scheduling/proposals/{p.id}/accept")
    assert twice.status_code == 409 and "只能决定一次" in twice.text
    assert client.post(f"/api/v1/apps/scheduling/proposals/{p.id}/reject").status_code == 409

    # Bad input: the order and the operation are named.
    production.transition(db, f.admin, ids[0], "planned")
    production.transition(db, f.admin, ids[1], "planned")
    empty = client.post("/api/v1/apps/scheduling/solve", json={"time_limit_s": 3})
    assert empty.status_code == 422 and empty.json()["problems"][0]["code"] == "no_jobs"
    bad = client.post("/api/v1/apps/scheduling/solve", json={"horizon_days": 0})
    assert bad.status_code == 422 and bad.json()["error"]["fields"]


def test_officers_and_other_enterprises_see_nothing(db: Session, login: Any) -> None:
    f = _firm(db)
    _orders(db, f, "SEC", n=1)
    owner = login("factory")
    r = owner.post("/api/v1/apps/scheduling/solve", json={"time_limit_s": 3})
    assert r.status_code == 202
    plan_id = r.json()["id"]
    jobs.wait(plan_id, 60)
    for who in ("city", "chenghai", "evaluator"):
        c = login(who)
        assert c.get("/apps/scheduling").status_code == 403
        assert c.get(f"/apps/scheduling/plans/{plan_id}").status_code == 403
        assert c.get("/api/v1/apps/scheduling/plans").status_code == 403
    other = login("factory2")
    assert other.get(f"/apps/scheduling/plans/{plan_id}").status_code == 404
    assert other.get(f"/api/v1/apps/scheduling/plans/{plan_id}").status_code == 404
    assert plan_id not in [p["id"] for p in other.get("/api/v1/apps/scheduling/plans").json()]
    assert login(None).get("/api/v1/apps/scheduling/plans").status_code == 401


def test_a_second_solve_is_refused_on_the_page_with_the_form_kept(db: Session, login: Any) -> None:
    f = _firm(db)
    ids = _orders(db, f, "BUSY", n=1)
    running = SchedulePlan(org_id=f.org.id, status="solving", origin=utcnow(), horizon_s=86400, problem={})
    db.add(running)
    db.flush()
    job = SolveJob(org_id=f.org.id, plan_id=running.id, state="running", heartbeat_at=utcnow())  # another worker's
    db.add(job)
    db.commit()
    client = login("factory")
    r = client.post("/apps/scheduling/solve", {**FORM, "time_limit_s": "7", "wo": [str(ids[0])]})
    assert r.status_code == 409
    assert "已有一个排产计算在运行" in r.text and f"方案 {running.id}" in r.text
    assert 'value="7"' in r.text and "页面测试" in r.text
    job.state = "done"
    db.commit()
