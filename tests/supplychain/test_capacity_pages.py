"""Capacity pages as the demo users: publish an offer, find it, book it (a bad time range comes back beside its
field), the owner confirms; both languages; the API answers the same."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from chaoyun import timefmt
from chaoyun.supplychain.capacity.models import CapacityBooking
from tests.apps.helpers import new_device
from tests.test_route_security import org_of


def _token(html: str, action: str | None = None) -> str:
    if action:
        html = html[html.index(f'action="{action}"') :]
    m = re.search(r'name="form_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_publish_search_book_confirm(db: Session, login: Any) -> None:
    owner_org, req_org = org_of(db, "factory2"), org_of(db, "factory")
    new_device(db, owner_org.id, "cnc", "共享CNC-1")
    owner = login("factory2")
    home = owner.get("/supplychain/capacity")
    assert home.status_code == 200 and "本企业设备的闲置产能" in home.text
    today = timefmt.local_today()
    form = {
        "form_token": _token(home.text),
        "machine_type": "cnc",
        "capability": "三轴 立式加工中心",
        "hours_per_week": "16",
        "price_per_hour": "abc",
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=40)).isoformat(),
    }
    bad = owner.post("/supplychain/capacity/offers", form)
    assert bad.status_code == 422 and 'data-field="price_per_hour"' in bad.text and "三轴 立式加工中心" in bad.text
    ok = owner.post("/supplychain/capacity/offers", {**form, "price_per_hour": "180.00"})
    assert ok.status_code == 303
    again = owner.post("/supplychain/capacity/offers", {**form, "price_per_hour": "180.00"})
    assert again.status_code == 303
    offers = owner.get("/api/v1/supplychain/capacity/offers").json()
    assert len([o for o in offers if o["capability"] == "三轴 立式加工中心"]) == 1
    offer_id = next(o["id"] for o in offers if o["capability"] == "三轴 立式加工中心")
    req = login("factory")
    found = req.get("/supplychain/capacity/search?machine_type=cnc&district=chenghai")
    assert found.status_code == 200 and f'data-offer="{offer_id}"' in found.text and owner_org.name in found.text
    day = (today + timedelta(days=9)).isoformat()
    action = f"/supplychain/capacity/offers/{offer_id}/book"
    tok = _token(found.text, action)
    wrong = req.post(action, {"form_token": tok, "start": f"{day}T12:00", "end": f"{day}T08:00", "item_name": "外壳"})
    assert wrong.status_code == 422 and "结束" in wrong.text and f'value="{day}T12:00"' in wrong.text
    booked = req.post(action, {"form_token": tok, "start": f"{day}T08:00", "end": f"{day}T12:00", "item_name": "外壳"})
    assert booked.status_code == 303
    b = db.query(CapacityBooking).filter(CapacityBooking.offer_id == offer_id).one()
    assert b.requester_org_id == req_org.id and b.hours == 4
    mine = owner.get("/supplychain/capacity")
    assert f'data-booking="{b.id}"' in mine.text and "待答复的产能预约" in owner.get("/home").text
    conf = owner.post(f"/supplychain/capacity/bookings/{b.id}/confirm", {})
    assert conf.status_code == 303
    twice = owner.post(f"/supplychain/capacity/bookings/{b.id}/confirm", {})
    assert twice.status_code == 409 and "该预约已答复" in twice.text
    out = req.get(f"/api/v1/supplychain/capacity/bookings/{b.id}").json()
    assert out["state"] == "confirmed" and out["order_id"] and out["amount"] == "720.00"
    owner.post("/lang", {"lang": "en", "back": "/home"})
    assert "Idle capacity of our machines" in owner.get("/supplychain/capacity").text
