"""Pages: a provider records its tariffs and prices; the city sees every record and the two targets' figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError
from chaoyun.i18n import N_
from chaoyun.identity.permissions import Actor
from chaoyun.marketplace.prices import service
from chaoyun.marketplace.prices.permissions import PRICES_READ, PRICES_WRITE
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("provider", N_("Tariffs and prices"), "/market/prices", PRICES_WRITE, 45, group="market"),
    nav.NavItem("government", N_("Tariffs and cloud prices"), "/market/prices", PRICES_READ, 46, group="market"),
)


def _ctx(db: Session, actor: Actor, year: int, form: FormState | None) -> dict[str, Any]:
    return {
        "records": service.list_records(db, actor),
        "kinds": service.KINDS,
        "year": year,
        "tariffs": service.tariff_reduction(db, year),
        "cloud": service.cloud_discount(db, year),
        "baseline_year": service.BASELINE_YEAR,
        "can_record": actor.has(PRICES_WRITE) and actor.audience == "provider",
        "form": form,
        "today": date.today().isoformat(),
    }


@router.get("/market/prices")
def prices_page(
    request: Request,
    year: int = Query(default_factory=lambda: date.today().year, ge=2018, le=2100),
    db: Session = Depends(get_db),
    actor: Actor = requires(PRICES_READ),
) -> Response:
    ctx = _ctx(db, actor, year, None)
    ctx["flash"] = N_("Price recorded.") if request.query_params.get("msg") == "recorded" else None
    return render(request, "marketplace/prices.html", ctx)


@router.post("/market/prices")
async def prices_record(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(PRICES_WRITE)
) -> Response:
    form = await FormState.read(request, actor)
    data = service.PriceIn(
        kind=form.get("kind"),
        item=form.get("item"),
        unit=form.get("unit"),
        list_price=form.get("list_price"),
        programme_price=form.get("programme_price"),
        effective_from=form.get("effective_from"),
        note=form.get("note"),
    )
    try:
        service.record(db, actor, data)
    except service.PriceErrors as exc:
        db.rollback()
        for e in exc.errors:
            form.errors.setdefault(e.field or "item", e.message())
    except AppError as exc:
        db.rollback()
        form.fail(exc)
    if form.ok:
        return RedirectResponse("/market/prices?msg=recorded", status_code=303)
    return render(request, "marketplace/prices.html", _ctx(db, actor, date.today().year, form), status=form.status)
