"""Samples for the production context's routes (tests/test_route_security.py)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import get_sessionmaker
from chaoyun.identity.models import Organisation
from chaoyun.production.models import (
    Item,
    Lot,
    OperationReport,
    OpMachine,
    RoutingOp,
    RunSegment,
    WorkOrder,
    WorkOrderOp,
)
from tests.route_samples.devices import _device

SAMPLE_CODE = "RS-积木"
SAMPLE_WO = "RS-WO-1"


def _item(db: Session, owner: Organisation) -> Item:
    item = db.execute(select(Item).where(Item.org_id == owner.id, Item.code == SAMPLE_CODE)).scalar_one_or_none()
    if item is None:
        device = _device(db, owner)
        item = Item(org_id=owner.id, code=SAMPLE_CODE, name="样例积木", unit="套", family="积木", kind="product")
        op = RoutingOp(org_id=owner.id, seq=10, name="注塑", setup_s=600.0)
        op.machines.append(OpMachine(device_id=device.id, cycle_s=30.0))
        item.operations.append(op)
        db.add(item)
        db.commit()
    return item


def _work_order(db: Session, owner: Organisation) -> WorkOrder:
    wo = db.execute(
        select(WorkOrder).where(WorkOrder.org_id == owner.id, WorkOrder.number == SAMPLE_WO)
    ).scalar_one_or_none()
    if wo is None:
        item = _item(db, owner)
        wo = WorkOrder(
            org_id=owner.id,
            number=SAMPLE_WO,
            item_id=item.id,
            quantity=100,
            due_date=date.today() + timedelta(days=30),
            state="running",
        )
        for o in item.operations:
            wo.operations.append(WorkOrderOp(org_id=owner.id, routing_op_id=o.id, seq=o.seq, name=o.name))
        db.add(wo)
        db.commit()
    return wo


def prod_item_id(db: Session, owner: Organisation) -> str:
    return str(_item(db, owner).id)


def routing_op_id(db: Session, owner: Organisation) -> str:
    return str(_item(db, owner).operations[0].id)


def work_order_id(db: Session, owner: Organisation) -> str:
    return str(_work_order(db, owner).id)


def wo_op_id(db: Session, owner: Organisation) -> str:
    return str(_work_order(db, owner).operations[0].id)


def op_report_id(db: Session, owner: Organisation) -> str:
    op = _work_order(db, owner).operations[0]
    r = db.execute(select(OperationReport).where(OperationReport.op_id == op.id)).scalars().first()
    if r is None:
        start = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        r = OperationReport(
            org_id=owner.id,
            op_id=op.id,
            device_id=_device(db, owner).id,
            state="paused",
            ideal_cycle_s=30.0,
            started_at=start,
        )
        r.segments.append(RunSegment(device_id=r.device_id, start=start, end=start + timedelta(hours=1)))
        db.add(r)
        db.commit()
    return str(r.id)


def prod_lot_id(db: Session, owner: Organisation) -> str:
    wo = _work_order(db, owner)
    lot = db.execute(select(Lot).where(Lot.work_order_id == wo.id)).scalars().first()
    if lot is None:
        start = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        lot = Lot(
            org_id=owner.id,
            number=f"RS-LOT-{wo.id}",
            work_order_id=wo.id,
            start=start,
            end=start + timedelta(hours=1),
            quantity=10,
        )
        db.add(lot)
        db.commit()
    return str(lot.id)


PATH_PARAMS = {
    "prod_item_id": prod_item_id,
    "routing_op_id": routing_op_id,
    "work_order_id": work_order_id,
    "wo_op_id": wo_op_id,
    "op_report_id": op_report_id,
    "prod_lot_id": prod_lot_id,
}


def _with_db(fn: Any) -> Any:
    with get_sessionmaker()() as db:
        return fn(db)


def _device_of(o: Organisation) -> int:
    return int(_with_db(lambda db: _device(db, db.get(Organisation, o.id)).id))


def _item_of(o: Organisation) -> int:
    return int(_with_db(lambda db: _item(db, db.get(Organisation, o.id)).id))


def _wo_of(o: Organisation) -> int:
    return int(_with_db(lambda db: _work_order(db, db.get(Organisation, o.id)).id))


def _due() -> str:
    return (date.today() + timedelta(days=20)).isoformat()


BODIES = {
    ("POST", "/api/v1/production/items"): lambda o: {"code": f"RS-{secrets.token_hex(4)}", "name": "样例"},
    ("PATCH", "/api/v1/production/items/{prod_item_id}"): lambda o: {"name": "样例积木"},
    ("PUT", "/api/v1/production/items/{prod_item_id}/routing"): lambda o: {
        "operations": [{"seq": 10, "name": "注塑", "machines": [{"device_id": _device_of(o), "cycle_s": 30}]}]
    },
    ("POST", "/api/v1/production/work-orders"): lambda o: {
        "number": f"RS-{secrets.token_hex(4)}",
        "item_id": _item_of(o),
        "quantity": 10,
        "due_date": _due(),
    },
    ("POST", "/api/v1/production/work-orders/{work_order_id}/transition"): lambda o: {"to": "cancelled"},
    ("POST", "/api/v1/production/operations/{wo_op_id}/start"): lambda o: {"device_id": _device_of(o)},
    ("POST", "/api/v1/production/reports/{op_report_id}/finish"): lambda o: {"good": 1, "reject": 0},
    ("POST", "/api/v1/production/lots"): lambda o: {
        "number": f"RS-{secrets.token_hex(4)}",
        "work_order_id": _wo_of(o),
        "start": "2026-01-05T08:00:00+08:00",
        "end": "2026-01-05T10:00:00+08:00",
        "quantity": 5,
    },
    ("POST", "/production/items"): lambda o: {"code": f"RS-{secrets.token_hex(4)}", "name": "样例"},
    ("POST", "/production/items/{prod_item_id}/operations"): lambda o: {
        "seq": "20",
        "name": "装配",
        f"cycle_{_device_of(o)}": "40",
    },
    ("POST", "/production/work-orders"): lambda o: {
        "number": f"RS-{secrets.token_hex(4)}",
        "item_id": str(_item_of(o)),
        "quantity": "10",
        "due_date": _due(),
    },
    ("POST", "/production/work-orders/{work_order_id}/transition"): lambda o: {"to": "cancelled"},
    ("POST", "/production/work-orders/{work_order_id}/lots"): lambda o: {
        "number": f"RS-{secrets.token_hex(4)}",
        "start": "2026-01-05T08:00",
        "end": "2026-01-05T10:00",
        "quantity": "5",
    },
    ("POST", "/production/operations/{wo_op_id}/start"): lambda o: {"device_id": str(_device_of(o))},
    ("POST", "/production/reports/{op_report_id}/finish"): lambda o: {"good": "1", "reject": "0"},
    ("POST", "/production/import"): lambda o: {"kind": "items"},
}
