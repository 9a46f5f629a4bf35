"""Route samples for the marketplace: objects owned by the given organisation (or, for owners that
cannot own such an object, by a separate sample provider nobody in the tests belongs to)."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation, ProviderProfile
from chaoyun.marketplace.files import storage_dir
from chaoyun.marketplace.models import (
    Admission,
    Assessment,
    Attachment,
    Complaint,
    Contract,
    Offering,
    Recommendation,
)
from tests import factories

SAMPLE_PROVIDER = "路由测试服务商有限公司"


def _sample_provider(db: Session) -> Organisation:
    org = db.execute(select(Organisation).where(Organisation.name == SAMPLE_PROVIDER)).scalar_one_or_none()
    if org is None:
        org = Organisation(kind="provider", name=SAMPLE_PROVIDER, credit_code=factories.credit_code(), status="active")
        org.provider = ProviderProfile(provider_type="service", service_categories=["solutions"])
        db.add(org)
        db.commit()
    return org


def _provider_for(db: Session, owner: Organisation) -> Organisation:
    return owner if owner.kind == "provider" else _sample_provider(db)


def _admission(db: Session, prov: Organisation) -> Admission:
    adm = db.execute(select(Admission).where(Admission.org_id == prov.id)).scalar_one_or_none()
    if adm is None:
        adm = Admission(
            org_id=prov.id,
            provider_type="service",
            registered_place="汕头",
            categories=["solutions"],
            saas_domains=[],
            status="admitted",
        )
        db.add(adm)
        db.commit()
    return adm


def offering_id(db: Session, owner: Organisation) -> str:
    prov = _provider_for(db, owner)
    _admission(db, prov)
    off = db.execute(select(Offering).where(Offering.org_id == prov.id).order_by(Offering.id)).scalars().first()
    if off is None:
        off = Offering(
            org_id=prov.id, name="路由测试云MES", category="solutions", summary="测试", search_text="路由测试云MES"
        )
        db.add(off)
        db.commit()
    return str(off.id)


def provider_id(db: Session, owner: Organisation) -> str:
    return str(_provider_for(db, owner).id)


def application_id(db: Session, owner: Organisation) -> str:
    return str(_admission(db, _provider_for(db, owner)).id)


def assessment_id(db: Session, owner: Organisation) -> str:
    prov = _provider_for(db, owner)
    _admission(db, prov)
    a = db.execute(select(Assessment).where(Assessment.org_id == prov.id).order_by(Assessment.id)).scalars().first()
    if a is None:
        a = Assessment(org_id=prov.id, status="open", scores={}, notes={})
        db.add(a)
        db.commit()
    return str(a.id)


def contract_id(db: Session, owner: Organisation) -> str:
    if owner.kind == "provider":
        ent = (
            db.execute(select(Organisation).where(Organisation.kind == "enterprise").order_by(Organisation.id))
            .scalars()
            .first()
        )
        assert ent is not None
        ent_id, prov_id = ent.id, owner.id
    else:
        ent_id, prov_id = owner.id, _sample_provider(db).id
    c = Contract(
        enterprise_org_id=ent_id,
        provider_org_id=prov_id,
        title="路由测试合同",
        amount=Decimal("1000"),
        signed_on=date(2019, 1, 1),
        status="declared",
    )
    db.add(c)
    db.commit()
    return str(c.id)


def complaint_id(db: Session, owner: Organisation) -> str:
    prov = _provider_for(db, owner)
    ent = (
        owner
        if owner.kind == "enterprise"
        else db.execute(select(Organisation).where(Organisation.kind == "enterprise").order_by(Organisation.id))
        .scalars()
        .first()
    )
    assert ent is not None
    c = Complaint(provider_org_id=prov.id, enterprise_org_id=ent.id, text="路由测试投诉")
    db.add(c)
    db.commit()
    return str(c.id)


def recommendation_id(db: Session, owner: Organisation) -> str:
    prov = _provider_for(db, owner)
    _admission(db, prov)
    r = db.execute(select(Recommendation).where(Recommendation.org_id == prov.id)).scalars().first()
    if r is None:
        r = Recommendation(org_id=prov.id, year=2000, status="selected")
        db.add(r)
        db.commit()
    return str(r.id)


def attachment_id(db: Session, owner: Organisation) -> str:
    prov = _provider_for(db, owner)
    adm = _admission(db, prov)
    stored = secrets.token_hex(8) + ".pdf"
    (storage_dir() / stored).write_bytes(b"%PDF-1.4 route sample")
    att = Attachment(
        org_id=prov.id,
        object_type="admission",
        object_id=adm.id,
        kind="other",
        filename="sample.pdf",
        content_type="application/pdf",
        size=21,
        sha256="0" * 64,
        stored_name=stored,
    )
    db.add(att)
    db.commit()
    return str(att.id)


PATH_PARAMS = {
    "offering_id": offering_id,
    "provider_id": provider_id,
    "application_id": application_id,
    "assessment_id": assessment_id,
    "contract_id": contract_id,
    "complaint_id": complaint_id,
    "recommendation_id": recommendation_id,
    "attachment_id": attachment_id,
}


def _application(owner: Organisation) -> dict[str, Any]:
    r = factories.registration()
    return {
        "credit_code": r["credit_code"],
        "name": r["name"].replace("玩具", "云服务"),
        "registered_place": "广东省汕头市龙湖区",
        "provider_type": "service",
        "categories": "solutions",
        "username": r["username"],
        "display_name": "王总",
        "password": "secret-pass-1",
    }


def _offering(owner: Organisation) -> dict[str, Any]:
    return {
        "name": "测试云排产",
        "kind": "app",
        "category": "solutions",
        "summary": "测试",
        "price_model": "subscription",
    }


BODIES = {
    ("POST", "/market/apply"): _application,
    ("POST", "/market/contracts"): lambda o: {
        "provider_org_id": "1",
        "title": "测试合同",
        "amount": "1000",
        "signed_on": "2019-01-01",
    },
    ("POST", "/market/contracts/{contract_id}/confirm"): lambda o: {"accept": "1"},
    ("POST", "/market/offerings/{offering_id}/rate"): lambda o: {"score": "5", "comment": "好"},
    ("POST", "/api/v1/market/offerings/{offering_id}/ratings"): lambda o: {"score": 5},
    ("POST", "/market/complaints"): lambda o: {"provider_org_id": "1", "text": "服务响应太慢了"},
    ("POST", "/provider/offerings/new"): _offering,
    ("POST", "/provider/offerings/{offering_id}/edit"): _offering,
    ("POST", "/gov/market/applications/{application_id}/opinion"): lambda o: {"recommend": "1", "comment": "同意"},
    ("POST", "/gov/market/applications/{application_id}/decide"): lambda o: {"admit": "1"},
    ("POST", "/gov/market/applications/{application_id}/evaluate"): lambda o: {"year": "2019"},
    ("POST", "/gov/market/applications/{application_id}/leading"): lambda o: {"leading": "0"},
    ("POST", "/gov/market/applications/{application_id}/quota"): lambda o: {
        "year": "2019",
        "amount": "1000",
        "reason": "测试",
    },
    ("POST", "/gov/market/assessments/{assessment_id}/score"): lambda o: {"score_DEV-1": "5"},
    ("POST", "/gov/market/assessments/{assessment_id}/spot-check"): lambda o: {"passed": "1"},
    ("POST", "/gov/market/assessments/{assessment_id}/reinstate"): lambda o: {"reason": "整改完成"},
    ("POST", "/gov/market/complaints/{complaint_id}"): lambda o: {"upheld": "0"},
    ("POST", "/gov/provincial"): lambda o: {"year": "2019", "org_ids": "1"},
    ("POST", "/gov/provincial/{recommendation_id}"): lambda o: {"status": "submitted"},
}

BODIES[("POST", "/provider/pool/apply")] = lambda o: {
    "provider_type": "service",
    "registered_place": "广东省汕头市",
    "categories": "solutions",
}
