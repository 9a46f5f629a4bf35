"""CSV exports write user text as text: Excel opening the file never evaluates a formula from a cell."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices import ingest
from chaoyun.identity.models import Membership, User
from chaoyun.web import excel
from tests.apps.helpers import new_device

FORMULA = '=HYPERLINK("http://x","y")'


def test_csv_safe_prefixes_risky_text_only() -> None:
    for risky in (FORMULA, "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert excel.csv_safe(risky) == "'" + risky
    for kept in ("plain", "", "1-2", -2, -1.5, Decimal("-3"), None, True):
        assert excel.csv_safe(kept) == kept
    assert excel.csv_row(["=1", -1, "x"]) == ["'=1", -1, "x"]


def test_device_text_value_like_a_formula_exports_prefixed(db: Session, login: Any) -> None:
    user = db.execute(select(User).where(User.username == "factory")).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id)).scalars().first()
    assert m is not None
    d = new_device(db, m.org_id, "injection_moulding", "CSV 导出测试机")
    ingest.ingest(db, d, {"state": FORMULA, "barrel_temp": 215.5}, "test")
    r = login("factory").get(f"/api/v1/devices/{d.id}/export?format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    values = {row[1]: row[2] for row in rows[1:]}
    assert values["state"] == "'" + FORMULA
    assert values["barrel_temp"] == "215.5"
