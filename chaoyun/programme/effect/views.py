"""Policy-effect pages: the matched difference-in-differences per instrument and outcome, and the what-if."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from chaoyun.db import get_db
from chaoyun.errors import AppError, Invalid
from chaoyun.i18n import N_, translate
from chaoyun.identity.permissions import Actor
from chaoyun.identity.reference import Cluster, District, Role
from chaoyun.programme import dashboard as dash
from chaoyun.programme.effect import service, whatif
from chaoyun.programme.effect.permissions import EFFECT_READ, EFFECT_WHATIF
from chaoyun.programme.outcomes import service as outcomes
from chaoyun.web import nav
from chaoyun.web.deps import requires
from chaoyun.web.forms import FormState
from chaoyun.web.render import render

router = APIRouter(include_in_schema=False)

nav.register(
    nav.NavItem("government", N_("Policy effect"), "/programme/effect", EFFECT_READ, 79, group="programme"),
)


def choose(request: Request, actor: Actor) -> tuple[str, str, int | None, str | None]:
    """Instrument, outcome, year and district from the query (a district officer always gets their own)."""
    q = request.query_params
    instrument = q.get("instrument") or "vouchers"
    outcome = q.get("outcome") or "oee"
    service.check_choice(instrument, outcome)
    year: int | None = None
    raw = (q.get("year") or "").strip()
    if raw:
        if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
            raise Invalid(service.YEAR_RANGE, field="year")
        year = int(raw)
    district = dash.scope_district(actor, q.get("district"))
    return instrument, outcome, year, district


def other_locale(locale: str) -> str:
    return "en" if locale != "en" else "zh_CN"


@router.get("/programme/effect")
def effect_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(EFFECT_READ)) -> Response:
    status = 200
    error: AppError | None = None
    try:
        instrument, outcome, year, district = choose(request, actor)
    except AppError as exc:
        error, status = exc, exc.status
        instrument, outcome, year, district = "vouchers", "oee", None, dash.scope_district(actor, None)
    result = service.estimate(db, instrument, outcome, year, district)
    return render(
        request,
        "programme/effect/effect.html",
        {
            "r": result,
            "error": error,
            "instruments": service.INSTRUMENTS,
            "instrument_labels": service.INSTRUMENT_LABELS,
            "participation_labels": service.PARTICIPATION_LABELS,
            "outcomes": outcomes.OUTCOMES,
            "outcome_labels": outcomes.LABELS,
            "units": outcomes.UNITS,
            "decimals": outcomes.DECIMALS,
            "level_labels": service.LEVEL_LABELS,
            "years": service.years_with_participation(db, instrument),
            "districts": list(District),
            "locked_district": actor.role == Role.DISTRICT_OFFICER,
            "other_locale": other_locale(request.state.locale),
            "translate": translate,
            "min_group": service.MIN_GROUP,
            "window": service.WINDOW,
            "can_whatif": actor.has(EFFECT_WHATIF),
            "whatif_years": whatif.years(db) if actor.has(EFFECT_WHATIF) else [],
            "pretrend_warning": service.PRETREND_WARNING,
            "pretrend_ok": service.PRETREND_OK,
            "method_note": service.METHOD_NOTE,
        },
        status=status,
    )


# ---------------------------------------------------------------- what-if

FIELDS = ("voucher_ratio", "voucher_cap", "voucher_budget", "subsidy_ratio", "subsidy_cap", "reward_amount")
MAX_MONEY = Decimal("100000000000")


def _ratio(raw: str, name: str) -> Decimal:
    try:
        v = Decimal(raw)
    except InvalidOperation:
        raise Invalid(N_("Enter a ratio between 0 and 1, e.g. 0.3."), field=name) from None
    if not v.is_finite() or not Decimal("0") < v <= Decimal("1") or v.as_tuple().exponent < -4:  # type: ignore[operator]
        raise Invalid(N_("Enter a ratio between 0 and 1, e.g. 0.3."), field=name)
    return v


def _money(raw: str, name: str) -> Decimal:
    try:
        v = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        raise Invalid(N_("Enter an amount in yuan with at most two decimals."), field=name) from None
    if not v.is_finite() or v < 0 or v > MAX_MONEY or v.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Invalid(N_("Enter an amount in yuan with at most two decimals."), field=name)
    return v


def _seats(raw: str, name: str) -> int:
    if not raw.strip().isdigit() or int(raw) > 100_000:
        raise Invalid(N_("Enter a whole number of seats from 0 to 100000."), field=name)
    return int(raw)


def read_params(db: Session, values: dict[str, str], form: FormState) -> whatif.Params:
    """The what-if parameters from the form (blank fields keep what was in force that year)."""
    this_year = datetime.now(UTC).year
    raw_year = values.get("year", "").strip()
    year = whatif.default_year(db, this_year)
    if raw_year:
        if raw_year.isdigit() and 2000 <= int(raw_year) <= 2100:
            year = int(raw_year)
        else:
            form.errors["year"] = translate(service.YEAR_RANGE, _locale())
    d = whatif.defaults(db, year)
    p = whatif.Params(
        year, d.voucher_ratio, d.voucher_cap, d.voucher_budget, d.subsidy_ratio, d.subsidy_cap, d.reward_amount
    )
    for name in FIELDS:
        raw = values.get(name, "").strip()
        if not raw:
            continue
        parse = _ratio if name.endswith("ratio") else _money
        v = form.check(name, partial(parse, raw, name))
        if v is not None:
            setattr(p, name, v)
    seats = dict(d.seats)
    for c in Cluster:
        raw = values.get(f"seats_{c.value}", "").strip()
        if raw:
            n = form.check(f"seats_{c.value}", partial(_seats, raw, f"seats_{c.value}"))
            if n is not None:
                seats[c.value] = n
    p.seats = seats
    return p


def _locale() -> str:
    from chaoyun.i18n import get_locale

    return get_locale()


@router.get("/programme/effect/whatif")
def whatif_page(request: Request, db: Session = Depends(get_db), actor: Actor = requires(EFFECT_WHATIF)) -> Response:
    values = {k: v[:40] for k, v in request.query_params.items()}
    form = FormState(values=values)
    params = read_params(db, values, form)
    result = whatif.run(db, params) if form.ok else whatif.run(db, whatif.defaults(db, params.year))
    return render(
        request,
        "programme/effect/whatif.html",
        {
            "form": form,
            "w": result,
            "years": whatif.years(db),
            "clusters": [c.value for c in Cluster],
            "fields": FIELDS,
            "submitted": bool(request.query_params),
        },
        status=form.status,
    )

