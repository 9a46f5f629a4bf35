"""A known effect planted in simulated machine activity, to prove the policy-effect figures measure and do not
invent.

``plant_history`` writes coarse daily activity (a state timeline and the cycle, good, reject and energy
counters) for one production machine of each given enterprise over past months, and gives a random share of
the enterprises a service voucher (redeemed on a date in the middle of the history). After its voucher
an enterprise's machine stops for fewer minutes a day: the planted effect acts on *activity* (how long the
machine stands still), sized so that its OEE would rise by ``effect_points`` percentage points. Nothing here
writes an outcome: OEE, quality rate and energy per unit are then computed from these points by the platform's
own rules (``chaoyun.programme.outcomes.service.snapshot_month``), and the estimate of the effect comes from
those.

Every day of every enterprise: planned time is the default two shifts (22 h); the machine runs, except one stop
(a fault) starting at 14:00 local of ``(1 - availability) x 22 h``, availability = the enterprise's own level
+ a common month-to-month swing shared by every enterprise (what a difference-in-differences must remove)
+ the planted effect (treated enterprises, after the voucher) + daily noise. Performance and quality are the
enterprise's own constants. Deterministic for a given ``seed``.

Points are written straight into the telemetry store (the ingest path refuses points older than
``CHAOYUN_INGEST_MAX_AGE_DAYS``); the voucher records are inserted as decided history, the way the programme
demo inserts 2018-2020 declarations (workflow windows cannot be opened in the past).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.models import Device
from chaoyun.devices.store import get_store, to_ms
from chaoyun.identity import audit
from chaoyun.identity.models import Organisation
from chaoyun.programme.workflow_models import Voucher, VoucherRound

LOCAL = timezone(timedelta(hours=8))
PLANNED_MIN = 22 * 60  # two 12-hour shifts minus two 1-hour breaks (the OEE app's default calendar)
STOP_AT = time(14, 0)  # the daily stop starts here (planned time until midnight: 10 h)
MAX_STOP_MIN = 9 * 60 + 50
ROUND_PREFIX = "汕头市工业企业“上云用云”服务券（历史批次，模拟）"
NEEDED_ROLES = {"state", "cycle_counter", "good_count", "reject_count", "energy"}


@dataclass(frozen=True)
class Plan:
    """What to plant. ``effect_points``: OEE percentage points the voucher adds, reached linearly over
    ``ramp_days`` after the voucher day (0: no effect)."""

    months: int = 12
    effect_points: float = 3.0
    ramp_days: int = 1
    treated_share: float = 0.5
    noise_points: float = 2.0
    common_swing_points: float = 2.0
    seed: int = 2018


@dataclass
class Planted:
    first_day: date
    end: datetime
    machines: dict[int, int] = field(default_factory=dict)  # org id → device id
    treated: dict[int, date] = field(default_factory=dict)  # org id → voucher redemption day
    points: int = 0
    vouchers: int = 0

    def months(self) -> list[date]:
        out, m = [], self.first_day.replace(day=1)
        last = (self.end - timedelta(milliseconds=1)).astimezone(LOCAL).date()
        while m <= last:
            out.append(m)
            m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
        return out


def _month_add(m: date, n: int) -> date:
    k = m.year * 12 + m.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def production_machine(db: Session, org_id: int) -> Device | None:
    """The enterprise's first machine with a state, the three counters, an energy counter and a cycle time."""
    for d in db.execute(select(Device).where(Device.org_id == org_id).order_by(Device.id)).scalars():
        roles = {m.role for m in d.model.metrics if m.role}
        if d.model.ideal_cycle_s and roles >= NEEDED_ROLES:
            return d
    return None


def _local(day: date, t: time) -> datetime:
    return datetime.combine(day, t, LOCAL)


def plant_history(db: Session, org_ids: list[int], plan: Plan, end: datetime | None = None) -> Planted:
    """Write ``plan.months`` months of coarse activity ending at ``end`` (default: the start of this month,
    local time) for one machine of each enterprise, and vouchers for the treated ones. Enterprises without a
    production machine are left out."""
    if end is None:
        today = datetime.now(UTC).astimezone(LOCAL).date()
        end = _local(today.replace(day=1), time(0))
    end_day = end.astimezone(LOCAL).date()  # exclusive
    first_day = _month_add(end_day.replace(day=1), -plan.months)
    out = Planted(first_day, end)
    rng = random.Random(f"chaoyun-planted-{plan.seed}")
    days = [first_day + timedelta(days=i) for i in range((end_day - first_day).days)]
    swing = {m: rng.gauss(0, plan.common_swing_points) for m in Planted(first_day, end).months()}
    store = get_store()
    for org_id in sorted(org_ids):
        dev = production_machine(db, org_id)
        if dev is None:
            continue
        out.machines[org_id] = dev.id
        ids = {str(m.role): m.id for m in dev.model.metrics if m.role in NEEDED_ROLES}
        ideal = float(dev.model.ideal_cycle_s or 1.0)
        er = random.Random(f"chaoyun-planted-{plan.seed}-{org_id}")
        level = er.uniform(0.64, 0.80)
        perf = er.uniform(0.86, 0.95)
        qual = er.uniform(0.965, 0.99)
        kw = er.uniform(8.0, 40.0)
        voucher_day: date | None = None
        if er.random() < plan.treated_share:
            # Redeemed in the middle third of the history: months before and after it for the comparison.
            lo, hi = plan.months // 3, plan.months - plan.months // 3
            voucher_day = _month_add(first_day, er.randint(lo, max(lo, hi - 1))) + timedelta(days=er.randint(0, 27))
            out.treated[org_id] = voucher_day
        rows = _machine_rows(dev.id, ids, ideal, er, days, swing, voucher_day, plan, end, (level, perf, qual, kw))
        out.points += store.write(rows)
    store.flush()
    out.vouchers = _vouchers(db, out.treated)
    audit.record(
        db,
        actor_user_id=None,
        actor_username="system",
        actor_org_id=None,
        action="seed",
        object_type="programme_workflows",  # labelled "Demo data" in the audit log
        after={
            "simulated_history": True,
            "enterprises": len(out.machines),
            "treated": len(out.treated),
            "points": out.points,
            "effect_points": plan.effect_points,
        },
    )
    db.commit()
    return out


def _machine_rows(
    dev_id: int,
    ids: dict[str, int],
    ideal: float,
    er: random.Random,
    days: list[date],
    swing: dict[date, float],
    voucher_day: date | None,
    plan: Plan,
    end: datetime,
    constants: tuple[float, float, float, float],
) -> list[tuple[int, int, int, float | None, str | None]]:
    """One machine's coarse days: state changes at 00:00, the stop and its end; counters at the same times."""
    level, perf, qual, kw = constants
    per_unit_points = 100 * perf * qual  # OEE points per unit of availability
    rows: list[tuple[int, int, int, float | None, str | None]] = []
    cycles = float(er.randint(10_000, 500_000))
    rejects = cycles * (1 - qual)
    energy = float(er.randint(1_000, 90_000))
    rate = perf / ideal  # pieces per running second

    def counters(at: datetime) -> None:
        ts = to_ms(at)
        rows.append((dev_id, ids["cycle_counter"], ts, round(cycles, 1), None))
        rows.append((dev_id, ids["good_count"], ts, round(cycles - rejects, 1), None))
        rows.append((dev_id, ids["reject_count"], ts, round(rejects, 1), None))
        rows.append((dev_id, ids["energy"], ts, round(energy, 3), None))

    for day in days:
        avail = level + swing[day.replace(day=1)] / per_unit_points + er.gauss(0, plan.noise_points) / 100
        if voucher_day is not None and day > voucher_day and plan.effect_points:
            ramp = min(1.0, (day - voucher_day).days / max(1, plan.ramp_days))
            avail += ramp * plan.effect_points / per_unit_points
        stop_min = min(MAX_STOP_MIN, max(0.0, (1 - avail) * PLANNED_MIN))
        midnight = _local(day, time(0))
        stop_start = _local(day, STOP_AT)
        stop_end = stop_start + timedelta(minutes=stop_min)
        rows.append((dev_id, ids["state"], to_ms(midnight), None, "running"))
        counters(midnight)
        # 00:00-14:00 holds 12 h of planned running (two 1-hour breaks excluded).
        made = 12 * 3600 * rate
        cycles += made
        rejects += made * (1 - qual)
        energy += kw * (0.8 * 12 + 0.15 * 2)
        rows.append((dev_id, ids["state"], to_ms(stop_start), None, "fault"))
        counters(stop_start)
        energy += kw * 0.1 * stop_min / 60
        rows.append((dev_id, ids["state"], to_ms(stop_end), None, "running"))
        counters(stop_end)
        run_s = 10 * 3600 - stop_min * 60
        made = run_s * rate
        cycles += made
        rejects += made * (1 - qual)
        energy += kw * 0.8 * run_s / 3600
    rows.append((dev_id, ids["state"], to_ms(end), None, "running"))
    counters(end)
    return rows


def _vouchers(db: Session, treated: dict[int, date]) -> int:
    """One paid voucher per treated enterprise, redeemed on its day (a historic round per year)."""
    if not treated:
        return 0
    provider = db.execute(
        select(Organisation.id).where(Organisation.kind == "provider").order_by(Organisation.id).limit(1)
    ).scalar_one_or_none()
    if provider is None:
        raise RuntimeError("no provider organisation to deliver the simulated vouchers' services")
    orgs = {
        o.id: o for o in db.execute(select(Organisation).where(Organisation.id.in_(list(treated)))).scalars().all()
    }
    have = set(
        db.execute(
            select(Voucher.enterprise_org_id)
            .join(VoucherRound, VoucherRound.id == Voucher.round_id)
            .where(VoucherRound.name.like(f"{ROUND_PREFIX}%"))
        ).scalars()
    )
    rounds: dict[int, VoucherRound] = {}
    made = 0
    for org_id, day in sorted(treated.items()):
        if org_id in have:
            continue
        r = rounds.get(day.year)
        if r is None:
            name = f"{ROUND_PREFIX}{day.year}"
            r = db.execute(select(VoucherRound).where(VoucherRound.name == name)).scalar_one_or_none()
            if r is None:
                y0 = datetime(day.year, 1, 1, tzinfo=UTC)
                r = VoucherRound(
                    year=day.year,
                    name=name,
                    budget=Decimal("10000000.00"),
                    committed=Decimal("0.00"),
                    paid_total=Decimal("0.00"),
                    face_ratio=Decimal("0.5000"),
                    cap_per_voucher=Decimal("100000.00"),
                    claim_opens=y0,
                    claim_closes=y0 + timedelta(days=364),
                    redeem_opens=y0,
                    redeem_closes=y0 + timedelta(days=364),
                    notice_days=5,
                )
                db.add(r)
                db.flush()
            rounds[day.year] = r
        rng = random.Random(f"chaoyun-planted-voucher-{org_id}")
        contract = Decimal(rng.randint(40, 160) * 1000)
        reimb = min(r.cap_per_voucher, (contract * r.face_ratio).quantize(Decimal("0.01")))
        redeemed = datetime.combine(day, time(10), LOCAL).astimezone(UTC)
        org = orgs[org_id]
        v: dict[str, Any] = {
            "round_id": r.id,
            "enterprise_org_id": org_id,
            "provider_org_id": provider,
            "district": org.district,
            "cluster": org.enterprise.cluster if org.enterprise else None,
            "state": "paid",
            "contract_no": f"SIM-{day.year}-{org_id:06d}",
            "contract_signed_on": day - timedelta(days=60),
            "contract_amount": contract,
            "eligible_amount": contract,
            "face_value": reimb,
            "contract_verified": True,
            "actual_paid": contract,
            "invoice_no": f"SIM{org_id:08d}",
            "reimbursable": reimb,
            "submitted_at": redeemed - timedelta(days=75),
            "issued_at": redeemed - timedelta(days=60),
            "redeemed_at": redeemed,
            "approved_at": redeemed + timedelta(days=20),
            "paid_at": redeemed + timedelta(days=30),
        }
        db.add(Voucher(**v))
        r.committed += reimb
        r.paid_total += reimb
        made += 1
    db.flush()
    return made
