"""Shared set-up for the workflow tests: actors, rounds, eligible providers, claims."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity.models import EnterpriseProfile, Membership, Organisation, User
from chaoyun.identity.permissions import Actor
from chaoyun.marketplace import demo as market_demo
from chaoyun.programme.workflow_models import Voucher, VoucherRound
from chaoyun.programme.workflows import vouchers

D = Decimal


def actor(db: Session, username: str) -> Actor:
    user = db.execute(select(User).where(User.username == username)).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)).scalars().first()
    assert m is not None
    return Actor(user=user, membership=m)


def admin_of(db: Session, org: Organisation, role: str = "enterprise_admin") -> Actor:
    """An administrator of ``org`` (a fresh user; the demo has admins for two enterprises only)."""
    m = db.execute(select(Membership).where(Membership.org_id == org.id, Membership.role == role)).scalars().first()
    if m is None:
        user = User(username=f"wf_{org.id}_{secrets.token_hex(3)}", display_name="测试管理员")
        db.add(user)
        db.flush()
        m = Membership(user_id=user.id, org_id=org.id, role=role)
        db.add(m)
        db.commit()
    user = db.get(User, m.user_id)
    assert user is not None
    return Actor(user=user, membership=m)


def rich_enterprises(db: Session, n: int, exclude: set[int] | None = None) -> list[Organisation]:
    """Active enterprises whose revenue passes the pack's voucher applicant rule (≥ 10 million yuan)."""
    rows = (
        db.execute(
            select(Organisation)
            .join(EnterpriseProfile, EnterpriseProfile.org_id == Organisation.id)
            .where(Organisation.status == "active", EnterpriseProfile.annual_revenue >= 1000)
            .order_by(Organisation.id)
        )
        .unique()
        .scalars()
    )
    out = [o for o in rows if o.id not in (exclude or set())]
    assert len(out) >= n, "not enough demo enterprises with revenue ≥ 10 million yuan"
    return out[:n]


def eligible_provider(db: Session) -> Organisation:
    """The demo provider organisation, admitted to the resource pool and whitelisted."""
    market_demo.seed(db)
    db.commit()
    prov = actor(db, "provider").org
    ok, reason = vouchers.provider_eligibility(db, prov)
    if not ok:
        # Another test file on this worker's database may have left the provider without a concluded
        # assessment (an open one only) or admission: give it the standing this helper promises.
        _admit_and_whitelist(db, prov.id)
        ok, reason = vouchers.provider_eligibility(db, prov)
    assert ok, reason
    return prov


def _admit_and_whitelist(db: Session, org_id: int) -> None:
    from chaoyun.marketplace.models import Admission, Assessment

    adm = db.execute(select(Admission).where(Admission.org_id == org_id)).scalars().first()
    if adm is None or adm.status != "admitted":
        raise AssertionError("the demo provider is not admitted to the resource pool")
    db.add(
        Assessment(
            org_id=org_id,
            status="passed",
            assessor_name="test",
            scores={},
            notes={},
            total=90.0,
            concluded_at=utcnow(),
            expires_on=date.today() + timedelta(days=365),
        )
    )
    db.commit()


def make_round(
    db: Session,
    *,
    budget: str = "1000000",
    ratio: str = "0.5",
    cap: str = "100000",
    quota: str | None = None,
    now: datetime | None = None,
    notice_days: int = 5,
) -> VoucherRound:
    now = now or utcnow()
    data = vouchers.RoundIn(
        year=now.year,
        name=f"测试批次{secrets.token_hex(2)}",
        budget=D(budget),
        claim_opens=now - timedelta(days=1),
        claim_closes=now + timedelta(days=10),
        redeem_opens=now - timedelta(days=1),
        redeem_closes=now + timedelta(days=30),
        face_ratio=D(ratio),
        cap_per_enterprise=D(cap),
        default_provider_quota=D(quota) if quota else None,
        notice_days=notice_days,
    )
    return vouchers.create_round(db, actor(db, "city"), data)


def claim(
    db: Session,
    who: Actor,
    rnd: VoucherRound,
    provider: Organisation,
    amount: str = "10000",
    items: list[tuple[str, str]] | None = None,
) -> Voucher:
    items = items or [("cloud_resources", amount)]
    data = vouchers.ClaimIn(
        round_id=rnd.id,
        provider_org_id=provider.id,
        contract_no=f"HT-{secrets.token_hex(4)}",
        contract_signed_on=date(2019, 6, 1),
        contract_amount=D(amount),
        items=[vouchers.ItemIn(c, "测试", D(a)) for c, a in items],
        established_on=date(2010, 1, 1),
    )
    return vouchers.create_claim(db, who, data)


PDF = b"%PDF-1.4\n% test document\n"


def district_officer(db: Session, district: str | None) -> Actor:
    m = (
        db.execute(select(Membership).where(Membership.role == "district_officer", Membership.district == district))
        .scalars()
        .first()
    )
    if m is None:
        office = (
            db.execute(select(Organisation).where(Organisation.kind == "government", Organisation.district == district))
            .scalars()
            .first()
        )
        assert office is not None
        user = User(username=f"wf_off_{secrets.token_hex(3)}", display_name="区县经信")
        db.add(user)
        db.flush()
        m = Membership(user_id=user.id, org_id=office.id, role="district_officer", district=district)
        db.add(m)
        db.commit()
    user = db.get(User, m.user_id)
    assert user is not None
    return Actor(user=user, membership=m)
