"""One way to write Excel exports, used by every export in the platform.

- User text is text: a value that Excel would read as a formula or a DDE call (starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return) is stored as a string cell with the quote prefix, so Excel
  shows it literally and does not evaluate it even when the cell is edited.
- Numbers stay numbers (``Decimal`` becomes ``float``), dates and datetimes are real date cells in the
  deployment's zone (``CHAOYUN_TIMEZONE``; stored times are UTC, Excel has no zones, so the cell holds the
  naive local time with a date format).
- Every table gets column widths fitted to its content (capped), a frozen header row and an auto-filter.

Usage::

    wb = excel.workbook()
    excel.write_table(excel.sheet(wb, "Enterprises"), headers, rows)
    return excel.to_bytes(wb)

``workbook(write_only=True)`` streams large tables (the rows are still walked twice: widths first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from chaoyun import timefmt

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm"
MAX_WIDTH = 60
MIN_WIDTH = 6
# Characters that make Excel (or LibreOffice) treat typed-in text as a formula or DDE call.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_HEADER_FONT = Font(bold=True)

AnySheet = Worksheet | WriteOnlyWorksheet


def workbook(write_only: bool = False) -> Workbook:
    """An empty workbook (the default sheet removed, so every sheet comes from :func:`sheet`)."""
    wb = Workbook(write_only=write_only)
    if not write_only and wb.active is not None:
        wb.remove(wb.active)
    return wb


def sheet(wb: Workbook, title: str) -> Any:
    """A new sheet; the title is cut to Excel's 31 characters and stripped of characters it refuses."""
    clean = "".join(" " if c in "[]:*?/\\" else c for c in title).strip() or "Sheet"
    return wb.create_sheet(clean[:31])


def is_risky(text: str) -> bool:
    return text.startswith(FORMULA_START)


def csv_safe(value: Any) -> Any:
    """A CSV cell that Excel opens as text: a risky string gets a leading quote; numbers stay as they are."""
    if isinstance(value, str) and is_risky(value):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_safe(v) for v in values]


def cell_value(value: Any) -> Any:
    """The value as it goes into the cell: numbers as numbers, times in the local zone, naive for Excel."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return timefmt.to_local(value).replace(tzinfo=None)
    return value


def _number_format(value: Any) -> str | None:
    if isinstance(value, datetime):
        return DATETIME_FORMAT
    if isinstance(value, date):
        return DATE_FORMAT
    if isinstance(value, time):
        return TIME_FORMAT
    return None


def _display_len(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len(DATETIME_FORMAT)
    if isinstance(value, date):
        return len(DATE_FORMAT)
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    longest = max((len(line) for line in text.splitlines()), default=0)
    # CJK characters take about two columns.
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)
    return longest + min(wide, longest)


def _fill(cell: Any, value: Any, bold: bool = False) -> Any:
    v = cell_value(value)
    if isinstance(v, str):
        cell.value = v
        # openpyxl marks a leading "=" as a formula; force a string cell and the quote prefix.
        cell.data_type = "s"
        if is_risky(v):
            cell.quotePrefix = True
    else:
        cell.value = v
        fmt = _number_format(v)
        if fmt:
            cell.number_format = fmt
    if bold:
        cell.font = _HEADER_FONT
    return cell


def write_table(
    ws: Any,
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    header_rows: Sequence[Sequence[Any]] = (),
) -> None:
    """Write a header row, the rows, then widths, a frozen header and a filter over the table.

    ``header_rows`` are extra header lines written under ``headers`` (e.g. the English column names under
    the Chinese ones); they are frozen with the header and the filter starts below them.
    """
    body = [list(r) for r in rows]
    heads = [list(headers), *[list(h) for h in header_rows]]
    ncols = max((len(r) for r in [*heads, *body]), default=0)
    widths = [MIN_WIDTH] * ncols
    for r in [*heads, *body]:
        for i, v in enumerate(r):
            widths[i] = max(widths[i], min(MAX_WIDTH, _display_len(cell_value(v)) + 2))
    write_only = isinstance(ws, WriteOnlyWorksheet)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    nhead = len(heads)
    if ncols:
        ws.freeze_panes = f"A{nhead + 1}"
        ws.auto_filter.ref = f"A{nhead}:{get_column_letter(ncols)}{nhead + len(body)}"
    if write_only:
        for h in heads:
            ws.append([_fill(WriteOnlyCell(ws), v, bold=True) for v in h])
        for r in body:
            ws.append([_fill(WriteOnlyCell(ws), v) for v in r])
        return
    # The table starts at A1 of a fresh sheet (freeze and filter refer to it).
    for n, h in enumerate(heads, start=1):
        for c, v in enumerate(h, start=1):
            _fill(ws.cell(n, c), v, bold=True)
    for n, r in enumerate(body, start=nhead + 1):
        for c, v in enumerate(r, start=1):
            _fill(ws.cell(n, c), v)


def to_bytes(wb: Workbook) -> bytes:
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table_xlsx(title: str, headers: Sequence[Any], rows: Iterable[Sequence[Any]], write_only: bool = False) -> bytes:
    """A one-sheet workbook with one table."""
    wb = workbook(write_only=write_only)
    write_table(sheet(wb, title), headers, rows)
    return to_bytes(wb)
