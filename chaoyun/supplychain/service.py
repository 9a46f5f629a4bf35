"""The rules of orders between enterprises: partnerships, purchase orders and the supplier's answers.

Every change commits together with its audit entry and the other side's notification (``Event``); refusals
raise ``chaoyun.errors`` with bilingual msgids and leave nothing half-saved. State changes that two people (or
two threads) might make at once are conditional UPDATEs (``WHERE state = ...``): exactly one wins, the other
gets a 409 that says what happened.

Shipments, receipts and returns are in ``logistics.py``; progress read from the supplier's work orders in
``progress.py``; lists and aggregates for the pages in ``queries.py``; other contexts call ``public.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.db import utcnow
from chaoyun.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from chaoyun.i18n import N_, Msgid
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import OrgKind, Role
from chaoyun.production import service as production
from chaoyun.production.schemas import WorkOrderIn
from chaoyun.supplychain.labels import LINE_STATES, PARTNER_STATES
from chaoyun.supplychain.models import Event, OrderLine, Partnership, PurchaseOrder

MAX_QUANTITY = 100_000_000
MAX_PRICE = Decimal("9999999999.9999")
MAX_LINES = 500
OPEN_LINE_STATES = ("open", "proposed", "confirmed")
CLOSED_LINE_STATES = ("declined", "cancelled", "delivered")


@dataclass(frozen=True)
class NewLine:
    """A purchase-order line as entered (form, file, API, another context)."""

    item_code: str
    item_name: str
    quantity: int
    unit_price: Decimal
    due_date: date


def _now() -> datetime:
    return utcnow().astimezone(UTC)


def enterprise(db: Session, org_id: int) -> Organisation | None:
    org = db.get(Organisation, org_id)
    if org is None or org.kind != OrgKind.ENTERPRISE or org.status != "active":
        return None
    return org


def _require_enterprise(actor: Actor) -> None:
    if actor.org.kind != OrgKind.ENTERPRISE:
        raise Forbidden(N_("Only enterprises place and answer orders between enterprises."))


def notify(db: Session, org_id: int, kind: str, message: str, order_id: int | None = None, **params: Any) -> None:
    """Tell an organisation of a change (its supply-chain feed; counts on the home page's to-do list)."""
    db.add(Event(org_id=org_id, kind=kind, order_id=order_id, message=message, params=params, created_at=_now()))


# ---------------------------------------------------------------- partnerships


def get_partnership(db: Session, actor: Actor, pid: int) -> Partnership:
    p = db.get(Partnership, pid)
    if p is None or actor.org_id not in (p.buyer_org_id, p.supplier_org_id):
        raise NotFound(N_("No such partnership, or it is not yours to see."))
    return p


def partnership(db: Session, buyer_org_id: int, supplier_org_id: int) -> Partnership | None:
    return db.execute(
        select(Partnership).where(
            Partnership.buyer_org_id == buyer_org_id, Partnership.supplier_org_id == supplier_org_id
        )
    ).scalar_one_or_none()


def is_partner(db: Session, buyer_org_id: int, supplier_org_id: int) -> bool:
    p = partnership(db, buyer_org_id, supplier_org_id)
    return p is not None and p.state == "active"


def invite(db: Session, actor: Actor, supplier_org_id: int, note: str = "") -> Partnership:
    """The lead enterprise invites a supplier; the supplier's admin accepts or declines."""
    _require_enterprise(actor)
    if supplier_org_id == actor.org_id:
        raise Invalid(N_("An enterprise cannot be its own supplier."), field="supplier_org_id")
    supplier = enterprise(db, supplier_org_id)
    if supplier is None:
        raise Invalid(N_("No such enterprise on the platform."), field="supplier_org_id")
    p = partnership(db, actor.org_id, supplier_org_id)
    if p is not None and p.state in ("invited", "active"):
        raise Conflict(
            N_("%(name)s is already %(state)s."),
            field="supplier_org_id",
            name=supplier.name,
            state=Msgid(PARTNER_STATES[p.state]),
        )
    if p is None:
        p = Partnership(buyer_org_id=actor.org_id, supplier_org_id=supplier_org_id)
        db.add(p)
    p.state, p.note, p.invited_by, p.invited_at = "invited", note[:200], actor.user.username, _now()
    p.answered_at = p.ended_at = p.ended_by_org_id = None
    db.flush()
    record_by(db, actor, "invite", "supplychain_partnership", p.id, after={"supplier": supplier_org_id})
    notify(db, supplier_org_id, "invitation", N_("%(buyer)s invites you to be its supplier."), buyer=actor.org.name)
    db.commit()
    return p


def _set_partner_state(db: Session, p: Partnership, frm: tuple[str, ...], to: str, **values: Any) -> None:
    res = db.execute(
        update(Partnership).where(Partnership.id == p.id, Partnership.state.in_(frm)).values(state=to, **values)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        db.refresh(p)
        raise Conflict(N_("This partnership is %(state)s now."), state=Msgid(PARTNER_STATES[p.state]))


def answer_invitation(db: Session, actor: Actor, pid: int, accept: bool) -> Partnership:
    p = get_partnership(db, actor, pid)
    if p.supplier_org_id != actor.org_id:
        raise Forbidden(N_("Only the invited supplier answers an invitation."))
    to = "active" if accept else "declined"
    _set_partner_state(db, p, ("invited",), to, answered_at=_now())
    record_by(
        db, actor, "accept_invitation" if accept else "decline", "supplychain_partnership", p.id, after={"state": to}
    )
    msg = N_("%(supplier)s accepted your invitation.") if accept else N_("%(supplier)s declined your invitation.")
    notify(db, p.buyer_org_id, "invitation", msg, supplier=actor.org.name)
    db.commit()
    db.refresh(p)
    return p


def end_partnership(db: Session, actor: Actor, pid: int) -> Partnership:
    """Either side ends it; orders already placed stay as they are, no new order can be placed."""
    p = get_partnership(db, actor, pid)
    _set_partner_state(db, p, ("invited", "active"), "ended", ended_at=_now(), ended_by_org_id=actor.org_id)
    record_by(db, actor, "end", "supplychain_partnership", p.id, after={"state": "ended"})
    other = p.supplier_org_id if actor.org_id == p.buyer_org_id else p.buyer_org_id
    notify(db, other, "invitation", N_("%(org)s ended the partnership."), org=actor.org.name)
    db.commit()
    db.refresh(p)
    return p


# ---------------------------------------------------------------- orders


def parse_price(value: Any, field: str) -> Decimal:
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Invalid(N_("The price must be a number, such as 12.50."), field=field) from None
    if not d.is_finite() or d < 0 or d > MAX_PRICE:
        raise Invalid(N_("The price must be zero or more (at most 9,999,999,999)."), field=field)
    if d != d.quantize(Decimal("0.0001")):
        raise Invalid(N_("The price has at most four decimals."), field=field)
    return d.quantize(Decimal("0.0001"))


def check_line(line: NewLine, no: int, today: date | None = None, prefix: str = "lines") -> NewLine:
    """One line's checks; the message names the line, the field names where to show it."""
    f = f"{prefix}.{no - 1}."
    code, name = (line.item_code or "").strip(), (line.item_name or "").strip()
    if not code or len(code) > 64:
        raise Invalid(N_("Line %(no)s: give the item code (at most 64 characters)."), field=f + "item_code", no=no)
    if not name or len(name) > 200:
        raise Invalid(N_("Line %(no)s: give the item name (at most 200 characters)."), field=f + "item_name", no=no)
    if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or not 0 < line.quantity <= MAX_QUANTITY:
        raise Invalid(N_("Line %(no)s: the quantity must be a positive whole number."), field=f + "quantity", no=no)
    try:
        price = parse_price(line.unit_price, f + "unit_price")
    except Invalid:
        raise Invalid(
            N_("Line %(no)s: the unit price must be a number of zero or more with at most four decimals."),
            field=f + "unit_price",
            no=no,
        ) from None
    if not isinstance(line.due_date, date):
        raise Invalid(N_("Line %(no)s: give the due date."), field=f + "due_date", no=no)
    if line.due_date < (today or timefmt.local_today()):
        raise Invalid(N_("Line %(no)s: the due date cannot be in the past."), field=f + "due_date", no=no)
    return NewLine(code, name, line.quantity, price, line.due_date)


def add_order(
    db: Session,
    actor: Actor,
    supplier_org_id: int,
    lines: list[NewLine],
    *,
    reference: str = "",
    source: str = "manual",
) -> PurchaseOrder:
    """Checks and adds an order (flushed, not committed: the caller commits, or rolls back a whole file)."""
    _require_enterprise(actor)
    supplier = enterprise(db, supplier_org_id)
    if supplier is None or supplier_org_id == actor.org_id:
        raise Invalid(N_("No such supplier."), field="supplier_org_id")
    # A confirmed capacity booking is itself the agreement between the two; every other order needs a partner.
    if source != "capacity" and not is_partner(db, actor.org_id, supplier_org_id):
        raise Invalid(
            N_("%(name)s is not your supplier; invite it first and wait for its acceptance."),
            field="supplier_org_id",
            name=supplier.name,
        )
    if not lines:
        raise Invalid(N_("An order needs at least one line."), field="lines")
    if len(lines) > MAX_LINES:
        raise Invalid(N_("An order has at most %(n)s lines."), field="lines", n=MAX_LINES)
    reference = (reference or "").strip()
    if len(reference) > 64:
        raise Invalid(N_("The reference has at most 64 characters."), field="reference")
    today = timefmt.local_today()
    checked = [check_line(ln, i + 1, today) for i, ln in enumerate(lines)]
    now = _now()
    po = PurchaseOrder(
        number=f"TMP-{actor.org_id}-{now.timestamp()}-{id(checked)}"[:32],
        buyer_org_id=actor.org_id,
        supplier_org_id=supplier_org_id,
        reference=reference,
        source=source if source in ("manual", "import", "api", "capacity", "demo") else "manual",
        state="open",
        created_by=actor.user.username,
        created_at=now,
    )
    db.add(po)
    db.flush()
    po.number = f"PO{timefmt.to_local(now):%y}{po.id:07d}"
    for i, ln in enumerate(checked, start=1):
        po.lines.append(
            OrderLine(
                buyer_org_id=actor.org_id,
                supplier_org_id=supplier_org_id,
                line_no=i,
                item_code=ln.item_code,
                item_name=ln.item_name,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                due_date=ln.due_date,
                state="open",
                updated_at=now,
            )
        )
    db.flush()
    record_by(
        db,
        actor,
        "create",
        "supplychain_order",
        po.id,
        after={"number": po.number, "supplier": supplier_org_id, "lines": len(checked), "source": po.source},
    )
    notify(
        db,
        supplier_org_id,
        "order",
        N_("New order %(number)s from %(buyer)s (%(n)s lines)."),
        order_id=po.id,
        number=po.number,
        buyer=actor.org.name,
        n=len(checked),
    )
    return po


def create_order(
    db: Session,
    actor: Actor,
    supplier_org_id: int,
    lines: list[NewLine],
    *,
    reference: str = "",
    source: str = "manual",
) -> PurchaseOrder:
    try:
        po = add_order(db, actor, supplier_org_id, lines, reference=reference, source=source)
    except AppError:
        db.rollback()
        raise
    db.commit()
    return po


def get_order(db: Session, actor: Actor, order_id: int) -> PurchaseOrder:
    """The order, for its buyer or its supplier only (anyone else: 404)."""
    po = db.get(PurchaseOrder, order_id)
    if po is None or actor.org_id not in (po.buyer_org_id, po.supplier_org_id):
        raise NotFound(N_("No such order, or it is not yours to see."))
    return po


def get_line(db: Session, actor: Actor, line_id: int) -> OrderLine:
    line = db.get(OrderLine, line_id)
    if line is None or actor.org_id not in (line.buyer_org_id, line.supplier_org_id):
        raise NotFound(N_("No such order line, or it is not yours to see."))
    return line


def _refused(db: Session, line: OrderLine) -> Conflict:
    db.rollback()
    db.refresh(line)
    return Conflict(
        N_("Line %(no)s of order %(number)s is %(state)s now; it was answered already."),
        no=line.line_no,
        number=line.order.number,
        state=Msgid(LINE_STATES[line.state]),
    )


def _claim(db: Session, line: OrderLine, frm: tuple[str, ...], **values: Any) -> None:
    """Conditional state change: only one of two concurrent answers matches the row."""
    res = db.execute(update(OrderLine).where(OrderLine.id == line.id, OrderLine.state.in_(frm)).values(**values))
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise _refused(db, line)


def _supplier_line(db: Session, actor: Actor, line_id: int) -> OrderLine:
    _require_enterprise(actor)
    line = get_line(db, actor, line_id)
    if line.supplier_org_id != actor.org_id:
        raise Forbidden(N_("Only the supplier answers an order line."))
    return line


def _buyer_line(db: Session, actor: Actor, line_id: int) -> OrderLine:
    _require_enterprise(actor)
    line = get_line(db, actor, line_id)
    if line.buyer_org_id != actor.org_id:
        raise Forbidden(N_("Only the buyer may do this."))
    return line


def work_order_number(line: OrderLine) -> str:
    return f"{line.order.number}-{line.line_no}"


def confirm_line(db: Session, actor: Actor, line_id: int, item_id: int | None = None) -> OrderLine:
    """The supplier confirms a line: it becomes a work order of the supplier's production, for the supplier's
    item ``item_id`` (by default its product with the line's item code). A second confirmation is a 409."""
    line = _supplier_line(db, actor, line_id)
    if line.state != "open":
        raise _refused(db, line)
    if item_id is None:
        item = production.item_by_code(db, actor.org_id, line.item_code)
        if item is None:
            raise Invalid(
                N_("Your enterprise has no item with code %(code)s; choose the product that makes this line."),
                field="item_id",
                code=line.item_code,
            )
        item_id = item.id
    number = work_order_number(line)
    now = _now()
    _claim(db, line, ("open",), state="confirmed", confirmed_at=now, updated_at=now, work_order_number=number)
    try:
        record_by(db, actor, "confirm", "supplychain_order_line", line.id, after={"work_order": number})
        notify(
            db,
            line.buyer_org_id,
            "answer",
            N_("%(supplier)s confirmed line %(no)s of order %(number)s."),
            order_id=line.order_id,
            supplier=actor.org.name,
            no=line.line_no,
            number=line.order.number,
        )
        # Commits the claim, the audit entry and the notice together with the work order.
        wo = production.create_work_order(
            db,
            actor,
            WorkOrderIn(
                number=number,
                item_id=item_id,
                quantity=line.quantity,
                due_date=line.due_date,
                note=f"{line.order.number} / {line.item_code}"[:200],
            ),
        )
    except AppError as e:
        db.rollback()
        if e.field == "number":  # the work order exists: a concurrent confirmation made it
            raise _refused(db, line) from None
        if e.field in ("item_id", "due_date", "quantity"):
            e.field = "item_id" if e.field == "item_id" else e.field
        raise
    db.refresh(line)
    line.work_order_id = wo.id
    db.commit()
    return line


def propose_change(
    db: Session, actor: Actor, line_id: int, quantity: int | None, due_date: date | None, note: str = ""
) -> OrderLine:
    """The supplier proposes another quantity and / or due date; the buyer accepts or refuses it."""
    line = _supplier_line(db, actor, line_id)
    if line.state != "open":
        raise _refused(db, line)
    if quantity is not None and not 0 < quantity <= MAX_QUANTITY:
        raise Invalid(N_("The quantity must be a positive whole number."), field="quantity")
    if due_date is not None and due_date < timefmt.local_today():
        raise Invalid(N_("The due date cannot be in the past."), field="due_date")
    if (quantity is None or quantity == line.quantity) and (due_date is None or due_date == line.due_date):
        raise Invalid(N_("Propose another quantity or another due date."), field="quantity")
    _claim(
        db,
        line,
        ("open",),
        state="proposed",
        proposed_quantity=quantity or line.quantity,
        proposed_due_date=due_date or line.due_date,
        answer_note=note[:200],
        updated_at=_now(),
    )
    record_by(
        db,
        actor,
        "propose",
        "supplychain_order_line",
        line.id,
        after={"quantity": quantity, "due_date": due_date.isoformat() if due_date else None},
    )
    notify(
        db,
        line.buyer_org_id,
        "answer",
        N_("%(supplier)s proposes a change to line %(no)s of order %(number)s."),
        order_id=line.order_id,
        supplier=actor.org.name,
        no=line.line_no,
        number=line.order.number,
    )
    db.commit()
    db.refresh(line)
    return line


def decline_line(db: Session, actor: Actor, line_id: int, note: str = "") -> OrderLine:
    line = _supplier_line(db, actor, line_id)
    if line.state != "open":
        raise _refused(db, line)
    _claim(db, line, ("open",), state="declined", answer_note=note[:200], updated_at=_now())
    record_by(db, actor, "decline", "supplychain_order_line", line.id, after={"note": note[:200]})
    notify(
        db,
        line.buyer_org_id,
        "answer",
        N_("%(supplier)s declined line %(no)s of order %(number)s."),
        order_id=line.order_id,
        supplier=actor.org.name,
        no=line.line_no,
        number=line.order.number,
    )
    settle_order(db, line.order)
    db.commit()
    db.refresh(line)
    return line


def answer_proposal(db: Session, actor: Actor, line_id: int, accept: bool) -> OrderLine:
    """The buyer accepts the supplier's change (the line takes the new quantity / date) or refuses it; either way
    the line is open again for the supplier to confirm."""
    line = _buyer_line(db, actor, line_id)
    if line.state != "proposed":
        raise _refused(db, line)
    values: dict[str, Any] = {"state": "open", "proposed_quantity": None, "proposed_due_date": None}
    if accept:
        if line.proposed_due_date is not None and line.proposed_due_date < timefmt.local_today():
            raise Invalid(N_("The proposed due date has passed; refuse it and agree another one."), field="accept")
        values["quantity"] = line.proposed_quantity or line.quantity
        values["due_date"] = line.proposed_due_date or line.due_date
    _claim(db, line, ("proposed",), updated_at=_now(), **values)
    record_by(
        db,
        actor,
        "accept_change" if accept else "refuse",
        "supplychain_order_line",
        line.id,
        after={"quantity": values.get("quantity"), "due_date": str(values.get("due_date") or "")},
    )
    msg = (
        N_("%(buyer)s accepted your change to line %(no)s of order %(number)s; confirm it to start.")
        if accept
        else N_("%(buyer)s refused your change to line %(no)s of order %(number)s.")
    )
    notify(
        db,
        line.supplier_org_id,
        "answer",
        msg,
        order_id=line.order_id,
        buyer=actor.org.name,
        no=line.line_no,
        number=line.order.number,
    )
    db.commit()
    db.refresh(line)
    return line


def cancel_line(db: Session, actor: Actor, line_id: int) -> OrderLine:
    """The buyer withdraws a line the supplier has not confirmed yet."""
    line = _buyer_line(db, actor, line_id)
    if line.state not in ("open", "proposed"):
        raise _refused(db, line)
    _claim(db, line, ("open", "proposed"), state="cancelled", updated_at=_now())
    record_by(db, actor, "cancel", "supplychain_order_line", line.id)
    notify(
        db,
        line.supplier_org_id,
        "order",
        N_("%(buyer)s cancelled line %(no)s of order %(number)s."),
        order_id=line.order_id,
        buyer=actor.org.name,
        no=line.line_no,
        number=line.order.number,
    )
    settle_order(db, line.order)
    db.commit()
    db.refresh(line)
    return line


def settle_order(db: Session, po: PurchaseOrder) -> None:
    """An order closes when every line is delivered, declined or cancelled (cancelled when none was delivered)."""
    db.flush()
    states = list(db.execute(select(OrderLine.state).where(OrderLine.order_id == po.id)).scalars())
    if states and all(s in CLOSED_LINE_STATES for s in states):
        po.state = "closed" if "delivered" in states else "cancelled"
    else:
        po.state = "open"


def is_government(actor: Actor) -> bool:
    return actor.role in (Role.PLATFORM_ADMIN, Role.CITY_OFFICER, Role.DISTRICT_OFFICER, Role.EXPERT, Role.EVALUATOR)
