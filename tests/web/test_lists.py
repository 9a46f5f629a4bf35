"""Search, sort and paging on the lists people work in (chaoyun.web.lists + _lists.html)."""

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

ROW = re.compile(r'<tr><td><a href="/programme/(?:adoptions|diagnoses)/(\d+)">')


@pytest.fixture(scope="module", autouse=True)
def _adoptions() -> None:
    """Thirty declarations across the demo enterprises: more than one page."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.identity.models import Organisation
    from chaoyun.programme.models import CloudAdoption

    with get_sessionmaker()() as db:
        orgs = db.execute(select(Organisation).where(Organisation.kind == "enterprise").limit(30)).scalars().all()
        for i in range(30):
            db.add(
                CloudAdoption(
                    org_id=orgs[i % len(orgs)].id,
                    provider_name=f"列表测试服务商 {i:02d}",
                    live_since=date(2026, 1, 1 + i % 28),
                    stars=i % 4 or None,
                )
            )
        db.commit()


def _ids(html: str) -> list[int]:
    return [int(x) for x in ROW.findall(html)]


def _count(html: str) -> tuple[int, int, int]:
    m = re.search(r'list-count" data-first="(\d+)" data-last="(\d+)" data-total="(\d+)"', html)
    assert m, html[:2000]
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def test_adoptions_paged_sorted_and_searched(login: Any) -> None:
    city = login("city")
    html = city.get("/programme/adoptions").text
    first, last, total = _count(html)
    ids = _ids(html)
    assert (first, last) == (1, min(25, total)) and len(ids) == last
    assert ids == sorted(ids, reverse=True)  # newest first by default
    if total > 25:
        second = city.get("/programme/adoptions?page=2").text
        assert _count(second)[0] == 26 and not set(_ids(second)) & set(ids)
        assert len(_ids(city.get("/programme/adoptions?size=100").text)) == min(100, total)
    asc = _ids(city.get("/programme/adoptions?sort=id&size=100").text)
    assert asc == sorted(asc)
    # Unknown sort keys and sizes fall back instead of failing or reaching other columns.
    r = city.get("/programme/adoptions?sort=password_hash&size=7&page=abc")
    assert r.status_code == 200 and _count(r.text)[1] == min(25, total)
    # A page past the end shows the last page.
    assert _count(city.get("/programme/adoptions?page=999").text)[2] == total


def test_search_narrows_and_keeps_filters(login: Any) -> None:
    city = login("city")
    html = city.get("/programme/adoptions", params={"q": "列表测试服务商 07"}).text
    assert _count(html)[2] == 1 and "列表测试服务商 07" in html
    assert _count(city.get("/programme/adoptions", params={"q": "列表测试服务商"}).text)[2] == 30
    # Sort links and pages keep the search text; a sort by stars puts empty stars last.
    link = re.search(r'data-sort="stars" href="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert "q=" in link and "sort=stars" in link
    stars = city.get("/programme/adoptions", params={"q": "列表测试服务商", "sort": "-stars", "size": 50}).text
    assert stars.index("★★★") < stars.index("列表测试服务商 00")


def test_diagnoses_list_has_pager(login: Any) -> None:
    html = login("city").get("/programme/diagnoses?sort=-score").text
    assert "list-count" in html and 'aria-sort="descending"' in html
