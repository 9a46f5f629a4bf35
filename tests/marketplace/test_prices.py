"""Carriers' tariffs and cloud prices: recorded by providers through the page and the API, refused clearly
when wrong, and the plan's two price targets computed from them."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from chaoyun.marketplace.prices import service as prices
from chaoyun.programme.targets import evaluate


def test_targets_are_computed_from_the_demo_records(db: Session) -> None:
    # 2020 tariffs against the 2017 baseline: 20M 1500→960 (36 %), 100M 3800→2500 (34.2 %),
    # 1000M 21000→13800 (34.3 %), traffic 5.00→2.80 (44 %); 5G has no baseline and is not compared.
    t = prices.tariff_reduction(db, 2020)
    assert t.value == 37.1
    assert [i.item for i in t.items if i.change_pct is None] == ["5G 工业专网流量"]
    r = evaluate(db, "network.tariff_reduction", 2020)
    assert r.available and r.value == 37.1 and r.detail["items"] == 4
    # 2019: 1050, 2900, 15500, 3.20 against the same bases.
    assert prices.tariff_reduction(db, 2019).value == round((30 + 23.6842 + 26.1905 + 36) / 4, 1)
    # Cloud at the end of 2020: 182/280 (35 %), 0.09/0.12 (25 %), 80/120 and 20/30 (33.3 % each).
    assert prices.cloud_discount(db, 2020).value == 31.7
    assert evaluate(db, "cloud.public_discount", 2020).value == 31.7
    # City-wide only.
    assert not evaluate(db, "cloud.public_discount", 2020, district="chenghai").available


def test_provider_records_through_the_page_with_every_error_beside_its_field(login: Any) -> None:
    c = login("provider")
    page = c.get("/market/prices")
    assert page.status_code == 200 and 'id="price-form"' in page.text
    bad = {
        "kind": "cloud_resource",
        "item": "测试云主机",
        "unit": "",
        "list_price": "-5",
        "programme_price": "abc",
        "effective_from": "2999-01-01",
        "note": "保留的备注",
    }
    r = c.post("/market/prices", data=bad)
    assert r.status_code == 422
    for field in ("unit", "list_price", "programme_price", "effective_from"):
        assert f'data-field="{field}"' in r.text, field
    assert "保留的备注" in r.text and "测试云主机" in r.text  # what was typed is kept
    item = f"测试云主机{secrets.token_hex(2)}"
    good = {
        "kind": "cloud_resource",
        "item": item,
        "unit": "元/月",
        "list_price": "1,000",
        "programme_price": "650",
        "effective_from": date.today().isoformat(),
    }
    r = c.post("/market/prices", data=good)
    assert r.status_code == 303, r.text
    page = c.get("/market/prices")
    assert item in page.text and "1,000.00" in page.text
    # The same item and date again is refused, and nothing is changed.
    r = c.post("/market/prices", data=good | {"list_price": "900"})
    assert r.status_code == 422 and 'data-field="effective_from"' in r.text and "已经登记" in r.text
    assert "1,000.00" in c.get("/market/prices").text
    # A programme price above the list price makes no sense.
    r = c.post("/market/prices", data=good | {"item": item + "b", "programme_price": "2000"})
    assert r.status_code == 422 and 'data-field="programme_price"' in r.text


def test_api_and_scope(login: Any) -> None:
    provider = login("provider")
    r = provider.post(
        "/api/v1/market/prices",
        json={
            "kind": "data_traffic",
            "item": f"流量{secrets.token_hex(2)}",
            "unit": "元/GB",
            "list_price": "abc",
            "effective_from": date.today().isoformat(),
        },
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "list_price"
    assert r.json()["error"]["message_zh"] and r.json()["error"]["message_en"]
    mine = provider.get("/api/v1/market/prices").json()
    assert mine and {p["provider_name"] for p in mine} == {mine[0]["provider_name"]}  # only its own
    city = login("city").get("/api/v1/market/prices").json()
    assert len({p["provider_name"] for p in city}) >= 4
    idx = login("city").get("/api/v1/market/price-indices?year=2020").json()
    assert idx["tariff_reduction_pct"] == 37.1 and idx["cloud_discount_pct"] == 31.7
    # An enterprise neither records nor reads prices.
    factory = login("factory")
    assert factory.get("/api/v1/market/prices").status_code == 403
    assert factory.post("/api/v1/market/prices", json={}).status_code in (403, 422)
