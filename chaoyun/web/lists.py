"""Search, sort and paging for the lists people work in, one way everywhere.

Query parameters: ``q`` (search text), ``sort`` (a whitelisted key, ``-key`` for descending), ``page``
(1-based) and ``size`` (25, 50 or 100). Anything else in the URL (filters) is kept by the links the
macros in ``_lists.html`` build. Sorting only ever uses the columns a page names, so a crafted ``sort``
cannot reach other columns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

T = TypeVar("T")

SIZES = (25, 50, 100)
DEFAULT_SIZE = 25
MAX_Q = 100


@dataclass(frozen=True)
class ListParams:
    q: str
    sort: str  # the key, without the sign
    desc: bool
    page: int
    size: int

    @property
    def sort_param(self) -> str:
        return ("-" if self.desc else "") + self.sort


def params(request: Request, sorts: Collection[str], default: str) -> ListParams:
    """Read q / sort / page / size; an unknown sort key falls back to ``default`` (e.g. ``"-id"``)."""
    qp = request.query_params
    q = (qp.get("q") or "").strip()[:MAX_Q]
    raw = qp.get("sort") or default
    key = raw.lstrip("-")
    if key not in sorts:
        raw, key = default, default.lstrip("-")
    try:
        page = max(1, int(qp.get("page") or 1))
    except ValueError:
        page = 1
    try:
        size = int(qp.get("size") or DEFAULT_SIZE)
    except ValueError:
        size = DEFAULT_SIZE
    if size not in SIZES:
        size = DEFAULT_SIZE
    return ListParams(q=q, sort=key, desc=raw.startswith("-"), page=page, size=size)


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    params: ListParams

    @property
    def page(self) -> int:
        return self.params.page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.params.size))

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when empty)."""
        return 0 if not self.total else (self.page - 1) * self.params.size + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.params.size)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        out: list[int | None] = []
        prev = 0
        for n in sorted(p for p in shown if 1 <= p <= self.pages):
            if n - prev > 1:
                out.append(None)
            out.append(n)
            prev = n
        return out


def _clamp(p: ListParams, total: int) -> ListParams:
    pages = max(1, -(-total // p.size))
    if p.page <= pages:
        return p
    return ListParams(p.q, p.sort, p.desc, pages, p.size)


def paginate_rows(
    rows: Sequence[T],
    p: ListParams,
    sort_keys: Mapping[str, Callable[[T], Any]],
    text: Callable[[T], str] | None = None,
) -> Page[T]:
    """Page a list a service already scoped: filter by ``text(row)`` containing q, sort by a whitelisted key."""
    items = list(rows)
    if p.q and text is not None:
        needle = p.q.casefold()
        items = [r for r in items if needle in text(r).casefold()]
    key = sort_keys[p.sort]
    # Rows without a value go last in either direction.
    filled = sorted((r for r in items if key(r) is not None), key=key, reverse=p.desc)
    items = filled + [r for r in items if key(r) is None]
    p = _clamp(p, len(items))
    start = (p.page - 1) * p.size
    return Page(items[start : start + p.size], len(items), p)


def paginate_select(
    db: Session,
    stmt: Select[Any],
    p: ListParams,
    sort_columns: Mapping[str, Any],
    search_columns: Sequence[Any] = (),
    scalars: bool = True,
    tiebreak: Any = None,
) -> Page[Any]:
    """Page a SELECT in SQL: ``ilike`` on the search columns, ORDER BY a whitelisted column (id breaks ties)."""
    if p.q and search_columns:
        escaped = p.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = stmt.where(or_(*(c.ilike(like, escape="\\") for c in search_columns)))
    total = db.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    p = _clamp(p, total)
    col = sort_columns[p.sort]
    stmt = stmt.order_by(None).order_by(col.desc() if p.desc else col.asc())
    if tiebreak is not None:
        # Rows with equal sort values keep one order, so no row shows on two pages or on none.
        stmt = stmt.order_by(tiebreak.desc() if p.desc else tiebreak.asc())
    result = db.execute(stmt.offset((p.page - 1) * p.size).limit(p.size))
    items = list(result.scalars()) if scalars else [tuple(r) for r in result.all()]
    return Page(items, total, p)
