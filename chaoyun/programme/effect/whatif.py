"""Dynamic adjustment (政策动态调整): last year's applications re-run under changed pack parameters.

- **Vouchers**: every voucher of the year's rounds that was issued (withdrawn and rejected ones left out), in the
  order it was issued (先到先得). Face value = ratio × its eligible amount, rounded down to the fen, at most the
  cap per enterprise (summed over the enterprise's vouchers in the round); a voucher is granted while the
  budget lasts, the way a reservation is refused once the round's budget is spent.
- **Innovation subsidies**: every application of the year past submission (drafts, withdrawn and rejected
  left out): ratio × eligible costs, rounded down to the fen, at most the cap; certification rewards at the
  reward amount.
- **Shared services**: per industry, enterprises reached = min(applicants, seats).

Actual figures are what was committed (voucher face values, subsidy amounts computed) and reached (distinct
enterprises; seats allocated). Nothing is stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.i18n import N_
from chaoyun.programme.pack import get_pack
from chaoyun.programme.workflow_models import (
    SeatApplication,
    SharedService,
    SharedServiceQuota,
    SubsidyApplication,
    Voucher,
    VoucherRound,
)

FEN = Decimal("0.01")
LIVE_VOUCHER = ("issued", "district_review", "city_review", "public_notice", "approved", "paid")
LIVE_SUBSIDY = ("submitted", "district_review", "city_review", "public_notice", "approved", "paid")


@dataclass
class Params:
    year: int
    voucher_ratio: Decimal | None
    voucher_cap: Decimal | None
    voucher_budget: Decimal | None
    subsidy_ratio: Decimal
    subsidy_cap: Decimal
    reward_amount: Decimal
    seats: dict[str, int] = field(default_factory=dict)


@dataclass
class Row:
    key: str
    label: str  # msgid
    actual_money: Decimal | None
    whatif_money: Decimal | None
    actual_reached: int
    whatif_reached: int
    applications: int


@dataclass
class WhatIf:
    params: Params
    defaults: Params
    rows: list[Row]
    seat_rows: list[tuple[str, int, int, int, int]]  # cluster, applicants, seats actual, seats what-if, reached


def years(db: Session) -> list[int]:
    ys = set(db.execute(select(VoucherRound.year)).scalars())
    ys |= set(db.execute(select(SubsidyApplication.year)).scalars())
    ys |= set(db.execute(select(SharedService.year)).scalars())
    return sorted(int(y) for y in ys)


def default_year(db: Session, today_year: int) -> int:
    past = [y for y in years(db) if y < today_year]
    return past[-1] if past else today_year - 1


def defaults(db: Session, year: int) -> Params:
    """What was in force that year: the rounds' ratio and cap (the largest round's), their budgets, the pack's
    subsidy rules, the services' seats per industry."""
    pack = get_pack()
    rounds = list(
        db.execute(select(VoucherRound).where(VoucherRound.year == year).order_by(VoucherRound.budget.desc())).scalars()
    )
    main = rounds[0] if rounds else None
    ratio = main.face_ratio if main is not None else pack.vouchers.subsidy_ratio
    cap = main.cap_per_voucher if main is not None else pack.vouchers.cap_per_enterprise
    budget = sum((r.budget for r in rounds), Decimal("0.00")) if rounds else None
    seats: dict[str, int] = defaultdict(int)
    for cluster, n in db.execute(
        select(SharedServiceQuota.cluster, func.sum(SharedServiceQuota.seats))
        .join(SharedService, SharedService.id == SharedServiceQuota.service_id)
        .where(SharedService.year == year)
        .group_by(SharedServiceQuota.cluster)
    ):
        seats[str(cluster)] = int(n or 0)
    inn = pack.subsidies.innovation
    return Params(
        year=year,
        voucher_ratio=Decimal(ratio) if ratio is not None else None,
        voucher_cap=Decimal(cap) if cap is not None else None,
        voucher_budget=budget,
        subsidy_ratio=Decimal(inn.max_ratio),
        subsidy_cap=Decimal(inn.cap_per_enterprise),
        reward_amount=Decimal(pack.subsidies.certification_reward.amount),
        seats=dict(sorted(seats.items())),
    )


def _floor(x: Decimal) -> Decimal:
    return x.quantize(FEN, rounding=ROUND_DOWN)


def _vouchers(db: Session, p: Params) -> Row:
    rows = db.execute(
        select(
            Voucher.id,
            Voucher.round_id,
            Voucher.enterprise_org_id,
            Voucher.eligible_amount,
            Voucher.face_value,
            Voucher.issued_at,
        )
        .join(VoucherRound, VoucherRound.id == Voucher.round_id)
        .where(VoucherRound.year == p.year, Voucher.state.in_(LIVE_VOUCHER), Voucher.issued_at.is_not(None))
        .order_by(Voucher.issued_at, Voucher.id)
    ).all()
    actual = sum((Decimal(r.face_value) for r in rows), Decimal("0.00"))
    actual_reached = len({r.enterprise_org_id for r in rows})
    if p.voucher_ratio is None:
        return Row("vouchers", N_("Service vouchers"), actual, None, actual_reached, 0, len(rows))
    held: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal("0.00"))
    left = p.voucher_budget
    total = Decimal("0.00")
    reached: set[int] = set()
    for r in rows:
        face = _floor(p.voucher_ratio * Decimal(r.eligible_amount))
        if p.voucher_cap is not None:
            face = max(Decimal("0.00"), min(face, p.voucher_cap - held[(r.round_id, r.enterprise_org_id)]))
        if face <= 0:
            continue
        if left is not None:
            if face > left:
                continue  # the reservation is refused: the budget is spent
            left -= face
        held[(r.round_id, r.enterprise_org_id)] += face
        total += face
        reached.add(int(r.enterprise_org_id))
    return Row("vouchers", N_("Service vouchers"), actual, total, actual_reached, len(reached), len(rows))


def _subsidies(db: Session, p: Params) -> list[Row]:
    rows = db.execute(
        select(
            SubsidyApplication.kind,
            SubsidyApplication.enterprise_org_id,
            SubsidyApplication.eligible_total,
            SubsidyApplication.computed_amount,
        ).where(SubsidyApplication.year == p.year, SubsidyApplication.state.in_(LIVE_SUBSIDY))
    ).all()
    inn = [r for r in rows if r.kind == "innovation"]
    cert = [r for r in rows if r.kind == "certification"]
    inn_actual = sum((Decimal(r.computed_amount) for r in inn), Decimal("0.00"))
    inn_new = [min(p.subsidy_cap, _floor(p.subsidy_ratio * Decimal(r.eligible_total))) for r in inn]
    cert_actual = sum((Decimal(r.computed_amount) for r in cert), Decimal("0.00"))
    return [
        Row(
            "subsidies",
            N_("Innovation subsidies"),
            inn_actual,
            sum(inn_new, Decimal("0.00")),
            len({r.enterprise_org_id for r in inn if r.computed_amount > 0}),
            len({r.enterprise_org_id for r, a in zip(inn, inn_new, strict=True) if a > 0}),
            len(inn),
        ),
        Row(
            "certification",
            N_("Certification rewards"),
            cert_actual,
            p.reward_amount * len(cert) if p.reward_amount > 0 else Decimal("0.00"),
            len({r.enterprise_org_id for r in cert}),
            len({r.enterprise_org_id for r in cert}) if p.reward_amount > 0 else 0,
            len(cert),
        ),
    ]


def _seats(db: Session, p: Params, d: Params) -> tuple[Row, list[tuple[str, int, int, int, int]]]:
    apps = db.execute(
        select(SeatApplication.cluster, SeatApplication.enterprise_org_id, SeatApplication.state)
        .join(SharedService, SharedService.id == SeatApplication.service_id)
        .where(SharedService.year == p.year, SeatApplication.state != "withdrawn")
    ).all()
    applicants: dict[str, set[int]] = defaultdict(set)
    allocated: set[int] = set()
    for cluster, org_id, state in apps:
        applicants[str(cluster)].add(int(org_id))
        if state in ("allocated", "released"):
            allocated.add(int(org_id))
    out = []
    reached = 0
    for cluster in sorted(set(applicants) | set(d.seats) | set(p.seats)):
        n = len(applicants.get(cluster, set()))
        new = p.seats.get(cluster, d.seats.get(cluster, 0))
        r = min(n, new)
        reached += r
        out.append((cluster, n, d.seats.get(cluster, 0), new, r))
    total = sum(len(s) for s in applicants.values())
    row = Row("shared_services", N_("Shared services"), None, None, len(allocated), reached, total)
    return row, out


def run(db: Session, p: Params) -> WhatIf:
    d = defaults(db, p.year)
    rows = [_vouchers(db, p), *_subsidies(db, p)]
    seat_row, seat_rows = _seats(db, p, d)
    rows.append(seat_row)
    return WhatIf(p, d, rows, seat_rows)
