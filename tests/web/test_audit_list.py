"""The audit log page searches (username, object id, action code or label) and sorts in SQL, and the
Excel export follows the same search, filters and order."""

from __future__ import annotations

import io
import secrets
from typing import Any

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from chaoyun.identity import audit


def _entries(db: Session, tag: str) -> None:
    for name, action in (("b", "export"), ("a", "login"), ("c", "export")):
        audit.record(
            db,
            actor_user_id=None,
            actor_username=f"{name}{tag}",
            actor_org_id=None,
            action=action,
            object_type="user",
            object_id=f"obj{tag}",
        )
    db.commit()


def _who(content: bytes) -> list[str]:
    ws = load_workbook(io.BytesIO(content)).active
    return [str(ws.cell(n, 3).value) for n in range(2, ws.max_row + 1)]


def test_audit_search_and_sort(db: Session, login: Any) -> None:
    tag = secrets.token_hex(4)
    _entries(db, tag)
    city = login("city")
    # Search by object id, sorted by actor both ways, on the page and in its export.
    page = city.get(f"/gov/audit?q=obj{tag}&sort=actor").text
    assert page.index(f"a{tag}") < page.index(f"b{tag}") < page.index(f"c{tag}")
    assert 'data-total="3"' in page and 'data-sort="actor"' in page and "按用户名、对象编号或操作搜索" in page
    assert f'href="/gov/audit.xlsx?q=obj{tag}&amp;sort=actor"' in page
    assert _who(city.get(f"/gov/audit.xlsx?q=obj{tag}&sort=actor").content) == [f"a{tag}", f"b{tag}", f"c{tag}"]
    assert _who(city.get(f"/gov/audit.xlsx?q=obj{tag}&sort=-actor").content) == [f"c{tag}", f"b{tag}", f"a{tag}"]
    # Search by username (any case), combined with the action filter.
    page = city.get(f"/gov/audit?q=B{tag.upper()}&action=export").text
    assert 'data-total="1"' in page and f"b{tag}" in page
    # Search by action label in the page's language, and by action code; the object filter still applies.
    assert _who(city.get(f"/gov/audit.xlsx?q=登录&actor=a{tag}").content) == [f"a{tag}"]
    assert _who(city.get(f"/gov/audit.xlsx?q=登录&actor=b{tag}").content) == []
    assert _who(city.get(f"/gov/audit.xlsx?q=export&actor=c{tag}").content) == [f"c{tag}"]
    # A sort key outside the whitelist falls back to newest first; wildcards are searched literally.
    assert city.get(f"/gov/audit?q=obj{tag}&sort=hash").status_code == 200
    assert 'data-total="0"' in city.get(f"/gov/audit?q=obj{tag[:2]}%25{tag[3:]}").text
    assert login("chenghai").get(f"/gov/audit?q=obj{tag}").status_code == 403
