"""Excel exports of the maintenance app (chaoyun.web.excel): orders, and reliability per machine and profile.
Headers in the page's language with the API's English keys under them; codes (kind, state, cause) translated."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chaoyun.apps.maintenance import labels
from chaoyun.apps.maintenance.models import MaintOrder
from chaoyun.apps.maintenance.reliability import Reliability
from chaoyun.apps.maintenance.service import machines, technicians
from chaoyun.i18n import N_, gettext
from chaoyun.web import excel

ORDER_COLUMNS = [
    ("number", N_("Number")),
    ("machine", N_("Machine")),
    ("kind", N_("Kind")),
    ("title", N_("Title")),
    ("state", N_("State")),
    ("technician", N_("Technician")),
    ("due", N_("Due")),
    ("window_start", N_("Window start")),
    ("window_end", N_("Window end")),
    ("started_at", N_("Started")),
    ("done_at", N_("Done at")),
    ("minutes_spent", N_("Minutes spent")),
    ("cause", N_("Cause")),
    ("source_ref", N_("Source")),
    ("created_at", N_("Created")),
]
REL_COLUMNS = [
    ("name", N_("Name")),
    ("machines", N_("Machines")),
    ("operating_h", N_("Operating hours")),
    ("failures", N_("Failures")),
    ("failure_stops", N_("Breakdown stops")),
    ("failure_orders", N_("Corrective orders without a stop")),
    ("repair_h", N_("Repair hours")),
    ("mtbf_h", N_("MTBF (h)")),
    ("mttr_h", N_("MTTR (h)")),
    ("availability", N_("Availability")),
]


def _code(table: dict[str, str], value: str | None) -> str:
    return gettext(table[value]) if value in table else (value or "")


def orders_xlsx(db: Session, org_id: int, orders: list[MaintOrder]) -> bytes:
    names = {d.id: d.name for d in machines(db, org_id)}
    people = {u.id: u.display_name or u.username for u in technicians(db, org_id)}
    rows: list[list[Any]] = []
    for o in orders:
        rows.append(
            [
                o.number,
                names.get(o.device_id, ""),
                _code(labels.KINDS, o.kind),
                o.title,
                _code(labels.STATES, o.state),
                people.get(o.technician_id or 0, ""),
                o.due,
                o.window_start,
                o.window_end,
                o.started_at,
                o.done_at,
                o.minutes_spent,
                _code(labels.CAUSES, o.cause),
                o.source_ref,
                o.created_at,
            ]
        )
    wb = excel.workbook()
    excel.write_table(
        excel.sheet(wb, gettext(N_("Maintenance orders"))),
        [gettext(h) for _k, h in ORDER_COLUMNS],
        rows,
        header_rows=[[k for k, _h in ORDER_COLUMNS]],
    )
    return excel.to_bytes(wb)


def reliability_xlsx(r: Reliability) -> bytes:
    wb = excel.workbook()
    for title, rows in ((N_("Reliability by machine"), r.machines), (N_("Reliability by profile"), r.profiles)):
        data = [[row.out()[k] for k, _h in REL_COLUMNS] for row in rows]
        excel.write_table(
            excel.sheet(wb, gettext(title)),
            [gettext(h) for _k, h in REL_COLUMNS],
            data,
            header_rows=[[k for k, _h in REL_COLUMNS]],
        )
    fails = [
        [row.name, f.start, None if f.repair_s is None else round(f.repair_s / 3600, 3), f.source, f.order_id]
        for row in r.machines
        for f in row.failure_list
    ]
    excel.write_table(
        excel.sheet(wb, gettext(N_("Failures"))),
        [gettext(N_("Machine")), gettext(N_("Start")), gettext(N_("Repair hours")), gettext(N_("Source")),
         gettext(N_("Order"))],
        fails,
        header_rows=[["machine", "start", "repair_h", "source", "order_id"]],
    )
    return excel.to_bytes(wb)
