"""Excel exports write user text as text (never a formula), with widths, a frozen header and a filter."""

from __future__ import annotations

import io
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.apps.models import ShiftCalendar
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.web import excel
from tests.apps.helpers import feed, new_device

FORMULA = '=HYPERLINK("http://x","y")'


def _sheet_ok(ws: Any, nhead: int = 1) -> None:
    assert ws.freeze_panes == f"A{nhead + 1}"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith(f"A{nhead}:")
    assert ws.column_dimensions["A"].width >= excel.MIN_WIDTH


def test_helper_writes_text_numbers_and_local_dates() -> None:
    rows = [
        [FORMULA, Decimal("1.5"), datetime(2026, 1, 1, 0, 0, tzinfo=UTC), date(2026, 1, 2)],
        ["+1", 3, None, None],
        ["-2", 0.5, None, None],
        ["@SUM(A1)", 1, None, None],
        ["\tx", 1, None, None],
        ["x" * 500, 1, None, None],
    ]
    for write_only in (False, True):
        data = excel.table_xlsx("T:1", ["名称", "n", "at", "day"], rows, write_only=write_only)
        ws = load_workbook(io.BytesIO(data)).active
        _sheet_ok(ws)
        assert ws.column_dimensions["A"].width == excel.MAX_WIDTH
        cells = list(ws.iter_rows(min_row=2))
        for r in cells[:5]:
            assert r[0].data_type == "s" and r[0].quotePrefix, r[0].value
        assert cells[0][0].value == FORMULA
        assert cells[0][1].value == 1.5 and cells[0][1].data_type == "n"
        # UTC midnight is 08:00 in Shanghai; a real date cell with a date format.
        assert cells[0][2].value == datetime(2026, 1, 1, 8, 0) and cells[0][2].is_date
        assert cells[0][3].is_date and cells[0][3].number_format == excel.DATE_FORMAT
        assert b"<f>" not in _sheet_xml(data)


def _sheet_xml(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_enterprise_named_like_a_formula_exports_as_text(db: Session, login: Any) -> None:
    tag = secrets.token_hex(4)
    org = Organisation(kind="enterprise", name=f"{FORMULA}{tag}", district="chenghai", status="active")
    db.add(org)
    db.commit()
    r = login("city").get(f"/gov/enterprises.xlsx?q={tag}")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    _sheet_ok(ws)
    hits = [c for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str) and tag in c.value]
    assert hits and all(c.data_type == "s" and c.quotePrefix for c in hits)
    assert hits[0].value == org.name
    assert b"<f>" not in _sheet_xml(r.content)


def test_device_named_like_a_formula_in_the_oee_export(db: Session, login: Any) -> None:
    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    # A round-the-clock shift: with the default calendar a stop between 00:00 and 08:00 Shanghai time is off-shift
    # and never listed, so the test failed from 16:00 to 24:00 UTC.
    day = [{"key": "D", "name": "全天", "start": "00:00", "end": "00:00"}]
    cal = db.get(ShiftCalendar, m.org_id)
    if cal is None:
        db.add(ShiftCalendar(org_id=m.org_id, shifts=day))
    else:
        cal.shifts = day
    db.commit()
    name = f"{FORMULA}{secrets.token_hex(3)}"
    d = new_device(db, m.org_id, "injection_moulding", name)
    now = datetime.now(UTC)
    feed(
        db,
        d,
        [(now - timedelta(minutes=30), {"state": "running"}), (now - timedelta(minutes=10), {"state": "fault"})],
        now - timedelta(minutes=1),
    )
    data = login("factory").get("/apps/oee.xlsx?days=2").content
    wb = load_workbook(io.BytesIO(data))
    hits = []
    for ws in wb.worksheets:
        _sheet_ok(ws)
        hits += [c for row in ws.iter_rows(min_row=2) for c in row if c.value == name]
    assert hits and all(c.data_type == "s" and c.quotePrefix for c in hits)
    stops = wb.worksheets[-1]
    starts = [row[1] for row in stops.iter_rows(min_row=2) if row[0].value == name]
    assert starts and all(c.is_date for c in starts)
    assert b"<f>" not in _sheet_xml(data)
