"""Samples for the maintenance app's routes (tests/test_route_security.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.maintenance.models import MaintOrder, MaintPlan, SparePart
from chaoyun.identity.models import Organisation
from tests.route_samples.devices import _device


def maint_order_id(db: Session, owner: Organisation) -> str:
    o = db.execute(
        select(MaintOrder).where(MaintOrder.org_id == owner.id, MaintOrder.state == "open").order_by(MaintOrder.id)
    ).scalars().first()
    if o is None:
        o = MaintOrder(org_id=owner.id, device_id=_device(db, owner).id, kind="corrective", title="样例维修工单")
        db.add(o)
        db.commit()
    return str(o.id)


def maint_plan_id(db: Session, owner: Organisation) -> str:
    p = db.execute(select(MaintPlan).where(MaintPlan.org_id == owner.id).order_by(MaintPlan.id)).scalars().first()
    if p is None:
        p = MaintPlan(org_id=owner.id, device_id=_device(db, owner).id, name="样例保养", trigger="calendar", every=30)
        db.add(p)
        db.commit()
    return str(p.id)


def spare_part_id(db: Session, owner: Organisation) -> str:
    p = db.execute(select(SparePart).where(SparePart.org_id == owner.id).order_by(SparePart.id)).scalars().first()
    if p is None:
        p = SparePart(org_id=owner.id, code=f"RS-{owner.id}", name="样例备件", stock=100, reorder_point=5)
        db.add(p)
        db.commit()
    return str(p.id)


def _tech(owner: Organisation) -> int:
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity.models import Membership

    with get_sessionmaker()() as db:
        stmt = select(Membership).where(Membership.org_id == owner.id).order_by(Membership.id)
        m = db.execute(stmt).scalars().first()
        return m.user_id if m else 1


def _device_of(owner: Organisation) -> int:
    from chaoyun.db import get_sessionmaker

    with get_sessionmaker()() as db:
        return _device(db, owner).id


def _plan(owner: Organisation) -> dict[str, Any]:
    return {"device_id": _device_of(owner), "name": "路由测试保养", "trigger": "calendar", "every": 30}


def _part(owner: Organisation) -> dict[str, Any]:
    return {"code": f"RT-{owner.id}", "name": "路由测试备件", "stock": 10, "reorder_point": 2}


API = "/api/v1/apps/maintenance"
ORDER = "/orders/{maint_order_id}"
PAGE = "/apps/maintenance"
WINDOW = {"start": "2026-12-30T08:00:00+08:00", "end": "2026-12-30T10:00:00+08:00"}

PATH_PARAMS = {"maint_order_id": maint_order_id, "maint_plan_id": maint_plan_id, "spare_part_id": spare_part_id}

BODIES = {
    ("POST", f"{API}/orders"): lambda o: {"device_id": _device_of(o), "title": "路由测试工单"},
    ("POST", f"{API}{ORDER}/assign"): lambda o: {"technician_id": _tech(o)},
    ("POST", f"{API}{ORDER}/work"): lambda o: {"minutes": 5, "note": "路由测试"},
    ("POST", f"{API}{ORDER}/parts"): lambda o: {"part_id": int(_part_id(o)), "quantity": 1},
    ("POST", f"{API}{ORDER}/finish"): lambda o: {"cause": "wear"},
    ("POST", f"{API}{ORDER}/cancel"): lambda o: {"reason": "路由测试"},
    ("PUT", f"{API}{ORDER}/window"): lambda o: WINDOW,
    ("POST", f"{API}/plans"): _plan,
    ("PUT", f"{API}/plans/{{maint_plan_id}}"): _plan,
    ("POST", f"{API}/parts"): _part,
    ("PUT", f"{API}/parts/{{spare_part_id}}"): _part,
    ("POST", f"{API}/parts/{{spare_part_id}}/stock"): lambda o: {"change": 1},
    ("PUT", f"{API}/settings"): lambda o: {"alarm_severities": ["critical"], "alarm_kinds": ["state"]},
    ("POST", f"{PAGE}/orders"): lambda o: {"device_id": str(_device_of(o)), "title": "路由测试工单"},
    ("POST", f"{PAGE}{ORDER}/assign"): lambda o: {"technician_id": str(_tech(o))},
    ("POST", f"{PAGE}{ORDER}/work"): lambda o: {"minutes": "5"},
    ("POST", f"{PAGE}{ORDER}/parts"): lambda o: {"part_id": _part_id(o), "quantity": "1"},
    ("POST", f"{PAGE}{ORDER}/finish"): lambda o: {"cause": "wear"},
    ("POST", f"{PAGE}{ORDER}/cancel"): lambda o: {"reason": "x"},
    ("POST", f"{PAGE}{ORDER}/window"): lambda o: {"start": "2026-12-30T08:00", "end": "2026-12-30T10:00"},
    ("POST", f"{PAGE}/plans"): lambda o: {**{k: str(v) for k, v in _plan(o).items()}, "active": "1"},
    ("POST", f"{PAGE}/plans/{{maint_plan_id}}"): lambda o: {**{k: str(v) for k, v in _plan(o).items()}, "active": "1"},
    ("POST", f"{PAGE}/parts"): lambda o: {k: str(v) for k, v in _part(o).items()},
    ("POST", f"{PAGE}/parts/{{spare_part_id}}/stock"): lambda o: {"change": "1"},
    ("POST", f"{PAGE}/settings"): lambda o: {"alarm_severities": "critical", "failure_min_stop_min": "10"},
}


def _part_id(owner: Organisation) -> str:
    from chaoyun.db import get_sessionmaker

    with get_sessionmaker()() as db:
        return spare_part_id(db, owner)
