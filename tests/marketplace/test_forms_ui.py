"""Marketplace forms refuse bad input beside the field and keep what was typed: quota adjustments
(bounded, labelled as a change, resulting quota shown) and phone numbers."""

import re
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chaoyun.marketplace import service
from chaoyun.marketplace.models import Admission, QuotaAdjustment
from tests import factories
from tests.marketplace.conftest import application


def _admitted(db: Session) -> Admission:
    adm = db.execute(select(Admission).where(Admission.status == "admitted").order_by(Admission.id)).scalars().first()
    assert adm is not None
    return adm


def _beside(html: str, field: str) -> str:
    m = re.search(rf'data-field="{field}">([^<]+)<', html)
    assert m, f"no error beside {field}"
    return m.group(1)


def test_quota_adjustment_bounded_and_kept(login: Any, db: Session) -> None:
    adm = _admitted(db)
    year = date.today().year
    url = f"/gov/market/applications/{adm.id}/quota"
    city = login("city")
    page = city.get(f"/gov/market/applications/{adm.id}").text
    assert "调整额度（+/−）" in page and 'id="quota-after"' in page
    count = db.execute(select(func.count()).select_from(QuotaAdjustment)).scalar_one()
    r = city.post(url, data={"year": year, "amount": "99,999,999,999,999", "reason": "录入错误"})
    assert r.status_code == 422
    assert "十倍" in _beside(r.text, "amount")
    assert 'value="99,999,999,999,999"' in r.text and 'value="录入错误"' in r.text
    r = city.post(url, data={"year": year, "amount": "abc", "reason": "x"})
    assert r.status_code == 422 and _beside(r.text, "amount")
    quota = service.provider_quota(db, adm.org_id, year)
    r = city.post(url, data={"year": year, "amount": str(-(quota + 1)), "reason": "扣减"})
    assert r.status_code == 422 and "低于 0" in _beside(r.text, "amount")
    r = city.post(url, data={"year": year, "amount": "500000", "reason": ""})
    assert r.status_code == 422 and _beside(r.text, "reason") and 'value="500000"' in r.text
    assert db.execute(select(func.count()).select_from(QuotaAdjustment)).scalar_one() == count
    r = city.post(url, data={"year": year, "amount": "500,000", "reason": "年度评价优秀"})
    assert r.status_code == 303
    db.expire_all()
    assert service.provider_quota(db, adm.org_id, year) == quota + Decimal("500000")
    assert f"{quota + 500000:,.0f}" in city.get(r.headers["location"]).text


def test_phone_abc_refused_beside_the_field(login: Any) -> None:
    anon = login(None)
    data = application(contact_phone="abc")
    r = anon.post("/market/apply", data=data)
    assert r.status_code == 422
    m = re.search(r'data-field-error="contact_phone">([^<]+)<', r.text)
    assert m and "电话" in m.group(1)
    assert 'value="abc"' in r.text and f'value="{data["name"]}"' in r.text
    # Phones as people write them pass.
    for ok in ("0754-8888 1234", "+86 138 0013 8000", "(0754)88881234"):
        r = anon.post("/market/apply", data=application(contact_phone=ok))
        assert r.status_code == 303, (ok, re.findall(r'data-field-error="(\w+)"', r.text))
    # The enterprise registration's contact phone too.
    r = anon.post("/register", data=factories.registration(contact_phone="abc"))
    assert r.status_code == 422 and "电话" in r.text


def test_pool_application_comes_back_with_values(login: Any, db: Session) -> None:
    from tests.devices.helpers import org_of

    org = org_of(db, "provider")
    adm = db.execute(select(Admission).where(Admission.org_id == org.id)).scalar_one_or_none()
    before = adm.status if adm else None
    if adm is not None:
        adm.status = "rejected"  # a rejected provider may apply again: the form is shown
        db.commit()
    try:
        prov = login("provider")
        data = {
            "provider_type": "service",
            "registered_place": "x",
            "categories": ["solutions"],
            "qualifications": "ISO 9001 认证",
        }
        r = prov.post("/provider/pool/apply", data=data)
        assert r.status_code == 422
        assert 'data-field-error="registered_place"' in r.text
        assert "ISO 9001 认证</textarea>" in r.text and 'value="solutions" checked' in r.text
    finally:
        if adm is not None:
            adm.status = before or adm.status
            db.commit()
