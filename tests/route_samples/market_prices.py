"""Route samples for tariffs and prices (no path parameters)."""

from __future__ import annotations

from datetime import date

PATH_PARAMS: dict[str, object] = {}

BODIES = {
    ("POST", "/market/prices"): lambda o: {
        "kind": "cloud_software",
        "item": "路由测试软件",
        "unit": "元/月",
        "list_price": "100",
        "programme_price": "60",
        "effective_from": date.today().isoformat(),
    },
    ("POST", "/api/v1/market/prices"): lambda o: {
        "kind": "cloud_software",
        "item": "路由测试接口软件",
        "unit": "元/月",
        "list_price": "100",
        "programme_price": "60",
        "effective_from": date.today().isoformat(),
    },
}
