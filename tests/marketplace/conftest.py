from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from chaoyun.db import get_sessionmaker
from tests import factories

_n = itertools.count(1)
_W = os.environ.get("PYTEST_XDIST_WORKER", "gw9")
PDF = b"%PDF-1.4\n% test document\n"


@pytest.fixture(scope="module", autouse=True)
def _market_demo() -> Iterator[None]:
    from chaoyun.marketplace import demo

    with get_sessionmaker()() as db:
        demo.seed(db)
    yield


def application(**over: Any) -> dict[str, Any]:
    n = next(_n)
    data: dict[str, Any] = {
        "credit_code": factories.credit_code(),
        "name": f"汕头市测试工业软件{_W}{n}有限公司",
        "registered_place": "广东省汕头市龙湖区",
        "district": "longhu",
        "provider_type": "service",
        "platform_scope": "",
        "categories": ["solutions", "iiot"],
        "saas_domains": ["production_control"],
        "qualifications": "ISO 9001",
        "references": "服务企业 20 家",
        "integration_report": "两化融合评估报告 AA",
        "contact_name": "王工",
        "contact_phone": "0754-88888888",
        "username": f"prov_{_W}_{n}",
        "display_name": "王总",
        "password": "secret-pass-1",
    }
    data.update(over)
    return data


@pytest.fixture()
def city(db: Session) -> Any:
    return actor_of(db, "city")


def actor_of(db: Session, username: str) -> Any:
    from sqlalchemy import select

    from chaoyun.identity.models import User
    from chaoyun.identity.permissions import Actor

    user = db.execute(select(User).where(User.username == username)).scalar_one()
    return Actor(user=user, membership=user.memberships[0])
