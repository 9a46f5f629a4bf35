"""The simulator: deterministic machines whose every value passes the platform's own validation, the
in-process transport, demo seeding (idempotent) and the CHAOYUN_SIMULATE switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from chaoyun.devices import catalog, ingest
from chaoyun.devices.models import Device
from chaoyun.simulator import background, runner
from chaoyun.simulator.machines import Machine


def _machine(model: str, uid: str = "sim-x") -> Machine:
    spec = catalog.spec(model)
    return Machine(uid, model, spec.ideal_cycle_s, {m.key for m in spec.metrics})


def test_machines_are_deterministic_and_valid(db: Any) -> None:
    from chaoyun.devices.models import DeviceModel

    t = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    for model in catalog.MODEL_KEYS:
        a, b = _machine(model), _machine(model)
        spec = ingest.model_spec(db, db.execute(select(DeviceModel.id).where(DeviceModel.key == model)).scalar_one())
        states = set()
        for i in range(2000):
            now = t + timedelta(seconds=30 * i)
            va, vb = a.step(now, 30), b.step(now, 30)
            assert va == vb
            _rows, rejected, _ = ingest.validate(
                1, spec, {"ts": int(now.timestamp() * 1000), "values": va}, int(now.timestamp() * 1000)
            )
            assert not rejected, (model, rejected[0])
            states.add(va.get("state"))
        if model != "energy_meter":
            assert {"running", "idle"} <= states, (model, states)
            counters = a.step(t + timedelta(days=3), 30)
            if "cycle_count" in counters:
                assert counters["cycle_count"] >= counters["good_count"] >= 0


def test_demo_seed_and_inprocess_run(db: Any) -> None:
    from chaoyun.devices import demo

    created = demo.seed(db)
    again = demo.seed(db)
    assert again == 0
    n = db.execute(select(func.count()).select_from(Device).where(Device.uid.like("dm-%"))).scalar_one()
    # Another simulator test on this worker's database may have seeded first (then created is 0).
    assert n > 20
    assert n >= created
    # Every demo device can sign in to the NATS broker too: a bcrypt hash of its derived MQTT password.
    import bcrypt

    from chaoyun.devices.credentials import demo_secret
    from chaoyun.settings import get_settings

    key = get_settings().secret_key
    rows = db.execute(select(Device.uid, Device.mqtt_password_bcrypt).where(Device.uid.like("dm-%"))).all()
    assert rows and all(h and h.startswith("$2a$") for _uid, h in rows)
    uid, h = rows[0]
    assert bcrypt.checkpw(demo_secret(key, uid, "mqtt").encode(), h.encode())
    assert not bcrypt.checkpw(b"wrong", h.encode())
    devs = runner.load_devices(db, limit=5)
    sent = runner.run(runner.InProcess(), devs, interval_s=0.01, duration_s=0.0)
    assert sent > 20
    from chaoyun.devices.store import get_store

    assert all(d.id in get_store().last_seen([d.id]) for d in devs)
    filled = runner.backfill(runner.InProcess(), devs[:2], hours=0.5, step_s=60, now=datetime.now(UTC))
    assert filled > 30 * 2 * 5


def test_background_switch(monkeypatch: Any) -> None:
    monkeypatch.delenv("CHAOYUN_SIMULATE", raising=False)
    assert background.tasks() == []
    monkeypatch.setenv("CHAOYUN_SIMULATE", "1")
    assert background.tasks() == [background.simulate]
