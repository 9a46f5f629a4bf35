"""Demo tariffs and prices as carriers and cloud providers would record them (inputs typed by providers, not
figures the platform claims to compute: the two targets are then computed from them by the real rules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity.models import Organisation
from chaoyun.marketplace.prices.models import PriceRecord

# provider name → [(kind, item, unit, [(effective_from, list price, programme price or None), ...])]
PRICES: dict[str, list[tuple[str, str, str, list[tuple[date, str, str | None]]]]] = {
    "汕头电信政企云服务有限公司": [
        (
            "dedicated_line",
            "20M 互联网专线",
            "元/月",
            [(date(2017, 1, 1), "1500", None), (date(2019, 7, 1), "1200", "1050"), (date(2020, 7, 1), "1100", "960")],
        ),
        (
            "dedicated_line",
            "100M 互联网专线",
            "元/月",
            [(date(2017, 1, 1), "3800", None), (date(2019, 7, 1), "3200", "2900"), (date(2020, 7, 1), "3000", "2500")],
        ),
        (
            "dedicated_line",
            "1000M 互联网专线",
            "元/月",
            [
                (date(2017, 6, 1), "21000", None),
                (date(2019, 7, 1), "18000", "15500"),
                (date(2020, 7, 1), "16000", "13800"),
            ],
        ),
        (
            "data_traffic",
            "物联网卡定向流量",
            "元/GB",
            [(date(2017, 1, 1), "5.00", None), (date(2019, 1, 1), "4.00", "3.20"), (date(2020, 1, 1), "3.50", "2.80")],
        ),
    ],
    "汕头5G工业网络服务有限公司": [
        # No 2017 baseline (5G came later): listed, not compared.
        ("data_traffic", "5G 工业专网流量", "元/GB", [(date(2020, 3, 1), "2.00", "1.50")]),
    ],
    "粤东工业互联网平台科技有限公司": [
        (
            "cloud_resource",
            "云服务器 2核4G",
            "元/月",
            [(date(2018, 9, 1), "300", "210"), (date(2020, 1, 1), "280", "182")],
        ),
        ("cloud_resource", "对象存储", "元/GB·月", [(date(2018, 9, 1), "0.12", "0.09")]),
    ],
    "潮汕智造云科技有限公司": [
        ("cloud_software", "云MES 标准版", "元/用户·月", [(date(2019, 3, 1), "120", "80")]),
        ("cloud_software", "设备联网 SaaS", "元/台·月", [(date(2019, 3, 1), "30", "20")]),
    ],
}


def seed(db: Session) -> int:
    """Idempotent: a record already there (same provider, item and date) is left alone."""
    created = 0
    for name, items in PRICES.items():
        org_id = db.execute(select(Organisation.id).where(Organisation.name == name)).scalar_one_or_none()
        if org_id is None:
            continue
        for kind, item, unit, history in items:
            for eff, lp, pp in history:
                exists = db.execute(
                    select(PriceRecord.id).where(
                        PriceRecord.org_id == org_id,
                        PriceRecord.kind == kind,
                        PriceRecord.item == item,
                        PriceRecord.effective_from == eff,
                    )
                ).first()
                if exists:
                    continue
                db.add(
                    PriceRecord(
                        org_id=org_id,
                        kind=kind,
                        item=item,
                        unit=unit,
                        list_price=Decimal(lp),
                        programme_price=Decimal(pp) if pp else None,
                        effective_from=eff,
                        note="演示数据",
                        recorded_by=0,
                    )
                )
                created += 1
    db.commit()
    return created
