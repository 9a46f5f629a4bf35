"""Import of items, routings and work orders from CSV or Excel, row by row: good rows are kept, bad rows are
listed with their line and the reason in both languages.

Columns (a header row is required; Chinese or English names, in any order; the exports write both):

- items: code, name, unit, family, kind (product / material)
- routings: item_code, seq, name, machine (name or device id/uid), cycle_s, setup_s — one row per operation and
  machine. The routing of each item in the file is replaced by the file's operations for it.
- work_orders: number, item_code, quantity, due_date (YYYY-MM-DD), priority, note
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from chaoyun.devices import service as devices
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_, both
from chaoyun.identity.audit import record_by
from chaoyun.identity.permissions import Actor
from chaoyun.production import service
from chaoyun.production.schemas import ItemIn, OpMachineIn, RoutingOpIn, WorkOrderIn

MAX_ROWS = 20_000

COLUMNS: dict[str, list[tuple[str, str]]] = {
    # (key, Chinese header)
    "items": [("code", "编码"), ("name", "名称"), ("unit", "单位"), ("family", "产品族"), ("kind", "类型")],
    "routings": [
        ("item_code", "物料编码"),
        ("seq", "工序号"),
        ("name", "工序名称"),
        ("machine", "设备"),
        ("cycle_s", "节拍秒"),
        ("setup_s", "换型秒"),
    ],
    "work_orders": [
        ("number", "工单号"),
        ("item_code", "物料编码"),
        ("quantity", "数量"),
        ("due_date", "交期"),
        ("priority", "优先级"),
        ("note", "备注"),
    ],
}
# What the audit log calls the objects an import changes (labelled in identity/audit_labels.py).
AUDIT_TYPES = {"items": "production_item", "routings": "production_item", "work_orders": "work_order"}
KIND_ALIASES = {
    "product": "product",
    "产品": "product",
    "成品": "product",
    "material": "material",
    "物料": "material",
    "原料": "material",
}


@dataclass
class RowError:
    line: int
    field: str
    message_zh: str
    message_en: str


@dataclass
class ImportReport:
    kind: str
    accepted: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def refuse(self, line: int, exc: Exception) -> None:
        if isinstance(exc, ValidationError):
            for e in exc.errors():
                name = ".".join(str(p) for p in e.get("loc", ()))
                if e.get("type") == "string_too_long":
                    m = both(N_("Too long: at most %(max_length)s characters."), **(e.get("ctx") or {}))
                elif e.get("type") in ("missing", "string_too_short"):
                    m = both(N_("This field is required."))
                else:
                    m = both(N_("Invalid value."))
                self.rejected.append(RowError(line, name, m["zh"], m["en"]))
            return
        assert isinstance(exc, AppError)
        m = exc.messages()
        self.rejected.append(RowError(line, exc.field or "", m["zh"], m["en"]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "accepted": self.accepted,
            "rejected": [r.__dict__ for r in sorted(self.rejected, key=lambda r: r.line)],
        }


def table_rows(filename: str, content: bytes) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise Invalid(N_("The file is not a readable Excel workbook."), field="file") from exc
        ws = wb.worksheets[0]
        rows = [[_cell(c) for c in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")  # what Excel on Chinese Windows saves as "CSV"
        except UnicodeDecodeError as exc:
            raise Invalid(N_("The file is neither UTF-8 nor GB18030 text."), field="file") from exc
    if "\x00" in text:
        raise Invalid(N_("The file contains NUL characters; save it again as CSV text."), field="file")
    # newline="" lets the csv module read any line ending, a bare carriage return included.
    try:
        return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise Invalid(N_("The file is not readable CSV: %(detail)s"), field="file", detail=str(exc)[:200]) from exc


def _cell(c: Any) -> str:
    if c is None:
        return ""
    if isinstance(c, datetime):
        return c.date().isoformat()
    if isinstance(c, date):
        return c.isoformat()
    if isinstance(c, float) and c.is_integer():
        return str(int(c))
    return str(c).strip()


def _records(kind: str, rows: list[list[str]]) -> list[tuple[int, dict[str, str]]]:
    """(line number, {key: text}) per data row; the header (and an English key row under it) is skipped."""
    cols = COLUMNS[kind]
    names = {k: k for k, _zh in cols} | {zh: k for k, zh in cols}
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c for c in r)]
    if not numbered:
        raise Invalid(N_("The file has no rows."), field="file")
    _line, head = numbered[0]
    keys = [names.get(h.strip().lower(), names.get(h.strip(), "")) for h in head]
    if not any(keys):
        raise Invalid(
            N_("The first row must name the columns: %(columns)s."),
            field="file",
            columns=", ".join(f"{k} / {zh}" for k, zh in cols),
        )
    body = numbered[1:]
    english = {k for k, _zh in cols}
    if body and all(c.strip().lower() in english for c in body[0][1] if c.strip()):
        body = body[1:]  # the English key row under the Chinese header of our own export
    if len(body) > MAX_ROWS:
        raise Invalid(N_("At most %(n)s rows per file."), field="file", n=MAX_ROWS)
    out = []
    for line, r in body:
        out.append((line, {keys[j]: r[j] for j in range(min(len(keys), len(r))) if keys[j]}))
    return out


def _int(text: str, name: str) -> int:
    try:
        f = float(text)
    except ValueError as exc:
        raise Invalid(N_("Enter a whole number."), field=name) from exc
    if not f.is_integer():
        raise Invalid(N_("Enter a whole number."), field=name)
    return int(f)


def _float(text: str, name: str, default: float | None = None) -> float:
    if not text and default is not None:
        return default
    try:
        return float(text)
    except ValueError as exc:
        raise Invalid(N_("Enter a number."), field=name) from exc


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError as exc:
        raise Invalid(N_("Enter a date as YYYY-MM-DD."), field=name) from exc


def import_file(db: Session, actor: Actor, kind: str, filename: str, content: bytes) -> ImportReport:
    if kind not in COLUMNS:
        raise Invalid(N_("Choose what the file holds: items, routings or work orders."), field="kind")
    records = _records(kind, table_rows(filename, content))
    report = ImportReport(kind)
    if kind == "items":
        _items(db, actor, records, report)
    elif kind == "routings":
        _routings(db, actor, records, report)
    else:
        _work_orders(db, actor, records, report)
    record_by(
        db,
        actor,
        "import",
        AUDIT_TYPES[kind],
        "",
        after={"kind": kind, "file": filename[:100], "accepted": report.accepted, "rejected": len(report.rejected)},
    )
    db.commit()
    return report


def _items(db: Session, actor: Actor, records: list[tuple[int, dict[str, str]]], report: ImportReport) -> None:
    for line, rec in records:
        try:
            kind = KIND_ALIASES.get(rec.get("kind", "").strip().lower() or "product", rec.get("kind", ""))
            data = ItemIn(
                code=rec.get("code", ""),
                name=rec.get("name", ""),
                unit=rec.get("unit") or "pcs",
                family=rec.get("family", ""),
                kind=kind,
            )
            with db.begin_nested():
                service._add_item(db, actor, data)
            report.accepted += 1
        except (AppError, ValidationError) as exc:
            report.refuse(line, exc)


def _machines(db: Session, actor: Actor) -> dict[str, list[int]]:
    """Machine references an import may use: id, uid or name (a name shared by two machines is ambiguous)."""
    refs: dict[str, list[int]] = defaultdict(list)
    for d in devices.list_devices(db, actor):
        if d.org_id != actor.org_id:
            continue
        for ref in {str(d.id), d.uid, d.name}:
            refs[ref].append(d.id)
    return refs


def _routings(db: Session, actor: Actor, records: list[tuple[int, dict[str, str]]], report: ImportReport) -> None:
    refs = _machines(db, actor)
    # item → seq → (name, setup_s, machines, lines)
    plan: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    lines_of: dict[str, list[int]] = defaultdict(list)
    for line, rec in records:
        try:
            code = rec.get("item_code", "").strip()
            if not code:
                raise Invalid(N_("This field is required."), field="item_code")
            seq = _int(rec.get("seq", ""), "seq")
            ref = rec.get("machine", "").strip()
            ids = refs.get(ref, [])
            if not ref or not ids:
                raise Invalid(N_("No machine %(ref)s in your enterprise."), field="machine", ref=ref or "—")
            if len(ids) > 1:
                raise Invalid(N_("Two machines are named %(ref)s; use the device id."), field="machine", ref=ref)
            cycle = _float(rec.get("cycle_s", ""), "cycle_s")
            setup = _float(rec.get("setup_s", ""), "setup_s", 0.0)
            name = rec.get("name", "").strip()
            op = plan[code].setdefault(seq, {"name": name, "setup_s": setup, "machines": []})
            op["name"] = op["name"] or name
            op["setup_s"] = max(op["setup_s"], setup)
            op["machines"].append(OpMachineIn(device_id=ids[0], cycle_s=cycle))
            lines_of[code].append(line)
        except (AppError, ValidationError) as exc:
            report.refuse(line, exc)
    for code, ops in plan.items():
        lines = lines_of[code]
        try:
            item = service.item_by_code(db, actor.org_id, code)
            if item is None:
                raise Invalid(N_("No item %(code)s; import or create it first."), field="item_code", code=code)
            data = [
                RoutingOpIn(seq=seq, name=o["name"] or str(seq), setup_s=o["setup_s"], machines=o["machines"])
                for seq, o in sorted(ops.items())
            ]
            with db.begin_nested():
                service._set_routing(db, actor, item, data)
            report.accepted += len(lines)
        except (AppError, ValidationError) as exc:
            db.expire_all()
            for line in lines:
                report.refuse(line, exc)


def _work_orders(db: Session, actor: Actor, records: list[tuple[int, dict[str, str]]], report: ImportReport) -> None:
    for line, rec in records:
        try:
            code = rec.get("item_code", "").strip()
            item = service.item_by_code(db, actor.org_id, code) if code else None
            if item is None:
                raise Invalid(N_("No item %(code)s; import or create it first."), field="item_code", code=code or "—")
            data = WorkOrderIn(
                number=rec.get("number", ""),
                item_id=item.id,
                quantity=_int(rec.get("quantity", ""), "quantity"),
                due_date=_date(rec.get("due_date", ""), "due_date"),
                priority=_int(rec.get("priority") or "5", "priority"),
                note=rec.get("note", ""),
            )
            with db.begin_nested():
                service._add_work_order(db, actor, data)
            report.accepted += 1
        except (AppError, ValidationError) as exc:
            report.refuse(line, exc)
