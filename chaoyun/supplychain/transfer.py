"""CSV / Excel import and export of purchase orders.

Import (the lead enterprise's orders; a header row in Chinese or English, any column order; our own export's
layout is read back): supplier (an active supplier's name or unified social credit code), reference, item_code,
item_name, quantity, unit_price, due_date (YYYY-MM-DD). Rows with the same supplier and reference become one
order. The file is all or nothing: one bad row and nothing is saved; every bad row is listed with its line and
the reason in both languages.

Export: the lines of one side (orders placed or orders received) with state, progress and deliveries.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from chaoyun import timefmt
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_, translate
from chaoyun.identity.audit import record_by
from chaoyun.identity.models import Organisation
from chaoyun.identity.permissions import Actor
from chaoyun.production.imports import table_rows
from chaoyun.supplychain import queries, service
from chaoyun.supplychain.labels import LINE_STATES, RISKS
from chaoyun.supplychain.models import OrderLine, PurchaseOrder
from chaoyun.supplychain.service import NewLine
from chaoyun.web import excel

MAX_ROWS = 5000
COLUMNS: list[tuple[str, str]] = [
    ("supplier", "供应商"),
    ("reference", "参考号"),
    ("item_code", "物料编码"),
    ("item_name", "物料名称"),
    ("quantity", "数量"),
    ("unit_price", "单价"),
    ("due_date", "交期"),
]


@dataclass
class RowError:
    line: int
    field: str
    message_zh: str
    message_en: str


@dataclass
class ImportReport:
    orders: list[str] = field(default_factory=list)
    lines: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def refuse(self, line: int, exc: AppError) -> None:
        m = exc.messages()
        self.rejected.append(RowError(line, exc.field or "", m["zh"], m["en"]))

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "lines": self.lines, "rejected": [r.__dict__ for r in self.rejected]}


def _records(rows: list[list[str]]) -> list[tuple[int, dict[str, str]]]:
    names = {k: k for k, _zh in COLUMNS} | {zh: k for k, zh in COLUMNS}
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c for c in r)]
    if not numbered:
        raise Invalid(N_("The file has no rows."), field="file")
    keys = [names.get(h.strip().lower(), names.get(h.strip(), "")) for h in numbered[0][1]]
    missing = [k for k, _zh in COLUMNS if k != "reference" and k not in keys]
    if missing:
        raise Invalid(
            N_("The first row must name the columns: %(columns)s."),
            field="file",
            columns=", ".join(f"{k} / {zh}" for k, zh in COLUMNS),
        )
    body = numbered[1:]
    english = {k for k, _zh in COLUMNS}
    if body and all(c.strip().lower() in english for c in body[0][1] if c.strip()):
        body = body[1:]
    if not body:
        raise Invalid(N_("The file has no rows."), field="file")
    if len(body) > MAX_ROWS:
        raise Invalid(N_("At most %(n)s rows per file."), field="file", n=MAX_ROWS)
    return [(line, {keys[j]: r[j] for j in range(min(len(keys), len(r))) if keys[j]}) for line, r in body]


def _int(text: str, name: str) -> int:
    try:
        f = float(text.replace(",", ""))
    except ValueError:
        raise Invalid(N_("Enter a whole number."), field=name) from None
    if not f.is_integer():
        raise Invalid(N_("Enter a whole number."), field=name)
    return int(f)


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise Invalid(N_("Enter a date as YYYY-MM-DD."), field=name) from None


def import_orders(db: Session, actor: Actor, filename: str, content: bytes) -> ImportReport:
    """All or nothing: returns the report; when it lists rejected rows nothing was saved."""
    records = _records(table_rows(filename, content))
    suppliers = {}
    for oid, name in queries.counterparts(db, actor, "buyer"):
        suppliers[name] = oid
        suppliers[str(oid)] = oid
    codes = dict(
        db.execute(
            select(Organisation.credit_code, Organisation.id).where(Organisation.id.in_(set(suppliers.values())))
        ).all()
    )
    report = ImportReport()
    groups: dict[tuple[int, str], list[tuple[int, NewLine]]] = defaultdict(list)
    today = timefmt.local_today()
    for line, rec in records:
        try:
            who = rec.get("supplier", "").strip()
            sid = suppliers.get(who) or codes.get(who.upper())
            if sid is None:
                raise Invalid(N_("%(name)s is not one of your active suppliers."), field="supplier", name=who or "—")
            qty = _int(rec.get("quantity", ""), "quantity")
            due = _date(rec.get("due_date", ""), "due_date")
            nl = NewLine(rec.get("item_code", ""), rec.get("item_name", ""), qty, rec.get("unit_price", ""), due)  # type: ignore[arg-type]
            try:
                nl = service.check_line(nl, 1, today, prefix="row")
            except Invalid as e:
                e.field = (e.field or "").split(".")[-1]
                raise Invalid(_ROW_MSG.get(e.field or "", e.msgid), field=e.field) from None
            groups[(sid, rec.get("reference", "").strip()[:64])].append((line, nl))
        except AppError as exc:
            report.refuse(line, exc)
    if report.rejected:
        return report
    try:
        for (sid, ref), rows in groups.items():
            po = service.add_order(db, actor, sid, [nl for _l, nl in rows], reference=ref, source="import")
            report.orders.append(po.number)
            report.lines += len(rows)
        record_by(db, actor, "import", "supplychain_order", "", after={"orders": report.orders, "file": filename[:100]})
        db.commit()
    except AppError as exc:
        db.rollback()
        report.orders, report.lines = [], 0
        report.refuse(0, exc)
    return report


# A row's message without the "Line n:" of the form (the report names the file line).
_ROW_MSG = {
    "item_code": N_("Give the item code (at most 64 characters)."),
    "item_name": N_("Give the item name (at most 200 characters)."),
    "quantity": N_("The quantity must be a positive whole number."),
    "due_date": N_("The due date cannot be in the past."),
    "unit_price": N_("The unit price must be a number of zero or more with at most four decimals."),
}


# ---------------------------------------------------------------- export

EXPORT_COLUMNS: list[tuple[str, str]] = [
    ("order", "订单号"),
    ("line", "行号"),
    ("counterpart", "对方企业"),
    ("reference", "参考号"),
    ("item_code", "物料编码"),
    ("item_name", "物料名称"),
    ("quantity", "数量"),
    ("unit_price", "单价"),
    ("due_date", "交期"),
    ("state", "状态"),
    ("made", "已生产"),
    ("forecast", "预计完工"),
    ("risk", "风险"),
    ("shipped", "已发货"),
    ("accepted", "已验收"),
    ("returned", "已退货"),
]
MAX_EXPORT = 100_000


def export_rows(db: Session, actor: Actor, side: str, lang: str = "zh_CN") -> list[list[Any]]:
    other = aliased(Organisation)
    mine = OrderLine.buyer_org_id if side == "buyer" else OrderLine.supplier_org_id
    theirs = OrderLine.supplier_org_id if side == "buyer" else OrderLine.buyer_org_id
    rows = db.execute(
        select(OrderLine, PurchaseOrder.number, PurchaseOrder.reference, other.name)
        .join(PurchaseOrder, PurchaseOrder.id == OrderLine.order_id)
        .join(other, other.id == theirs)
        .where(mine == actor.org_id)
        .order_by(OrderLine.order_id.desc(), OrderLine.line_no)
        .limit(MAX_EXPORT)
    ).all()
    out = []
    for ln, number, ref, name in rows:
        out.append(
            [
                number,
                ln.line_no,
                name,
                ref,
                ln.item_code,
                ln.item_name,
                ln.quantity,
                Decimal(ln.unit_price),
                ln.due_date,
                translate(LINE_STATES[ln.state], lang),
                ln.made_qty,
                timefmt.format_dt(ln.forecast_finish),
                translate(RISKS.get(ln.risk, ""), lang) if ln.state == "confirmed" else "",
                ln.shipped_qty,
                ln.accepted_qty,
                ln.returned_qty,
            ]
        )
    return out


def export_csv(db: Session, actor: Actor, side: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([zh for _k, zh in EXPORT_COLUMNS])
    w.writerow([k for k, _zh in EXPORT_COLUMNS])
    for r in export_rows(db, actor, side):
        w.writerow(excel.csv_row(r))
    return buf.getvalue().encode("utf-8-sig")


def export_xlsx(db: Session, actor: Actor, side: str) -> bytes:
    wb = excel.workbook()
    excel.write_table(
        excel.sheet(wb, "采购订单" if side == "buyer" else "客户订单"),
        [zh for _k, zh in EXPORT_COLUMNS],
        export_rows(db, actor, side),
        header_rows=[[k for k, _zh in EXPORT_COLUMNS]],
    )
    return excel.to_bytes(wb)
