"""Catalogue: Chinese search (FTS5 trigram on SQLite, pg_trgm/ILIKE on PostgreSQL), comparison,
ratings only with a verified contract, matching with explained terms, and the pages."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.errors import Forbidden, Invalid, NotFound
from chaoyun.marketplace import catalogue, files, pool
from chaoyun.marketplace.catalogue import SearchFilter, search
from chaoyun.marketplace.demo import SUSPENDED, _providers
from chaoyun.marketplace.models import Admission, Offering, Rating
from chaoyun.marketplace.schemas import ApplicationIn, ContractIn, OfferingIn, RatingIn
from tests.marketplace.conftest import PDF, actor_of, application


def names(db: Session, **kw: Any) -> list[str]:
    return [o.name for o, _ in search(db, SearchFilter(**kw))]


def test_chinese_search_finds_substrings(db: Session) -> None:
    assert "云联 MES 智能排产" in names(db, q="智能排产")  # 4 characters: trigram index
    assert "云联 MES 智能排产" in names(db, q="排产")  # 2 characters: substring scan
    assert "能效管家·能耗在线监测" in names(db, q="峰谷电价")  # from the description
    assert names(db, q="视觉 注塑") == ["注塑件尺寸视觉测量"]  # every term must match
    assert "潮汕智造云 MES（玩具版）" in names(db, q="mes")  # case-insensitive Latin
    assert names(db, q="不存在的东西") == []
    # Search syntax and wildcard characters are taken literally.
    assert names(db, q='"排产" OR x') == []
    assert names(db, q="100%") == []
    assert names(db, q="a_b") == []
    assert names(db, q="x' OR '1'='1") == [] and names(db, q="'") == [] and names(db, q="\\") == []


def test_search_by_provider_name_and_filters(db: Session) -> None:
    assert set(names(db, q="能效管家")) >= {"能效管家·能耗在线监测"}
    toys_edge = names(db, industry="toys", deployment="edge")
    assert "边缘计算网关与数据采集服务" in toys_edge and "服装电商与会员营销云" not in toys_edge
    assert all(o.category == "ai" for o, _ in search(db, SearchFilter(category="ai")))
    with_voucher = search(db, SearchFilter(cost_category="device_access"))
    assert with_voucher and all("device_access" in o.cost_categories for o, _ in with_voucher)
    suspended = _providers(db)[SUSPENDED]
    assert all(o.org_id != suspended.id for o, _ in search(db, SearchFilter(whitelisted=True)))
    assert any(o.org_id == suspended.id for o, _ in search(db, SearchFilter()))


def test_search_index_follows_edits_and_hides_non_pool(db: Session) -> None:
    city = actor_of(db, "city")
    adm, user = pool.apply(db, ApplicationIn.model_validate(application()), [])
    from chaoyun.identity.permissions import Actor

    db.refresh(user)
    prov = Actor(user=user, membership=user.memberships[0])
    data = OfferingIn(
        name="套结机云端参数配方", category="iiot", summary="参数配方云端下发", description="支持套结机联网"
    )
    off = catalogue.create_offering(db, prov, data)
    assert names(db, q="参数配方") == []  # not in the pool yet
    pool.decide(db, city, adm.id, True)
    assert names(db, q="参数配方") == ["套结机云端参数配方"]
    catalogue.update_offering(
        db, prov, off.id, data.model_copy(update={"name": "套结机云端工艺卡片", "summary": "", "description": ""})
    )
    assert names(db, q="参数配方") == []
    assert names(db, q="工艺卡片") == ["套结机云端工艺卡片"]
    with pytest.raises(Invalid):
        catalogue.create_offering(db, prov, data.model_copy(update={"deployment": ["mainframe"]}))
    other = actor_of(db, "provider")
    with pytest.raises(NotFound):
        catalogue.update_offering(db, other, off.id, data)


def test_compare_at_most_four(db: Session) -> None:
    ids = [o.id for o, _ in search(db, SearchFilter())][:5]
    assert len(catalogue.compare(db, ids[:4])) == 4
    with pytest.raises(Invalid):
        catalogue.compare(db, ids)


def _offering_of(db: Session, provider_index: int) -> Offering:
    org = _providers(db)[provider_index]
    off = db.execute(select(Offering).where(Offering.org_id == org.id).order_by(Offering.id)).scalars().first()
    assert off is not None
    return off


def test_rating_needs_a_verified_contract(db: Session, login: Any) -> None:
    factory2 = actor_of(db, "factory2")
    off = _offering_of(db, 16)
    before = db.execute(select(func.count()).select_from(Rating)).scalar_one()
    client = login("factory2")
    r = client.post(f"/api/v1/market/offerings/{off.id}/ratings", json={"score": 4})
    assert r.status_code == 403
    err = r.json()["error"]
    assert "verified contract" in err["message_en"] and "确认" in err["message_zh"]
    # Declared but not yet confirmed is not enough.
    c = catalogue.declare_contract(
        db,
        factory2,
        ContractIn(
            provider_org_id=off.org_id,
            offering_id=off.id,
            title="能耗监测服务",
            amount="6800",
            signed_on=date(2019, 3, 1),
        ),
    )
    with pytest.raises(Forbidden):
        catalogue.rate(db, factory2, off.id, RatingIn(score=4))
    assert db.execute(select(func.count()).select_from(Rating)).scalar_one() == before
    # Another provider cannot confirm it; the contract's provider can.
    with pytest.raises(NotFound):
        catalogue.confirm_contract(db, actor_of(db, "provider"), c.id, True)
    prov_org = db.get(Admission, db.execute(select(Admission.id).where(Admission.org_id == off.org_id)).scalar_one())
    assert prov_org is not None
    from chaoyun.identity.models import Membership, User

    u = User(username=f"energy_admin_{c.id}", display_name="能效管家管理员")
    db.add(u)
    db.flush()
    db.add(Membership(user_id=u.id, org_id=off.org_id, role="provider_admin"))
    db.commit()
    db.refresh(u)
    catalogue.confirm_contract(db, actor_of(db, u.username), c.id, True)
    r = client.post(f"/api/v1/market/offerings/{off.id}/ratings", json={"score": 6})
    assert r.status_code == 422
    r = client.post(f"/api/v1/market/offerings/{off.id}/ratings", json={"score": 4})
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/market/offerings/{off.id}/ratings", json={"score": 5})
    assert r.status_code == 201  # a second rating replaces the first
    assert db.execute(select(func.count()).select_from(Rating).where(Rating.offering_id == off.id)).scalar_one() == 1


def test_matching_explains_each_term(db: Session) -> None:
    need = catalogue.parse_need(["能耗管理"], "注塑机能耗太高，想做智能排产", "toys")
    assert "energy" in need.domains and "production_control" in need.domains
    assert {"注塑", "能耗", "排产"} <= need.keywords
    ms = catalogue.match_offerings(db, need)
    assert ms and ms[0].score == max(m.score for m in ms)
    for m in ms:
        assert m.score == round(sum(t.weight for t in m.terms), 2)
        assert any(t.kind in ("category", "domain", "keyword") for t in m.terms)
    top = [m.offering.name for m in ms[:5] if m.offering]
    assert "能效管家·能耗在线监测" in top
    provs = catalogue.match_providers(db, need)
    suspended = _providers(db)[SUSPENDED]
    assert provs and all(m.provider_id != suspended.id for m in provs)


# ---------------------------------------------------------------- pages


def test_public_pages_need_no_login(login: Any, db: Session) -> None:
    anon = login(None)
    r = anon.get("/market?q=智能排产")
    assert r.status_code == 200 and "云联 MES 智能排产" in r.text and "服务目录" in r.text
    off = _offering_of(db, 15)
    assert anon.get(f"/market/offerings/{off.id}").status_code == 200
    ids = [o.id for o, _ in search(db, SearchFilter())][:5]
    assert anon.get("/market/compare?" + "&".join(f"ids={i}" for i in ids[:4])).status_code == 200
    r = anon.get("/market/compare?" + "&".join(f"ids={i}" for i in ids))
    assert r.status_code == 422 and "最多对比四项" in r.text
    assert anon.get(f"/market/providers/{off.org_id}").status_code == 200
    pending = _providers(db)[18]
    assert anon.get(f"/market/providers/{pending.id}").status_code == 404
    assert anon.get(f"/api/v1/market/providers/{_providers(db)[SUSPENDED].id}/eligibility").json()["eligible"] is False


def test_public_pages_show_no_enterprise_data(login: Any, db: Session) -> None:
    """Ratings are public but anonymous: no enterprise name or credit code on public pages."""
    from chaoyun.identity.models import Organisation

    anon = login(None)
    off = _offering_of(db, 2)  # the demo toy factory rated it
    text = anon.get(f"/market/offerings/{off.id}").text
    for ent in db.execute(select(Organisation).where(Organisation.kind == "enterprise")).scalars():
        assert ent.credit_code not in text and ent.name not in text


def test_application_form_end_to_end(login: Any, db: Session) -> None:
    anon = login(None)
    data = application()
    body = {**data, "csrf_token": anon.csrf}  # list values post as repeated fields (checkbox groups)
    big = b"%PDF" + b"0" * (5 * 1024 * 1024 + 1)
    r = anon.client.post("/market/apply", data=body, files=[("attachments", ("licence.pdf", big, "application/pdf"))])
    assert r.status_code == 422 and "5 MB" in r.text and 'value="' + data["name"] in r.text
    r = anon.client.post(
        "/market/apply", data=body, files=[("attachments", ("x.exe", b"MZ", "application/octet-stream"))]
    )
    assert r.status_code == 422
    r = anon.client.post("/market/apply", data=body, files=[("attachments", ("licence.pdf", PDF, "application/pdf"))])
    assert r.status_code == 303, r.text
    applicant = login(data["username"], data["password"])
    page = applicant.get("/provider/pool")
    assert page.status_code == 200 and 'data-status="applied"' in page.text
    # Pending: no offerings yet (the organisation is not active).
    assert applicant.get("/provider/offerings/new").status_code == 403
    city = login("city")
    adm = db.execute(select(Admission).order_by(Admission.id.desc())).scalars().first()
    assert adm is not None
    r = city.post(f"/gov/market/applications/{adm.id}/decide", data={"admit": "0", "reason": ""})
    assert r.status_code == 422 and "请填写驳回理由" in r.text
    r = city.post(f"/gov/market/applications/{adm.id}/decide", data={"admit": "1"})
    assert r.status_code == 303
    applicant = login(data["username"], data["password"])
    assert applicant.get("/provider/offerings/new").status_code == 200
    att = re.search(r"/market/attachments/(\d+)", city.get(f"/gov/market/applications/{adm.id}").text)
    assert att is not None
    assert city.get(att.group(0)).content == PDF
    assert login("provider").get(att.group(0)).status_code == 404


def test_home_panels_render(login: Any) -> None:
    for user, text in (("city", "份申请待审核"), ("factory", "适合本行业的服务"), ("provider", "服务券额度")):
        r = login(user).get("/home")
        assert r.status_code == 200 and text in r.text.split("</title>")[1], user


def test_gov_pages_and_export(login: Any) -> None:
    city = login("city")
    r = city.get("/gov/market")
    assert r.status_code == 200 and "资源池" in r.text
    r = city.get(f"/gov/provincial/export?year={date.today().year}")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    expert = login("expert")
    assert expert.get("/gov/market").status_code == 200
    assert expert.post("/gov/provincial", data={"year": "2019", "org_ids": "1"}).status_code == 403


def test_evidence_upload_checks_type(login: Any, db: Session) -> None:
    from chaoyun.marketplace.models import Assessment

    prov = login("provider")
    org_id = actor_of(db, "provider").org_id
    a = Assessment(org_id=org_id, status="open", scores={}, notes={})
    db.add(a)
    db.commit()
    r = prov.client.post(
        f"/provider/assessments/{a.id}/evidence",
        data={"csrf_token": prov.csrf, "item": "NET-1"},
        files=[("file", ("diagram.svg", b"<svg/>", "image/svg+xml"))],
    )
    assert r.status_code == 422 and "diagram.svg" in r.text
    r = prov.client.post(
        f"/provider/assessments/{a.id}/evidence",
        data={"csrf_token": prov.csrf, "item": "NET-1"},
        files=[("file", ("diagram.png", b"\x89PNG\r\n", "image/png"))],
    )
    assert r.status_code == 303
    assert files.storage_dir().exists()


def test_no_evidence_after_the_assessment_is_concluded(login: Any, db: Session) -> None:
    """Evidence could be added to an assessment that had already passed (the decision's basis changed)."""
    from sqlalchemy import func, select

    from chaoyun.marketplace.models import Assessment, Attachment

    prov = login("provider")
    org_id = actor_of(db, "provider").org_id
    for status in ("passed", "failed"):
        a = Assessment(org_id=org_id, status=status, scores={}, notes={}, total=90.0)
        db.add(a)
        db.commit()
        before = db.execute(select(func.count()).select_from(Attachment)).scalar_one()
        r = prov.client.post(
            f"/provider/assessments/{a.id}/evidence",
            data={"csrf_token": prov.csrf, "item": "NET-1"},
            files=[("file", ("late.png", b"\x89PNG\r\n", "image/png"))],
        )
        assert r.status_code == 409 and "该评估已完成" in r.text, (status, r.status_code)
        assert db.execute(select(func.count()).select_from(Attachment)).scalar_one() == before
