"""Helpers that make valid records for tests (unique credit codes, registrations)."""

from __future__ import annotations

import itertools
import os
from typing import Any

from chaoyun.identity.credit_code import build
from chaoyun.identity.reference import DISTRICT_DIVISION, District

_counter = itertools.count(1)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw9")


def credit_code(district: District = District.CHENGHAI) -> str:
    n = next(_counter)
    worker = _WORKER[-1] if _WORKER[-1].isdigit() else "9"
    body = f"T{worker}{n:06d}"
    return build("91", DISTRICT_DIVISION[district], body)


def registration(**over: Any) -> dict[str, Any]:
    n = next(_counter)
    data: dict[str, Any] = {
        "credit_code": credit_code(),
        "name": f"汕头市测试玩具{_WORKER}{n}有限公司",
        "district": "chenghai",
        "industry_code": "C2452",
        "employees": 45,
        "annual_revenue": "1200.50",
        "address": "汕头市澄海区测试路1号",
        "contact_name": "张三",
        "contact_phone": "0754-12345678",
        "username": f"reg_{_WORKER}_{n}",
        "display_name": "张经理",
        "password": "secret-pass-1",
    }
    data.update(over)
    return data
