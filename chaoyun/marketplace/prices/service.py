"""Tariffs and prices recorded by providers, and the two plan targets computed from them.

- 网络提速降费 (plan item 2): "到2020年，企业互联网专线和数据流量资费水平总体降低30%以上". For every
  dedicated-line or data-traffic item with a price in force at the end of the baseline year (2017, the year
  before the plan), the reduction is 1 − (price paid at the end of the year asked) / (price paid at the
  baseline); the target's figure is the mean over items, so each tariff weighs the same whatever its size.
- 上云降本 (item 5): "在现有基础上给予30%以上的整体优惠". For every cloud resource or cloud software item, the
  discount is 1 − programme price / list price of the record in force at the end of the year; mean over items.

"Price paid" is the programme price where the provider gives one, else the list price. Records are never
edited: a new price is a new dated record, so the history behind every figure stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.errors import Conflict, Forbidden, Invalid
from chaoyun.i18n import N_
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import OrgKind
from chaoyun.marketplace.prices.models import PriceRecord
from chaoyun.marketplace.prices.permissions import PRICES_READ, PRICES_WRITE

KINDS: dict[str, str] = {
    "dedicated_line": N_("Dedicated internet line"),
    "data_traffic": N_("Data traffic"),
    "cloud_resource": N_("Public cloud resource"),
    "cloud_software": N_("Cloud software"),
}
NETWORK_KINDS = ("dedicated_line", "data_traffic")
CLOUD_KINDS = ("cloud_resource", "cloud_software")
BASELINE_YEAR = 2017  # the plan was issued at the end of 2018 against prices "在现有基础上"; 2017 is the base
MAX_PRICE = Decimal("1000000000")


@dataclass
class PriceIn:
    kind: str
    item: str
    unit: str
    list_price: str
    programme_price: str = ""
    effective_from: str = ""
    note: str = ""


def _decimal(raw: str, name: str, required: bool) -> Decimal | None:
    raw = (raw or "").strip().replace(",", "")
    if not raw:
        if required:
            raise Invalid(N_("Enter the price."), field=name)
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise Invalid(N_("Enter a number, e.g. 1200 or 0.85."), field=name) from exc
    if not value.is_finite() or value < 0:
        raise Invalid(N_("A price cannot be negative."), field=name)
    if value > MAX_PRICE:
        raise Invalid(N_("A price above one billion yuan is not plausible; check the unit."), field=name)
    return value.quantize(Decimal("0.0001"))


def validate(data: PriceIn, today: date | None = None) -> dict[str, Any]:
    """Every problem at once, as ``{field: Invalid}``-style errors raised together by ``record``."""
    today = today or date.today()
    errors: list[Invalid] = []
    out: dict[str, Any] = {}
    if data.kind not in KINDS:
        errors.append(Invalid(N_("Choose what kind of price this is."), field="kind"))
    item = (data.item or "").strip()
    if not item or len(item) > 120:
        errors.append(Invalid(N_("Name the item (at most 120 characters), e.g. “100M 专线”."), field="item"))
    unit = (data.unit or "").strip()
    if not unit or len(unit) > 24:
        errors.append(Invalid(N_("Give the unit (at most 24 characters), e.g. 元/月 or 元/GB."), field="unit"))
    for name, required in (("list_price", True), ("programme_price", False)):
        try:
            out[name] = _decimal(getattr(data, name), name, required)
        except Invalid as exc:
            errors.append(exc)
    lp, pp = out.get("list_price"), out.get("programme_price")
    if lp is not None and lp == 0:
        errors.append(Invalid(N_("The list price must be above zero."), field="list_price"))
    if lp is not None and pp is not None and pp > lp:
        errors.append(Invalid(N_("The programme price cannot be above the list price."), field="programme_price"))
    try:
        eff = date.fromisoformat((data.effective_from or "").strip())
    except ValueError:
        errors.append(Invalid(N_("Enter the date the price took effect (YYYY-MM-DD)."), field="effective_from"))
    else:
        if eff > today:
            errors.append(Invalid(N_("Record a price once it is in force, not before."), field="effective_from"))
        elif eff.year < 2010:
            errors.append(
                Invalid(N_("Dates before 2010 are not needed: the baseline is 2017."), field="effective_from")
            )
        out["effective_from"] = eff
    if len(data.note or "") > 500:
        errors.append(Invalid(N_("Too long: at most %(max_length)s characters."), field="note", max_length=500))
    if errors:
        raise PriceErrors(errors)
    out.update(kind=data.kind, item=item, unit=unit, note=(data.note or "").strip())
    return out


class PriceErrors(Invalid):
    """Several field errors at once (the form shows each beside its field)."""

    def __init__(self, errors: list[Invalid]) -> None:
        first = errors[0]
        super().__init__(first.msgid, field=first.field, **first.params)
        self.errors = errors


def record(db: Session, actor: Actor, data: PriceIn) -> PriceRecord:
    if not actor.has(PRICES_WRITE) or actor.org.kind != OrgKind.PROVIDER.value:
        raise Forbidden(N_("Only a provider's administrator records its prices."))
    clean = validate(data)
    dup = db.execute(
        select(PriceRecord.id).where(
            PriceRecord.org_id == actor.org_id,
            PriceRecord.kind == clean["kind"],
            PriceRecord.item == clean["item"],
            PriceRecord.effective_from == clean["effective_from"],
        )
    ).first()
    if dup is not None:
        raise Conflict(
            N_("A price of this item taking effect on that day is already recorded; record a later date."),
            field="effective_from",
        )
    rec = PriceRecord(org_id=actor.org_id, recorded_by=actor.user.id, recorded_at=utcnow(), **clean)
    db.add(rec)
    db.flush()
    record_by(db, actor, "market.price_record", "price_record", str(rec.id), None, _snapshot(rec))
    db.commit()
    return rec


def _snapshot(r: PriceRecord) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "item": r.item,
        "unit": r.unit,
        "list_price": str(r.list_price),
        "programme_price": None if r.programme_price is None else str(r.programme_price),
        "effective_from": r.effective_from.isoformat(),
    }


def list_records(db: Session, actor: Actor, kind: str | None = None) -> list[tuple[PriceRecord, str]]:
    """(record, provider name): a provider sees its own, the city sees every provider's."""
    if not actor.has(PRICES_READ):
        raise Forbidden(N_("Your role does not allow this."))
    q = select(PriceRecord, Organisation.name).join(Organisation, Organisation.id == PriceRecord.org_id)
    if actor.audience == "provider":
        q = q.where(PriceRecord.org_id == actor.org_id)
    elif actor.audience != "government":
        raise Forbidden(N_("Your role does not allow this."))
    if kind:
        q = q.where(PriceRecord.kind == kind)
    q = q.order_by(Organisation.name, PriceRecord.kind, PriceRecord.item, PriceRecord.effective_from.desc())
    return [(r, str(n)) for r, n in db.execute(q).all()]


# ---------------------------------------------------------------- the two targets


@dataclass
class ItemFigure:
    org_name: str
    kind: str
    item: str
    unit: str
    base: Decimal | None  # price paid at the end of the baseline year (tariffs) / list price (cloud)
    base_date: date | None
    paid: Decimal
    paid_date: date
    change_pct: float | None  # reduction (tariffs) or discount (cloud), percent


@dataclass
class PriceIndex:
    year: int
    value: float | None  # percent; None when no item can be compared yet
    items: list[ItemFigure] = field(default_factory=list)


def _paid(r: PriceRecord) -> Decimal:
    return r.programme_price if r.programme_price is not None else r.list_price


def _in_force(db: Session, kinds: tuple[str, ...], until: date) -> dict[tuple[int, str, str], list[PriceRecord]]:
    rows = db.execute(
        select(PriceRecord)
        .where(PriceRecord.kind.in_(kinds), PriceRecord.effective_from <= until)
        .order_by(PriceRecord.effective_from)
    ).scalars()
    out: dict[tuple[int, str, str], list[PriceRecord]] = {}
    for r in rows:
        out.setdefault((r.org_id, r.kind, r.item), []).append(r)
    return out


def _names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        int(i): str(n)
        for i, n in db.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))
    }


def tariff_reduction(db: Session, year: int) -> PriceIndex:
    until = min(date(year, 12, 31), date.today())
    base_end = date(BASELINE_YEAR, 12, 31)
    series = _in_force(db, NETWORK_KINDS, until)
    names = _names(db, {k[0] for k in series})
    items: list[ItemFigure] = []
    for (org_id, kind, item), recs in series.items():
        base = next((r for r in reversed(recs) if r.effective_from <= base_end), None)
        now = recs[-1]
        pct = None
        if base is not None and _paid(base) > 0:
            pct = float((_paid(base) - _paid(now)) / _paid(base) * 100)
        items.append(
            ItemFigure(
                names.get(org_id, ""),
                kind,
                item,
                now.unit,
                _paid(base) if base else None,
                base.effective_from if base else None,
                _paid(now),
                now.effective_from,
                pct,
            )
        )
    compared = [i.change_pct for i in items if i.change_pct is not None]
    value = round(sum(compared) / len(compared), 1) if compared else None
    return PriceIndex(year, value, sorted(items, key=lambda i: (i.org_name, i.kind, i.item)))


def cloud_discount(db: Session, year: int) -> PriceIndex:
    until = min(date(year, 12, 31), date.today())
    series = _in_force(db, CLOUD_KINDS, until)
    names = _names(db, {k[0] for k in series})
    items: list[ItemFigure] = []
    for (org_id, kind, item), recs in series.items():
        now = recs[-1]
        pct = float((now.list_price - _paid(now)) / now.list_price * 100) if now.list_price > 0 else None
        items.append(
            ItemFigure(
                names.get(org_id, ""),
                kind,
                item,
                now.unit,
                now.list_price,
                now.effective_from,
                _paid(now),
                now.effective_from,
                pct,
            )
        )
    compared = [i.change_pct for i in items if i.change_pct is not None]
    value = round(sum(compared) / len(compared), 1) if compared else None
    return PriceIndex(year, value, sorted(items, key=lambda i: (i.org_name, i.kind, i.item)))
