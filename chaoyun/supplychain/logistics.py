"""Shipments (advance notices with the supplier's production lots), receipts with incoming inspection, returns.

Quantities are guarded by conditional UPDATEs, so two shipments sent at once can never together exceed a line's
open quantity, and a shipment is received once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.apps.quality import service as quality
from chaoyun.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.production import service as production
from chaoyun.supplychain.labels import SHIPMENT_STATES
from chaoyun.supplychain.models import (
    OrderLine,
    PurchaseOrder,
    Receipt,
    ReceiptLot,
    Return,
    Shipment,
    ShipmentLot,
)
from chaoyun.supplychain.service import _now, _require_enterprise, get_order, notify, settle_order

CENT = Decimal("0.01")


@dataclass(frozen=True)
class LotOut:
    """One lot of a shipment as entered: the order line it serves, the supplier's lot number, the quantity."""

    line_id: int
    lot_number: str
    quantity: int


def open_to_ship(line: OrderLine) -> int:
    """Ordered minus shipped, plus what came back (returned goods are owed again)."""
    return max(0, line.quantity - line.shipped_qty + line.returned_qty)


def get_shipment(db: Session, actor: Actor, shipment_id: int) -> Shipment:
    s = db.get(Shipment, shipment_id)
    if s is None or actor.org_id not in (s.buyer_org_id, s.supplier_org_id):
        raise NotFound(N_("No such shipment, or it is not yours to see."))
    return s


def _number(prefix: str, obj_id: int) -> str:
    return f"{prefix}{timefmt.local_today():%y}{obj_id:07d}"


def create_shipment(
    db: Session, actor: Actor, order_id: int, lots: list[LotOut], expected_at: date | None = None, note: str = ""
) -> Shipment:
    """The supplier announces a shipment of its production lots against confirmed lines of one order."""
    _require_enterprise(actor)
    po = get_order(db, actor, order_id)
    if po.supplier_org_id != actor.org_id:
        raise Forbidden(N_("Only the supplier ships an order."))
    if not lots:
        raise Invalid(N_("A shipment needs at least one lot."), field="lots")
    if expected_at is not None and expected_at < timefmt.local_today():
        raise Invalid(N_("The expected arrival cannot be in the past."), field="expected_at")
    lines = {ln.id: ln for ln in po.lines}
    per_line: dict[int, int] = defaultdict(int)
    per_lot: dict[int, int] = defaultdict(int)
    resolved: list[tuple[OrderLine, Any, LotOut]] = []
    for i, lo in enumerate(lots):
        f = f"lots.{i}."
        line = lines.get(lo.line_id)
        if line is None:
            raise Invalid(N_("Lot %(no)s: no such line in this order."), field=f + "line_id", no=i + 1)
        if line.state != "confirmed":
            raise Invalid(
                N_("Lot %(no)s: line %(line)s is not confirmed; only confirmed lines are shipped."),
                field=f + "line_id",
                no=i + 1,
                line=line.line_no,
            )
        if isinstance(lo.quantity, bool) or not isinstance(lo.quantity, int) or lo.quantity <= 0:
            raise Invalid(
                N_("Lot %(no)s: the quantity must be a positive whole number."), field=f + "quantity", no=i + 1
            )
        number = (lo.lot_number or "").strip()
        lot = production.lot_by_number(db, actor.org_id, number) if number else None
        if lot is None:
            raise Invalid(
                N_("Lot %(no)s: no lot %(lot)s in your production records."),
                field=f + "lot_number",
                no=i + 1,
                lot=number or "—",
            )
        if line.work_order_id is not None and lot.work_order_id != line.work_order_id:
            raise Invalid(
                N_("Lot %(no)s: lot %(lot)s was not made by this line's work order %(wo)s."),
                field=f + "lot_number",
                no=i + 1,
                lot=number,
                wo=line.work_order_number,
            )
        per_line[line.id] += lo.quantity
        per_lot[lot.id] += lo.quantity
        resolved.append((line, lot, lo))
    for line_id, qty in per_line.items():
        line = lines[line_id]
        if qty > open_to_ship(line):
            raise Invalid(
                N_("Line %(line)s: %(qty)s is more than the %(open)s still open to ship."),
                field="lots",
                line=line.line_no,
                qty=qty,
                open=open_to_ship(line),
            )
    for lot_id, qty in per_lot.items():
        lot = next(lt for _l, lt, _o in resolved if lt.id == lot_id)
        already = db.execute(
            select(func.coalesce(func.sum(ShipmentLot.quantity), 0))
            .join(Shipment, Shipment.id == ShipmentLot.shipment_id)
            .where(ShipmentLot.lot_id == lot_id, Shipment.state != "cancelled")
        ).scalar_one()
        if qty + int(already) > lot.quantity:
            raise Invalid(
                N_("Lot %(lot)s holds %(left)s pieces not shipped yet; %(qty)s is more."),
                field="lots",
                lot=lot.number,
                left=lot.quantity - int(already),
                qty=qty,
            )
    try:
        for line_id, qty in per_line.items():
            res = db.execute(
                update(OrderLine)
                .where(
                    OrderLine.id == line_id,
                    OrderLine.state == "confirmed",
                    OrderLine.shipped_qty + qty <= OrderLine.quantity + OrderLine.returned_qty,
                )
                .values(shipped_qty=OrderLine.shipped_qty + qty)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(
                    N_("Line %(line)s was shipped meanwhile; %(qty)s is more than is still open."),
                    field="lots",
                    line=lines[line_id].line_no,
                    qty=qty,
                )
        s = Shipment(
            number=f"TMP-{po.id}-{_now().timestamp()}"[:32],
            order_id=po.id,
            buyer_org_id=po.buyer_org_id,
            supplier_org_id=po.supplier_org_id,
            state="sent",
            shipped_at=_now(),
            expected_at=expected_at,
            note=note[:200],
            created_by=actor.user.username,
        )
        db.add(s)
        db.flush()
        s.number = _number("SN", s.id)
        for line, lot, lo in resolved:
            s.lots.append(
                ShipmentLot(
                    line_id=line.id,
                    buyer_org_id=po.buyer_org_id,
                    lot_id=lot.id,
                    lot_number=lot.number,
                    item_code=line.item_code,
                    quantity=lo.quantity,
                )
            )
        db.flush()
        record_by(
            db,
            actor,
            "ship",
            "supplychain_shipment",
            s.id,
            after={
                "number": s.number,
                "order": po.number,
                "lots": [[lt.number, lo.quantity] for _, lt, lo in resolved],
            },
        )
        notify(
            db,
            po.buyer_org_id,
            "shipment",
            N_("%(supplier)s shipped %(shipment)s for order %(number)s."),
            order_id=po.id,
            supplier=actor.org.name,
            shipment=s.number,
            number=po.number,
        )
        db.commit()
    except AppError:
        db.rollback()
        raise
    for line in lines.values():
        db.refresh(line)
    return s


def cancel_shipment(db: Session, actor: Actor, shipment_id: int) -> Shipment:
    """The supplier withdraws a notice not received yet; its quantities are open to ship again."""
    s = get_shipment(db, actor, shipment_id)
    if s.supplier_org_id != actor.org_id:
        raise Forbidden(N_("Only the supplier cancels its shipment."))
    res = db.execute(update(Shipment).where(Shipment.id == s.id, Shipment.state == "sent").values(state="cancelled"))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        db.refresh(s)
        raise Conflict(
            N_("Shipment %(number)s is %(state)s now."), number=s.number, state=Msgid(SHIPMENT_STATES[s.state])
        )
    for sl in s.lots:
        db.execute(
            update(OrderLine).where(OrderLine.id == sl.line_id).values(shipped_qty=OrderLine.shipped_qty - sl.quantity)
        )
    record_by(db, actor, "cancel", "supplychain_shipment", s.id)
    notify(
        db,
        s.buyer_org_id,
        "shipment",
        N_("%(supplier)s cancelled shipment %(shipment)s."),
        order_id=s.order_id,
        supplier=actor.org.name,
        shipment=s.number,
    )
    db.commit()
    db.refresh(s)
    return s


def spc_of_lot(db: Session, supplier_org_id: int, lot_number: str) -> list[dict[str, Any]] | None:
    """The supplier's SPC over the lot's production window (apps.quality), None when nothing was measured."""
    lot = production.lot_by_number(db, supplier_org_id, lot_number)
    if lot is None:
        return None
    found = quality.lot_results(db, supplier_org_id, lot.device_id, lot.start, lot.end)
    return found or None


def receive(
    db: Session,
    actor: Actor,
    shipment_id: int,
    results: dict[int, str],
    notes: dict[int, str] | None = None,
    note: str = "",
) -> Receipt:
    """The buyer receives a shipment: each lot passes or fails incoming inspection. A passed lot's quantity is
    accepted at the line's price; a failed lot goes back to the supplier (a return) and is owed again."""
    _require_enterprise(actor)
    s = get_shipment(db, actor, shipment_id)
    if s.buyer_org_id != actor.org_id:
        raise Forbidden(N_("Only the buyer receives a shipment."))
    notes = notes or {}
    for sl in s.lots:
        r = results.get(sl.id)
        if r not in ("pass", "fail"):
            raise Invalid(
                N_("Lot %(lot)s: choose pass or fail."),
                field=f"result_{sl.id}",
                lot=sl.lot_number,
            )
    extra = set(results) - {sl.id for sl in s.lots}
    if extra:
        raise Invalid(N_("A result names a lot that is not in this shipment."), field="results")
    res = db.execute(update(Shipment).where(Shipment.id == s.id, Shipment.state == "sent").values(state="received"))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        db.refresh(s)
        raise Conflict(
            N_("Shipment %(number)s is %(state)s now."), number=s.number, state=Msgid(SHIPMENT_STATES[s.state])
        )
    try:
        now = _now()
        rc = Receipt(
            number=f"TMP-{s.id}",
            shipment_id=s.id,
            buyer_org_id=s.buyer_org_id,
            supplier_org_id=s.supplier_org_id,
            received_at=now,
            received_by=actor.user.username,
            note=note[:200],
        )
        db.add(rc)
        db.flush()
        rc.number = _number("GR", rc.id)
        touched: dict[int, OrderLine] = {}
        failed = 0
        for sl in s.lots:
            line = sl.line
            ok = results[sl.id] == "pass"
            accepted = sl.quantity if ok else 0
            rl = ReceiptLot(
                shipment_lot_id=sl.id,
                line_id=line.id,
                result=results[sl.id],
                received_qty=sl.quantity,
                accepted_qty=accepted,
                unit_price=line.unit_price,
                value=(Decimal(accepted) * line.unit_price).quantize(CENT),
                spc=spc_of_lot(db, s.supplier_org_id, sl.lot_number),
                note=(notes.get(sl.id) or "")[:200],
            )
            rc.lots.append(rl)
            sl.inspection = results[sl.id]
            db.flush()
            if ok:
                line.accepted_qty += accepted
            else:
                failed += 1
                line.returned_qty += sl.quantity
                ret = Return(
                    number=f"TMP-{rl.id}",
                    receipt_lot_id=rl.id,
                    line_id=line.id,
                    buyer_org_id=s.buyer_org_id,
                    supplier_org_id=s.supplier_org_id,
                    quantity=sl.quantity,
                    value=Decimal("0.00"),
                    reason=(notes.get(sl.id) or "")[:200] or "incoming inspection failed",
                    created_by=actor.user.username,
                    created_at=now,
                )
                db.add(ret)
                db.flush()
                ret.number = _number("RT", ret.id)
            touched[line.id] = line
        for line in touched.values():
            if line.state == "confirmed" and line.accepted_qty >= line.quantity:
                line.state = "delivered"
        po = db.get(PurchaseOrder, s.order_id)
        assert po is not None
        settle_order(db, po)
        record_by(
            db,
            actor,
            "receive",
            "supplychain_shipment",
            s.id,
            after={"receipt": rc.number, "results": {sl.lot_number: results[sl.id] for sl in s.lots}},
        )
        msg = (
            N_("%(buyer)s received %(shipment)s; %(failed)s lots failed inspection and come back.")
            if failed
            else N_("%(buyer)s received %(shipment)s; every lot passed inspection.")
        )
        notify(
            db,
            s.supplier_org_id,
            "receipt",
            msg,
            order_id=s.order_id,
            buyer=actor.org.name,
            shipment=s.number,
            failed=failed,
        )
        db.commit()
    except AppError:
        db.rollback()
        raise
    return rc


def get_receipt(db: Session, actor: Actor, receipt_id: int) -> Receipt:
    r = db.get(Receipt, receipt_id)
    if r is None or actor.org_id not in (r.buyer_org_id, r.supplier_org_id):
        raise NotFound(N_("No such receipt, or it is not yours to see."))
    return r


def returned_of(db: Session, receipt_lot_id: int) -> int:
    return int(
        db.execute(
            select(func.coalesce(func.sum(Return.quantity), 0)).where(Return.receipt_lot_id == receipt_lot_id)
        ).scalar_one()
    )


def create_return(db: Session, actor: Actor, receipt_lot_id: int, quantity: int, reason: str) -> Return:
    """The buyer sends accepted goods back (found bad later): the value comes off the receipt, the quantity is
    owed again."""
    _require_enterprise(actor)
    rl = db.get(ReceiptLot, receipt_lot_id)
    if rl is None or actor.org_id not in (rl.receipt.buyer_org_id, rl.receipt.supplier_org_id):
        raise NotFound(N_("No such received lot, or it is not yours to see."))
    if rl.receipt.buyer_org_id != actor.org_id:
        raise Forbidden(N_("Only the buyer returns goods."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(N_("Give the reason for the return."), field="reason")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise Invalid(N_("The quantity must be a positive whole number."), field="quantity")
    left = rl.accepted_qty - returned_of(db, rl.id)
    if quantity > left:
        raise Invalid(N_("At most %(left)s pieces of this lot can be returned."), field="quantity", left=max(left, 0))
    res = db.execute(
        update(OrderLine)
        .where(OrderLine.id == rl.line_id, OrderLine.accepted_qty >= quantity)
        .values(accepted_qty=OrderLine.accepted_qty - quantity, returned_qty=OrderLine.returned_qty + quantity)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise Conflict(N_("This lot was returned meanwhile; look again."), field="quantity")
    ret = Return(
        number=f"TMP-R{rl.id}-{_now().timestamp()}"[:32],
        receipt_lot_id=rl.id,
        line_id=rl.line_id,
        buyer_org_id=rl.receipt.buyer_org_id,
        supplier_org_id=rl.receipt.supplier_org_id,
        quantity=quantity,
        value=(Decimal(quantity) * rl.unit_price).quantize(CENT),
        reason=reason[:200],
        created_by=actor.user.username,
        created_at=_now(),
    )
    db.add(ret)
    db.flush()
    ret.number = _number("RT", ret.id)
    line = db.get(OrderLine, rl.line_id)
    assert line is not None
    db.refresh(line)
    if line.state == "delivered" and line.accepted_qty < line.quantity:
        line.state = "confirmed"
        settle_order(db, line.order)
    record_by(db, actor, "return", "supplychain_return", ret.id, after={"quantity": quantity, "reason": reason[:200]})
    notify(
        db,
        ret.supplier_org_id,
        "return",
        N_("%(buyer)s returns %(qty)s of %(item)s (%(reason)s)."),
        order_id=line.order_id,
        buyer=actor.org.name,
        qty=quantity,
        item=line.item_code,
        reason=reason[:100],
    )
    db.commit()
    return ret
