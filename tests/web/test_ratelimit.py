"""Rate limits (chaoyun.web.ratelimit): token buckets in process and in a real Redis, on the real ingest route."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from chaoyun.web import ratelimit
from chaoyun.web.ratelimit import Limit, MemoryBuckets, parse_limit, rate_limit
from tests.devices.helpers import make_device, org_of

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    ratelimit.MEMORY.clear()
    yield
    ratelimit.MEMORY.clear()


def test_bucket_refills_at_the_rate_and_holds_at_most_the_burst() -> None:
    b = MemoryBuckets()
    lim = Limit(per_minute=60, burst=3)  # one token a second
    assert [b.take("k", lim, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("k", lim, now=100.0) == pytest.approx(1.0)  # empty: a token is 1 s away
    assert b.take("k", lim, now=100.5) == pytest.approx(0.5)
    assert b.take("k", lim, now=101.0) == 0.0  # refilled one
    assert b.take("k", lim, now=101.0) > 0
    # A long pause refills to the burst, no more.
    assert [b.take("k", lim, now=1000.0) for _ in range(4)][3] > 0
    assert b.take("other", lim, now=1000.0) == 0.0  # keys are independent


def test_limit_text() -> None:
    assert parse_limit("600") == Limit(600, 600)
    assert parse_limit("600/100") == Limit(600, 100)
    assert parse_limit("0") is None
    for bad in ("x", "-1", "10/0", "inf"):
        with pytest.raises(ValueError):
            parse_limit(bad)
    assert ratelimit.env_name("ingest-address") == "RATE_LIMIT_INGEST_ADDRESS"


def _post(client: TestClient, token: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/api/v1/telemetry",
        content=json.dumps({"barrel_temp": 200}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})},
    )


def test_ingest_answers_429_with_retry_after_per_device_token(app: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("CHAOYUN_RATE_LIMIT_INGEST", "6/3")  # 3 at once, then one every 10 s
    _d1, t1 = make_device(db, org_of(db, "factory"))
    _d2, t2 = make_device(db, org_of(db, "factory"))
    client = TestClient(app)
    assert [_post(client, t1).status_code for _ in range(3)] == [200, 200, 200]
    r = _post(client, t1)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 10
    err = r.json()["error"]
    assert err["code"] == "rate_limited"
    assert "请求过于频繁" in err["message_zh"] and "Too many requests" in err["message_en"]
    assert r.headers["Retry-After"] in err["message_en"]
    # Another device's token has its own bucket.
    assert _post(client, t2).status_code == 200
    # Switched off: no limit.
    monkeypatch.setenv("CHAOYUN_RATE_LIMIT_INGEST", "0")
    assert _post(client, t1).status_code == 200
    monkeypatch.setenv("CHAOYUN_RATE_LIMIT_INGEST", "6/3")
    monkeypatch.setenv("CHAOYUN_RATE_LIMITS", "0")
    assert _post(client, t1).status_code == 200


def test_ingest_per_address_limit_stops_random_token_floods(app: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("CHAOYUN_RATE_LIMIT_INGEST_ADDRESS", "60/5")
    client = TestClient(app)
    codes = [_post(client, f"cyd_forged_{secrets.token_hex(8)}").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]  # unknown tokens answer 401 until the address runs dry


def _probe_app() -> FastAPI:
    from chaoyun.web.app import create_app

    app = create_app()

    @app.get("/api/v1/_probe", dependencies=[Depends(rate_limit("probe", per_minute=60, burst=2, key="address"))])
    def probe() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_probe-page", dependencies=[Depends(rate_limit("probe-page", per_minute=60, burst=1))])
    def probe_page() -> dict[str, bool]:
        return {"ok": True}

    return app


def test_dependency_defaults_and_pages() -> None:
    client = TestClient(_probe_app())
    assert [client.get("/api/v1/_probe").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/_probe-page").status_code == 200
    page = client.get("/_probe-page")
    assert page.status_code == 429 and page.headers["Retry-After"] == "1"
    assert page.headers["content-type"].startswith("text/html") and "请求过于频繁" in page.text


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_buckets_are_shared_between_processes(monkeypatch: Any) -> None:
    monkeypatch.setenv("CHAOYUN_REDIS_URL", REDIS)
    monkeypatch.setenv("CHAOYUN_RATE_LIMIT_PROBE", "6/4")
    ratelimit.clear()
    client = TestClient(_probe_app())
    assert client.get("/api/v1/_probe").status_code == 200  # 3 left, in Redis
    # Another process (another worker) takes the next three from the same bucket ...
    code = (
        "from chaoyun.web import ratelimit\n"
        "lim = ratelimit.configured('probe', 60, 2)\n"
        "for _ in range(3): ratelimit.check_sync('probe', 'a:testclient', lim)\n"
        "try:\n    ratelimit.check_sync('probe', 'a:testclient', lim)\nexcept ratelimit.RateLimited as e:\n"
        "    print('limited', e.retry_after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "limited"
    # ... so this process finds it empty too, though its own memory never counted them.
    r = client.get("/api/v1/_probe")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert not ratelimit.MEMORY._b  # counted in Redis, not here
    ratelimit.clear()
    assert client.get("/api/v1/_probe").status_code == 200


def test_unreachable_redis_falls_back_to_the_process(monkeypatch: Any, caplog: Any) -> None:
    monkeypatch.setenv("CHAOYUN_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = TestClient(_probe_app())
    assert [client.get("/api/v1/_probe").status_code for _ in range(3)] == [200, 200, 429]
    assert any("unreachable" in r.message for r in caplog.records)
