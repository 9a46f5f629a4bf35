"""HTTP ingest: good, bad and half-bad batches, every kind of bad input, the rejection log."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from chaoyun.devices import ingest
from chaoyun.devices.models import RejectedMessage
from chaoyun.devices.store import get_store
from tests.devices.helpers import make_device, org_of


def _post(app: Any, token: str, body: Any, header: str = "bearer") -> Any:
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"} if header == "bearer" else {"X-Device-Token": token}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/v1/telemetry", content=data, headers={**headers, "Content-Type": "application/json"})


def test_good_single_and_batch(app: Any, db: Any) -> None:
    device, token = make_device(db, org_of(db, "factory"))
    r = _post(app, token, {"barrel_temp": 221.5, "state": "running"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "rejected_count": 0, "rejected": []}
    now = int(time.time() * 1000)
    batch = [{"ts": now - 2000 + i * 100, "values": {"barrel_temp": 200 + i, "good_count": i}} for i in range(10)]
    r = _post(app, token, batch, header="x-device-token")
    assert r.json()["accepted"] == 20
    latest = get_store().latest(device.id)
    assert latest["barrel_temp"].value == 221.5  # the single point got server time, newer than the batch
    assert latest["state"].text == "running"
    assert get_store().count(device.id) == 22


def test_iso_timestamp_and_bool(app: Any, db: Any) -> None:
    device, token = make_device(db, org_of(db, "factory"), model="circular_knitting")
    from datetime import UTC, datetime

    ts = datetime.now(UTC).replace(microsecond=0).isoformat()
    r = _post(app, token, {"ts": ts, "values": {"needle_break": True, "speed": 24}})
    assert r.json()["accepted"] == 2
    assert get_store().latest(device.id)["needle_break"].value == 1.0


def test_half_bad_batch_keeps_valid_points_and_logs_the_rest(app: Any, db: Any) -> None:
    device, token = make_device(db, org_of(db, "factory"))
    now = int(time.time() * 1000)
    t = [now, now + 1, now + 2, now + 10**9, now - 400 * 86_400_000, now + 2]
    body = (
        f'[{{"ts": {t[0]}, "values": {{"barrel_temp": 210, "no_such_metric": 1, '
        f'"mould_temp": NaN, "oil_temp": Infinity}}}},'
        f' {{"ts": {t[1]}, "values": {{"barrel_temp": "hot", "injection_pressure": 9999}}}},'
        f' {{"ts": {t[2]}, "values": {{"barrel_temp": 211}}}},'
        f' {{"ts": {t[3]}, "values": {{"barrel_temp": 212}}}},'
        f' {{"ts": {t[4]}, "values": {{"barrel_temp": 1}}}},'
        f' {{"ts": {t[5]}, "values": {{"barrel_temp": 213, "state": 5}}}}, 42]'
    )
    r = _post(app, token, body)
    assert r.status_code == 200
    out = r.json()
    codes = sorted((x["index"], x["metric"], x["code"]) for x in out["rejected"])
    assert codes == [
        (0, "mould_temp", "not_finite"),
        (0, "no_such_metric", "unknown_metric"),
        (0, "oil_temp", "not_finite"),
        (1, "barrel_temp", "type_mismatch"),
        (1, "injection_pressure", "out_of_range"),
        (3, "barrel_temp", "ts_future"),
        (4, "barrel_temp", "ts_past"),
        (5, "barrel_temp", "duplicate"),
        (5, "state", "type_mismatch"),
        (6, None, "malformed"),
    ]
    assert out["accepted"] == 2  # barrel_temp at now and now+2
    assert all(x["message_zh"] and x["message_en"] for x in out["rejected"])
    assert any("范围" in x["message_zh"] for x in out["rejected"] if x["code"] == "out_of_range")
    assert get_store().count(device.id) == 2
    db.expire_all()
    logged = db.execute(select(RejectedMessage).where(RejectedMessage.device_id == device.id)).scalars().all()
    assert len(logged) == 10 and {r.source for r in logged} == {"http"}


def test_wrong_or_missing_or_other_token(app: Any, db: Any) -> None:
    a, token_a = make_device(db, org_of(db, "factory"))
    assert _post(app, "cyd_nonsense", {"barrel_temp": 1}).status_code == 401
    r = TestClient(app).post("/api/v1/telemetry", json={"barrel_temp": 1})
    assert r.status_code == 401 and r.json()["error"]["message_zh"]
    # A user API token is not a device token.
    admin = TestClient(app)
    assert _post(app, "cy_" + "x" * 40, {"barrel_temp": 1}).status_code == 401
    del admin
    # Another device's token writes to that other device, never to this one.
    b, token_b = make_device(db, org_of(db, "factory2"))
    assert _post(app, token_b, {"barrel_temp": 100}).json()["accepted"] == 1
    assert get_store().count(a.id) == 0 and get_store().count(b.id) == 1
    # A disabled device is refused.
    a.enabled = False
    db.commit()
    assert _post(app, token_a, {"barrel_temp": 1}).status_code == 401


def test_malformed_json_and_oversized(app: Any, db: Any, monkeypatch: Any) -> None:
    device, token = make_device(db, org_of(db, "factory"))
    r = _post(app, token, b'{"barrel_temp": ')
    assert r.status_code == 400 and r.json()["rejected"][0]["code"] == "bad_json"
    r = _post(app, token, "[1, 2")
    assert r.status_code == 400
    r = _post(app, token, '"just a string"')
    assert r.status_code == 422 and r.json()["rejected"][0]["code"] == "malformed"
    monkeypatch.setattr(ingest, "limits", lambda: ingest.Limits(10, 1000, 30 * 86_400_000, 600_000))
    r = _post(app, token, [{"barrel_temp": i} for i in range(11)])
    assert r.status_code == 413 and r.json()["rejected"][0]["code"] == "too_large"
    r = _post(app, token, {"state": "x" * 2000})
    assert r.status_code == 413
    assert get_store().count(device.id) == 0
    db.expire_all()
    codes = {
        r.code for r in db.execute(select(RejectedMessage).where(RejectedMessage.device_id == device.id)).scalars()
    }
    assert codes == {"bad_json", "malformed", "too_large"}


def test_redelivered_points_are_stored_once(db: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory"))
    now = int(time.time() * 1000)
    payload = [{"ts": now - i * 1000, "values": {"barrel_temp": 200.0 + i}} for i in range(5)]
    assert ingest.ingest(db, device, payload, "mqtt").accepted == 5
    # The same message again (an MQTT QoS 1 redelivery) plus one new point.
    again = [*payload, {"ts": now + 1, "values": {"barrel_temp": 199.0}}]
    assert ingest.ingest(db, device, again, "mqtt").accepted == 6
    assert get_store().count(device.id) == 6


def test_ingest_batch_many_devices_one_commit(db: Any) -> None:
    org = org_of(db, "factory")
    devs = [make_device(db, org)[0] for _ in range(3)]
    results = ingest.ingest_batch(
        db, [(d, {"barrel_temp": 200.0 + i}) for i, d in enumerate(devs)] + [(devs[0], 7)], "mqtt"
    )
    assert [r.accepted for r in results] == [1, 1, 1, 0]
    assert results[3].rejected[0].code == "malformed"


def test_authenticate_mqtt(db: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory"))
    assert ingest.authenticate_mqtt(db, device.uid, "mqtt-secret") is not None
    assert ingest.authenticate_mqtt(db, device.uid, "wrong") is None
    assert ingest.authenticate_mqtt(db, "nobody", "mqtt-secret") is None


def test_duplicates_across_entries(db: Any) -> None:
    device, _ = make_device(db, org_of(db, "factory"))
    now = int(time.time() * 1000)
    payload = [
        {"ts": now, "values": {"barrel_temp": 200, "mould_temp": 50}},
        {"ts": now + 1, "values": {"barrel_temp": 201}},
        {"ts": now, "values": {"barrel_temp": 202, "oil_temp": 40}},
        {"ts": now, "values": {"oil_temp": 41, "mould_temp": 51}},
    ]
    r = ingest.ingest(db, device, payload, "test")
    assert r.accepted == 4
    assert sorted((x.index, x.metric, x.code) for x in r.rejected) == [
        (2, "barrel_temp", "duplicate"),
        (3, "mould_temp", "duplicate"),
        (3, "oil_temp", "duplicate"),
    ]
