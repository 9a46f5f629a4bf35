"""Files of the trace context: the recall list (Excel), QR label sheets (PDF), the bulk-registration sheet
(reading an uploaded workbook, and an empty one to fill in)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from chaoyun.errors import Invalid
from chaoyun.i18n import N_, translate
from chaoyun.timefmt import format_dt
from chaoyun.trace.graph import Graph, recall_rows
from chaoyun.trace.labels import NODE_KINDS
from chaoyun.trace.models import Identifier, Template
from chaoyun.web import excel

FONT = "STSong-Light"
MAX_IMPORT_ROWS = 100_000


def _zh(msgid: str) -> str:
    return translate(msgid, "zh_CN")


def recall_xlsx(g: Graph) -> bytes:
    """Every shipment and delivery the recall reaches: kind, reference, lot, item, customer, quantity, time."""
    heads = [N_("Kind"), N_("Shipment or delivery"), N_("Lot"), N_("Item code"), N_("Customer")]
    heads += [N_("Quantity"), N_("Date")]
    rows = [
        [
            _zh(NODE_KINDS[r["kind"]]),
            r["reference"],
            r["lot"],
            r["item"],
            r["customer"],
            r["quantity"],
            format_dt(r["at"]) if r["at"] else "",
        ]
        for r in recall_rows(g)
    ]
    lots = [
        [_zh(NODE_KINDS[n.kind]), n.key, "", n.label, g.org_names.get(n.org_id, ""), n.quantity, ""]
        for n in g.nodes
        if n.kind == "lot"
    ]
    wb = excel.workbook()
    excel.write_table(excel.sheet(wb, _zh(N_("Recall list"))), [_zh(h) for h in heads], rows, header_rows=[heads])
    excel.write_table(excel.sheet(wb, _zh(N_("Lots reached"))), [_zh(h) for h in heads], lots, header_rows=[heads])
    return excel.to_bytes(wb)


def labels_pdf(idents: list[Identifier], base_url: str) -> bytes:
    """A sheet of QR labels (3 × 8 on A4): the code points to the scan page; handle and product under it."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(_zh(N_("Identifier labels")))
    cols, rows = 3, 8
    w, h = A4
    cw, ch = (w - 20 * mm) / cols, (h - 20 * mm) / rows
    qr_size = ch - 12 * mm
    for n, ident in enumerate(idents):
        if n and n % (cols * rows) == 0:
            c.showPage()
        k = n % (cols * rows)
        x = 10 * mm + (k % cols) * cw
        y = h - 10 * mm - (k // cols + 1) * ch
        widget = QrCodeWidget(f"{base_url}/t/{ident.handle}", barLevel="M")
        bx0, by0, bx1, by1 = widget.getBounds()
        d = Drawing(qr_size, qr_size, transform=[qr_size / (bx1 - bx0), 0, 0, qr_size / (by1 - by0), 0, 0])
        d.add(widget)
        renderPDF.draw(d, c, x + 2 * mm, y + 10 * mm)
        c.setFont(FONT, 7)
        c.drawString(x + 2 * mm, y + 6 * mm, ident.handle)
        attrs = ident.attrs or {}
        title = str(attrs.get("product_name") or attrs.get("product_code") or attrs.get("model_code") or "")[:24]
        lot = str(attrs.get("lot_number") or attrs.get("serial") or "")[:24]
        c.setFont(FONT, 8)
        c.drawString(x + qr_size + 4 * mm, y + ch - 16 * mm, title)
        c.drawString(x + qr_size + 4 * mm, y + ch - 21 * mm, lot)
        c.rect(x, y + 2 * mm, cw - 2 * mm, ch - 2 * mm, stroke=1, fill=0)
    if not idents:
        c.setFont(FONT, 12)
        c.drawString(20 * mm, h - 30 * mm, _zh(N_("No identifiers selected.")))
    c.showPage()
    c.save()
    return buf.getvalue()


# ---------------------------------------------------------------- bulk registration sheets


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_rows(filename: str, content: bytes) -> list[list[str]]:
    if not content:
        raise Invalid(N_("Choose a file."), field="file")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise Invalid(N_("The file is not a readable Excel workbook."), field="file") from exc
        rows = [[_cell(c) for c in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
        return rows
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise Invalid(N_("The file is neither UTF-8 nor GB18030 text."), field="file") from exc
    if "\x00" in text:
        raise Invalid(N_("The file contains NUL characters; save it again as CSV text."), field="file")
    try:
        return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise Invalid(N_("The file is not readable CSV."), field="file") from exc


def import_rows(table: list[list[str]]) -> tuple[list[dict[str, Any]], int]:
    """Rows of the bulk sheet: a header row (``template``, ``suffix``, then item codes), then one identifier per
    row. Returns (rows for ``register_many``, the sheet row number of the first). Empty rows are skipped by
    keeping their number out of the report."""
    if not table or not any(table[0]):
        raise Invalid(N_("The first row must name the columns: template, suffix, then item codes."), field="file")
    head = [h.strip() for h in table[0]]
    if "template" not in head:
        raise Invalid(N_("The first row must name the columns: template, suffix, then item codes."), field="file")
    if len(table) - 1 > MAX_IMPORT_ROWS:
        raise Invalid(N_("At most %(n)s rows in one file."), field="file", n=MAX_IMPORT_ROWS)
    rows = []
    for n, r in enumerate(table[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        cells = dict(zip(head, r, strict=False))
        attrs = {k: v for k, v in cells.items() if k and k not in ("template", "suffix") and v != ""}
        rows.append(
            {"row": n, "template": cells.get("template", ""), "suffix": cells.get("suffix") or None, "attrs": attrs}
        )
    return rows, 2


def import_sheet(t: Template) -> bytes:
    """An empty bulk sheet for one template: its columns, with the item names under the codes."""
    heads = ["template", "suffix", *[i.code for i in t.items]]
    wb = excel.workbook()
    excel.write_table(excel.sheet(wb, t.code[:31]), heads, [])
    guide = [[i.code, i.name_zh, i.name_en, i.dtype, " / ".join(i.options), i.required, i.public] for i in t.items]
    cols = [N_("Code"), N_("Name"), N_("Name"), N_("Data type"), N_("Choices"), N_("Required"), N_("Public")]
    excel.write_table(excel.sheet(wb, _zh(N_("Template items"))), [_zh(c) for c in cols], guide)
    return excel.to_bytes(wb)
