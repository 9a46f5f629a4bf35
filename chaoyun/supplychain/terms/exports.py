"""Excel export of the aging report (chaoyun.web.excel): one row per counterpart, the buckets as numbers (yuan),
a total row; headers in the page's language with the API's keys under them."""

from __future__ import annotations

from typing import Any

from chaoyun.i18n import N_, gettext
from chaoyun.supplychain.terms import labels
from chaoyun.supplychain.terms.service import BUCKETS, Aging
from chaoyun.web import excel


def aging_xlsx(a: Aging) -> bytes:
    keys = ["counterpart", "invoices", *BUCKETS, "open", "overdue"]
    heads = [
        gettext(N_("Counterpart")),
        gettext(N_("Open invoices")),
        *[gettext(labels.BUCKETS[b]) for b in BUCKETS],
        gettext(N_("Open amount (yuan)")),
        gettext(N_("Overdue amount (yuan)")),
    ]
    rows: list[list[Any]] = [[r.name, r.invoices, *[r.buckets[b] for b in BUCKETS], r.open, r.overdue] for r in a.rows]
    rows.append(
        [gettext(N_("Total")), sum(r.invoices for r in a.rows), *[a.totals[b] for b in BUCKETS], a.open, a.overdue]
    )
    wb = excel.workbook()
    title = gettext(N_("Aging")) + " · " + gettext(labels.SIDES[a.side])
    excel.write_table(excel.sheet(wb, title[:31]), heads, rows, header_rows=[keys])
    return excel.to_bytes(wb)
