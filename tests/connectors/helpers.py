"""Helpers of the connectivity tests: private Mosquitto brokers, devices, threaded workers, publishers."""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.devices.connectors.config import BrokerAddress
from chaoyun.devices.connectors.mqtt_ingest import IngestWorker
from chaoyun.devices.connectors.sink import PlatformSink
from chaoyun.devices.credentials import mosquitto_hash, new_mqtt_password
from chaoyun.devices.models import Device, DeviceModel

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, up: bool = True, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not become {'open' if up else 'closed'}")


class Mosquitto:
    """A private broker on a free port (its own persistence folder), so tests can stop and restart it."""

    def __init__(self, conf: str | None = None, port: int | None = None, persistence: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="chaoyun-mosq-"))
        self.port = port or free_port()
        self.conf_path = self.dir / "mosquitto.conf"
        if conf is None:
            conf = f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
            if persistence:
                conf += f"persistence true\npersistence_location {self.dir}/\n"
        # Stay root when started as root, so the private folders need no chown (tests only).
        self.conf_path.write_text("user root\n" + conf)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        log = self.log.open("ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf_path)], stdout=log, stderr=log)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Mosquitto saves its persistence file on the way out
            self.proc.wait(timeout=10)
        self.proc = None
        wait_port(self.port, up=False)

    def reload(self) -> None:
        import signal

        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)


def energy_model(db: Session) -> DeviceModel:
    from chaoyun.devices import service

    service.ensure_catalog(db)
    return db.execute(select(DeviceModel).where(DeviceModel.key == "energy_meter")).scalar_one()


def make_device(
    db: Session, org_id: int, model: DeviceModel | None = None, uid: str | None = None
) -> tuple[Device, str]:
    """A registered device with an MQTT password (returned in clear, as the registry shows it once)."""
    model = model or energy_model(db)
    password = new_mqtt_password()
    uid = uid or f"t-{secrets.token_hex(5)}"
    dev = Device(
        org_id=org_id,
        model_id=model.id,
        uid=uid,
        name=f"test {uid}",
        token_hash=secrets.token_hex(32),
        mqtt_password_hash=mosquitto_hash(password),
    )
    db.add(dev)
    db.commit()
    return dev, password


class Threaded:
    """Runs an object with async ``run()`` and ``stop()`` in its own thread and event loop."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.target.run())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self) -> Threaded:
        self.thread.start()
        return self

    def call(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def stop(self, timeout: float = 20) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.target.stop)
            self.thread.join(timeout)
        assert not self.thread.is_alive(), "did not stop in time"
        if self.error:
            raise self.error


def wait_for(cond: Callable[[], bool], timeout: float = 20, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def publisher(port: int, username: str | None = None, password: str | None = None, v5: bool = True) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"pub-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    if username:
        c.username_pw_set(username, password)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_all(c: mqtt.Client, items: list[tuple[str, bytes | str]], timeout: float = 30) -> int:
    """Publish at QoS 1 and count the messages the broker acknowledged."""
    infos = [c.publish(t, p, qos=1) for t, p in items]
    deadline = time.monotonic() + timeout
    for i in infos:
        i.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
    return sum(1 for i in infos if i.is_published())


class Ingest:
    """A worker of a unique client id, started in its own thread; restartable with the same id (session)."""

    def __init__(self, broker: Mosquitto, client_id: str | None = None, group: str | None = None) -> None:
        self.broker = broker
        self.client_id = client_id or f"ingest-{secrets.token_hex(4)}"
        self.group = group or ""  # "" = plain subscription (the default); a name = shared group
        self.sink = PlatformSink()
        self.worker: IngestWorker | None = None
        self.thread: Threaded | None = None

    def start(self) -> Ingest:
        self.worker = IngestWorker(
            self.sink,
            address=BrokerAddress.parse(self.broker.url),
            client_id=self.client_id,
            group=self.group,
            batch_max=200,
            batch_wait_ms=20,
            session_expiry_s=600,
        )
        self.thread = Threaded(self.worker).start()
        wait_for(self.worker.connected.is_set, 10, what="worker connected")
        time.sleep(0.2)  # SUBACK
        return self

    def stop(self) -> None:
        assert self.thread is not None
        self.thread.stop()


def actor_for(db: Session, username: str) -> Any:
    from chaoyun.identity.models import Membership, User
    from chaoyun.identity.permissions import Actor

    user = db.execute(select(User).where(User.username == username)).scalar_one()
    m = db.execute(select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)).scalars().first()
    assert m is not None
    return Actor(user=user, membership=m)


def setpoint_model(db: Session) -> DeviceModel:
    """A device model with a writable setpoint (the built-in catalog may have none)."""
    from chaoyun.devices.models import MetricDef

    model = db.execute(select(DeviceModel).where(DeviceModel.key == "test_setpoint_machine")).scalar_one_or_none()
    if model is None:
        model = DeviceModel(key="test_setpoint_machine", name_zh="测试机", name_en="Test machine", builtin=False)
        model.metrics = [
            MetricDef(
                key="temperature",
                name_zh="温度",
                name_en="Temperature",
                unit="°C",
                type="numeric",
                min_value=-50,
                max_value=500,
            ),
            MetricDef(key="cycle_count", name_zh="循环计数", name_en="Cycle count", type="numeric", min_value=0),
            MetricDef(
                key="setpoint",
                name_zh="设定温度",
                name_en="Temperature setpoint",
                unit="°C",
                type="numeric",
                min_value=0,
                max_value=300,
                writable=True,
            ),
            MetricDef(
                key="speed_setpoint",
                name_zh="设定速度",
                name_en="Speed setpoint",
                type="numeric",
                min_value=0,
                max_value=100,
                writable=True,
            ),
        ]
        db.add(model)
        db.commit()
    return model


def run_async(coro: Any) -> Any:
    """asyncio.run, also where this thread already has a running loop (Playwright's sync API leaves one in the
    main thread of a pytest worker that ran a browser test): then the coroutine runs in a thread of its own."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
