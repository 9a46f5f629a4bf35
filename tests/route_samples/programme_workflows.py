"""Route samples of the programme's money workflows: objects owned by ``owner`` (created directly)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity.models import Organisation, ProviderProfile
from chaoyun.programme.workflow_models import (
    DemoApplication,
    DemoCall,
    DemoMilestone,
    SeatApplication,
    SharedService,
    SharedServiceQuota,
    SubsidyApplication,
    Voucher,
    VoucherRound,
    WorkflowFile,
)
from tests import factories


def _round(db: Session) -> VoucherRound:
    now = utcnow()
    r = VoucherRound(
        year=now.year,
        name="route-sample",
        budget=Decimal("1000000.00"),
        committed=Decimal("0"),
        paid_total=Decimal("0"),
        face_ratio=Decimal("0.5"),
        cap_per_voucher=Decimal("100000"),
        claim_opens=now - timedelta(days=1),
        claim_closes=now + timedelta(days=30),
        redeem_opens=now - timedelta(days=1),
        redeem_closes=now + timedelta(days=60),
        notice_days=5,
    )
    db.add(r)
    db.flush()
    return r


def _other_provider(db: Session) -> Organisation:
    """A provider that is not the demo 'provider' user's organisation (so that user cannot see it)."""
    org = db.execute(select(Organisation).where(Organisation.name == "路由样本服务商有限公司")).scalar_one_or_none()
    if org is None:
        org = Organisation(
            kind="provider",
            name="路由样本服务商有限公司",
            credit_code=factories.credit_code(),
            district="longhu",
            status="active",
        )
        org.provider = ProviderProfile(provider_type="service", service_categories=[])
        db.add(org)
        db.flush()
    return org


def _enterprise(db: Session) -> Organisation:
    org = db.execute(select(Organisation).where(Organisation.kind == "enterprise").order_by(Organisation.id)).scalars()
    return next(iter(org))


def voucher_id(db: Session, owner: Organisation) -> str:
    r = _round(db)
    if owner.kind == "provider":
        ent, prov = _enterprise(db), owner
    else:
        ent, prov = owner, _other_provider(db)
    v = Voucher(
        round_id=r.id,
        enterprise_org_id=ent.id,
        provider_org_id=prov.id,
        district=ent.district,
        state="submitted",  # drafts are private to the enterprise; submitted ones are seen by provider and offices
        contract_no="RS-1",
        contract_signed_on=date(2019, 5, 1),
        contract_amount=Decimal("10000.00"),
        eligible_amount=Decimal("10000.00"),
        face_value=Decimal("5000.00"),
    )
    db.add(v)
    db.commit()
    return str(v.id)


def voucher_round_id(db: Session, owner: Organisation) -> str:
    r = _round(db)
    db.commit()
    return str(r.id)


def wf_file_id(db: Session, owner: Organisation) -> str:
    from chaoyun.programme.workflows import files

    vid = int(voucher_id(db, owner))
    files.upload_dir().mkdir(parents=True, exist_ok=True)
    (files.upload_dir() / f"route-sample-{vid}").write_bytes(b"%PDF-1.4 sample")
    f = WorkflowFile(
        subject_type="voucher",
        subject_id=vid,
        org_id=owner.id,
        kind="invoice",
        filename="x.pdf",
        content_type="application/pdf",
        size=5,
        sha256="0" * 64,
        stored_as=f"route-sample-{vid}",
    )
    db.add(f)
    db.commit()
    return str(f.id)


def subsidy_id(db: Session, owner: Organisation) -> str:
    a = SubsidyApplication(
        kind="innovation",
        enterprise_org_id=owner.id,
        district=owner.district,
        year=2019,
        title="样本",
        state="submitted",
    )
    db.add(a)
    db.commit()
    return str(a.id)


def shared_service_id(db: Session, owner: Organisation) -> str:
    s = SharedService(name="样本共享服务", area="office", year=2019, status="open")
    s.quotas.append(SharedServiceQuota(cluster="toys", seats=2))
    db.add(s)
    db.commit()
    return str(s.id)


def seat_app_id(db: Session, owner: Organisation) -> str:
    sid = int(shared_service_id(db, owner))
    a = SeatApplication(
        service_id=sid,
        enterprise_org_id=owner.id,
        district=owner.district,
        cluster="toys",
        state="allocated",
        active_key=1,
    )
    db.add(a)
    db.commit()
    return str(a.id)


def demo_call_id(db: Session, owner: Organisation) -> str:
    now = utcnow()
    c = DemoCall(
        kind="benchmark_project",
        year=2019,
        title="样本征集",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=10),
        slots=2,
        rubric=[{"key": "a", "zh": "a", "en": "a", "max": 100}],
    )
    db.add(c)
    db.commit()
    return str(c.id)


def demo_app_id(db: Session, owner: Organisation) -> str:
    cid = int(demo_call_id(db, owner))
    a = DemoApplication(call_id=cid, org_id=owner.id, district=owner.district, title="样本项目", state="submitted")
    a.milestones.append(
        DemoMilestone(title="m", metric="带动企业数", target_value=Decimal("10"), due_on=date(2020, 12, 31))
    )
    db.add(a)
    db.commit()
    return str(a.id)


def milestone_id(db: Session, owner: Organisation) -> str:
    aid = int(demo_app_id(db, owner))
    a = db.get(DemoApplication, aid)
    assert a is not None
    return str(a.milestones[0].id)


PATH_PARAMS = {
    "voucher_id": voucher_id,
    "voucher_round_id": voucher_round_id,
    "wf_file_id": wf_file_id,
    "subsidy_id": subsidy_id,
    "shared_service_id": shared_service_id,
    "seat_app_id": seat_app_id,
    "demo_call_id": demo_call_id,
    "demo_app_id": demo_app_id,
    "milestone_id": milestone_id,
}

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/programme/vouchers/{voucher_id}/act"): lambda o: {"action": "submit", "note": ""},
    ("POST", "/programme/vouchers/{voucher_id}/redeem"): lambda o: {"actual_paid": "10000", "invoice_no": "INV"},
    ("POST", "/api/v1/programme/vouchers/{voucher_id}/transitions"): lambda o: {"action": "submit"},
    ("POST", "/programme/subsidies/{subsidy_id}/act"): lambda o: {"action": "submit"},
    ("POST", "/api/v1/programme/subsidies/{subsidy_id}/transitions"): lambda o: {"action": "submit"},
    ("POST", "/programme/subsidies/{subsidy_id}/score"): lambda o: {"technology": "30", "benefit": "20", "costs": "20"},
    ("POST", "/programme/seats/{seat_app_id}/release"): lambda o: {"action": "release"},
    ("POST", "/programme/demonstration/{demo_app_id}/act"): lambda o: {"action": "submit"},
    ("POST", "/programme/demonstration/{demo_app_id}/score"): lambda o: {"a": "50"},
    ("POST", "/programme/milestones/{milestone_id}"): lambda o: {"actual_value": "5"},
    ("POST", "/programme/shared-services/apply"): lambda o: {"service_id": "1"},
    ("POST", "/programme/demonstration/apply"): lambda o: {
        "call_id": "1",
        "title": "t",
        "metric": "m",
        "target_value": "1",
        "due_on": "2020-12-31",
    },
    ("POST", "/programme/expert-links"): lambda o: {"org_id": str(o.id), "relation": "x"},
    ("POST", "/gov/programme/voucher-rounds"): lambda o: {
        "year": "2019",
        "budget": "100000",
        "face_ratio": "0.5",
        "cap_per_enterprise": "1000",
        "claim_opens": "2019-01-01",
        "claim_closes": "2019-06-30",
        "redeem_opens": "2019-01-01",
        "redeem_closes": "2019-12-31",
    },
    ("POST", "/gov/programme/voucher-rounds/{voucher_round_id}/pay"): lambda o: {"reference": "B-1"},
    ("POST", "/gov/programme/shared-services"): lambda o: {
        "name": "s",
        "area": "office",
        "year": "2019",
        "seats_toys": "1",
    },
    ("POST", "/gov/programme/demonstration-calls"): lambda o: {
        "kind": "base",
        "year": "2019",
        "title": "t",
        "opens_on": "2019-01-01",
        "closes_on": "2019-02-01",
        "slots": "1",
    },
}
