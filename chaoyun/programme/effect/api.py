"""JSON API of the policy-effect figures (thin over the services)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import Invalid
from chaoyun.i18n import N_, both
from chaoyun.identity.permissions import Actor
from chaoyun.programme import dashboard as dash
from chaoyun.programme.effect import service, whatif
from chaoyun.programme.effect.permissions import EFFECT_READ, EFFECT_WHATIF
from chaoyun.programme.effect.views import read_params
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState

router = APIRouter(prefix="/api/v1/programme", tags=["programme effect"])


def effect_dict(r: service.EffectResult) -> dict[str, Any]:
    out = r.as_dict()
    out["withheld"] = both(r.withheld, n=service.MIN_GROUP) if r.withheld else None
    out["caveats"] = [both(c) for c in r.caveats]
    out["money_note"] = both(r.money_note) if r.money_note else None
    out["pretrend_ok"] = r.pretrend_ok if r.shown else None
    return out


@router.get("/effect")
def effect(
    db: Session = Depends(get_db),
    actor: Actor = requires(EFFECT_READ),
    instrument: Annotated[str, Query(max_length=40)] = "vouchers",
    outcome: Annotated[str, Query(max_length=40)] = "oee",
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    district: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    """Matched difference-in-differences of one instrument on one outcome (a district officer: their district)."""
    service.check_choice(instrument, outcome)
    r = service.estimate(db, instrument, outcome, year, dash.scope_district(actor, district))
    return effect_dict(r)


@router.get("/effect/whatif")
def effect_whatif(
    request: Request, db: Session = Depends(get_db), actor: Actor = requires(EFFECT_WHATIF)
) -> dict[str, Any]:
    """Last year's (or ``year``'s) applications re-run under changed parameters (query: year, voucher_ratio,
    voucher_cap, voucher_budget, subsidy_ratio, subsidy_cap, reward_amount, seats_<industry>)."""
    values = {k: v[:40] for k, v in request.query_params.items()}
    form = FormState(values=values)
    p = read_params(db, values, form)
    if not form.ok:
        name, _msg = next(iter(form.errors.items()))
        raise Invalid(N_("Invalid what-if parameter “%(name)s”."), field=name, name=name)
    w = whatif.run(db, p)

    def money(x: Any) -> str | None:
        return None if x is None else str(x)

    return {
        "year": p.year,
        "params": {
            "voucher_ratio": money(p.voucher_ratio),
            "voucher_cap": money(p.voucher_cap),
            "voucher_budget": money(p.voucher_budget),
            "subsidy_ratio": money(p.subsidy_ratio),
            "subsidy_cap": money(p.subsidy_cap),
            "reward_amount": money(p.reward_amount),
            "seats": p.seats,
        },
        "rows": [
            {
                "instrument": r.key,
                "applications": r.applications,
                "actual_money": money(r.actual_money),
                "whatif_money": money(r.whatif_money),
                "actual_reached": r.actual_reached,
                "whatif_reached": r.whatif_reached,
            }
            for r in w.rows
        ],
        "seats": [
            {"cluster": c, "applicants": n, "seats_actual": s0, "seats_whatif": s1, "reached": reach}
            for c, n, s0, s1, reach in w.seat_rows
        ],
    }
