"""Exports of the targets dashboard and the audit log: the page's filters and scope, via chaoyun.web.excel."""

import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from chaoyun.programme.pack import get_pack


def _values(content: bytes) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in _sheet(content).iter_rows(values_only=True)]


def _sheet(content: bytes) -> Any:
    return load_workbook(io.BytesIO(content)).worksheets[0]


def test_targets_export_follows_filters_and_district_scope(login: Any, db: Session) -> None:
    city = login("city")
    page = city.get("/programme/targets?cluster=toys").text
    assert 'href="/programme/targets.xlsx?cluster=toys"' in page
    r = city.get("/programme/targets.xlsx?cluster=toys")
    assert r.status_code == 200
    ws = _sheet(r.content)
    assert ws.max_row == 1 + len(get_pack().targets) and ws.freeze_panes == "A2"
    assert ws.cell(1, 1).value == "目标" or ws.cell(1, 1).value
    # A district officer's export is their district's, whatever the URL asks.
    chenghai = login("chenghai")
    own = _values(chenghai.get("/programme/targets.xlsx").content)
    assert _values(chenghai.get("/programme/targets.xlsx?district=longhu").content) == own
    assert login("factory").get("/programme/targets.xlsx").status_code in (403, 404)


def test_audit_export_respects_filters(login: Any) -> None:
    city = login("city")
    city.get("/gov/audit.xlsx")  # an export leaves an "export" entry
    page = city.get("/gov/audit?action=export").text
    assert 'href="/gov/audit.xlsx?action=export"' in page
    r = city.get("/gov/audit.xlsx?action=export")
    assert r.status_code == 200
    ws = _sheet(r.content)
    actions = {ws.cell(n, 4).value for n in range(2, ws.max_row + 1)}
    assert ws.max_row >= 2 and len(actions) == 1
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert login("evaluator").get("/gov/audit.xlsx").status_code == 200
    assert login("factory").get("/gov/audit.xlsx").status_code in (403, 404)
    assert login("chenghai").get("/gov/audit.xlsx").status_code in (403, 404)
