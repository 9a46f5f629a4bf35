"""The edge gateway: ``chaoyun gateway --config gateway.yaml``.

It runs in the factory, reads OPC UA and Modbus devices as its configuration says, and forwards the readings
to the platform over MQTT or HTTP through an on-disk store-and-forward buffer (``buffer.py``): readings are
written to the buffer first and deleted only once the platform acknowledged them, so a cut network or a
platform that is down loses nothing, and the backlog is sent in order when the link returns.

The local file holds the bootstrap (identity, platform address, credentials, buffer path). The device list can
be pushed from the platform: over MQTT the gateway subscribes to ``chaoyun/v1/gateways/<uid>/config``
(retained), over HTTP it polls ``GET /api/v1/gateway/config``. The last pushed configuration is kept in the
buffer file, so the gateway restarts with it even while the platform is unreachable.

Write-back: the gateway subscribes to the commands topics of its devices, writes the register or node and
publishes the outcome to ``.../commands/result`` (also through the buffer).

Format of the configuration: docs/connectivity.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoyun.devices.connectors import topics
from chaoyun.devices.connectors.buffer import Buffer, Entry
from chaoyun.devices.connectors.config import BrokerAddress
from chaoyun.devices.connectors.modbus import ModbusCollector, ModbusDevice
from chaoyun.devices.connectors.opcua import OpcUaCollector, OpcUaDevice

log = logging.getLogger("chaoyun.gateway")


class ConfigError(ValueError):
    pass


@dataclass
class PlatformLink:
    transport: str = "mqtt"  # mqtt | http
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    http_url: str = "http://127.0.0.1:8000"
    token: str = ""  # gateway token (HTTP transport and config fetch)
    batch: int = 500
    retry_max_s: float = 30.0
    ack_timeout_s: float = 10.0
    config_poll_s: float = 60.0


@dataclass
class GatewayConfig:
    uid: str
    platform: PlatformLink
    buffer_path: str
    devices: list[ModbusDevice | OpcUaDevice] = field(default_factory=list)
    config_source: str = "platform"  # platform (pushed config wins) | local (ignore pushes)
    buffer_max_rows: int = 5_000_000
    version: int = 0
    base_dir: Path | None = None  # folder of the local file: relative paths (buffer, certificates) start there


SECURITY_FILES = ("certificate", "private_key", "server_certificate")


def _resolve_files(d: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """OPC UA certificate and key paths relative to the gateway's configuration file (as ``buffer`` is), not to
    whatever folder the gateway was started from."""
    sec = d.get("security")
    if base_dir is None or not isinstance(sec, dict):
        return d
    fixed = {k: str(base_dir / v) if k in SECURITY_FILES and isinstance(v, str) and v and not Path(v).is_absolute()
             else v for k, v in sec.items()}
    return {**d, "security": fixed}


def parse_devices(items: list[dict[str, Any]], base_dir: Path | None = None) -> list[ModbusDevice | OpcUaDevice]:
    out: list[ModbusDevice | OpcUaDevice] = []
    seen: set[str] = set()
    for i, d in enumerate(items or []):
        if not isinstance(d, dict) or not d.get("uid"):
            raise ConfigError(f"devices[{i}]: an object with a uid is required")
        if d["uid"] in seen:
            raise ConfigError(f"devices[{i}]: uid {d['uid']} appears twice")
        seen.add(d["uid"])
        proto = d.get("protocol")
        try:
            if proto == "modbus":
                out.append(ModbusDevice.from_dict(d))
            elif proto == "opcua":
                out.append(OpcUaDevice.from_dict(_resolve_files(d, base_dir)))
            else:
                raise ConfigError(f"devices[{i}]: protocol must be modbus or opcua")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"devices[{i}] ({d.get('uid')}): {exc}") from exc
    return out


def parse_config(doc: dict[str, Any], base_dir: Path | None = None) -> GatewayConfig:
    if not isinstance(doc, dict):
        raise ConfigError("the configuration must be a mapping")
    gw = doc.get("gateway") or {}
    uid = gw.get("uid")
    if not uid:
        raise ConfigError("gateway.uid is required")
    p = doc.get("platform") or {}
    link = PlatformLink(
        transport=str(p.get("transport", "mqtt")),
        mqtt_url=str(p.get("mqtt_url", "mqtt://127.0.0.1:1883")),
        http_url=str(p.get("http_url", "http://127.0.0.1:8000")).rstrip("/"),
        token=str(p.get("token", "")),
        batch=int(p.get("batch", 500)),
        retry_max_s=float(p.get("retry_max_s", 30)),
        ack_timeout_s=float(p.get("ack_timeout_s", 10)),
        config_poll_s=float(p.get("config_poll_s", 60)),
    )
    if link.transport not in ("mqtt", "http"):
        raise ConfigError("platform.transport must be mqtt or http")
    buf = str(gw.get("buffer", "gateway-buffer.db"))
    if base_dir is not None and not Path(buf).is_absolute():
        buf = str(base_dir / buf)
    return GatewayConfig(
        uid=str(uid),
        platform=link,
        buffer_path=buf,
        devices=parse_devices(doc.get("devices") or [], base_dir),
        config_source=str(gw.get("config_source", "platform")),
        buffer_max_rows=int(gw.get("buffer_max_rows", 5_000_000)),
        base_dir=base_dir,
    )


def load_config(path: str | Path) -> GatewayConfig:
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(doc, base_dir=path.parent)


# ------------------------------------------------------------------------------------------ forwarders


class MqttLink:
    """paho-mqtt in its own thread; persistent session so commands queued while the gateway was away arrive."""

    def __init__(self, gw: Gateway) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.gw = gw
        self.addr = BrokerAddress.parse(gw.config.platform.mqtt_url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"gw-{gw.config.uid}", protocol=mqtt.MQTTv5
        )
        if self.addr.username:
            self.client.username_pw_set(self.addr.username, self.addr.password)
        if self.addr.tls:
            self.client.tls_set()
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=int(gw.config.platform.retry_max_s))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.connected = threading.Event()

    def start(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 7 * 24 * 3600
        self.client.on_disconnect = lambda *a, **k: self.connected.clear()
        self.client.connect_async(self.addr.host, self.addr.port, keepalive=20, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("gateway MQTT connect refused: %s", reason)
            return
        subs = [(topics.gateway_config(self.gw.config.uid), 1)]
        subs += [(topics.commands(d.uid), 1) for d in self.gw.config.devices]
        client.subscribe(subs)
        self.connected.set()
        log.info("gateway %s connected to %s:%s", self.gw.config.uid, self.addr.host, self.addr.port)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self.gw.on_platform_message(msg.topic, bytes(msg.payload))

    def send(self, entries: list[Entry], timeout: float) -> bool:
        if not self.connected.is_set():
            return False
        infos = []
        for device, kind, payload in group_entries(entries):
            topic = topics.command_result(device) if kind == "result" else (
                topics.gateway_status(self.gw.config.uid) if kind == "status" else topics.telemetry(device)
            )
            infos.append(self.client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=1))
        deadline = time.monotonic() + timeout
        for info in infos:
            while not info.is_published():
                if time.monotonic() > deadline or not self.connected.is_set():
                    return False
                time.sleep(0.005)
        return True


def group_entries(entries: list[Entry]) -> list[tuple[str, str, Any]]:
    """Consecutive telemetry entries of one device become one message (a list of {ts, values}); order kept."""
    out: list[tuple[str, str, Any]] = []
    for e in entries:
        if e.kind == "telemetry" and out and out[-1][0] == e.device and out[-1][1] == "telemetry":
            out[-1][2].append(e.payload)
        elif e.kind == "telemetry":
            out.append((e.device, "telemetry", [e.payload]))
        else:
            out.append((e.device, e.kind, e.payload))
    return out


class HttpLink:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.link = gw.config.platform

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def _request(self, method: str, path: str, body: Any | None, timeout: float) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        req = urllib.request.Request(self.link.http_url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.link.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def send(self, entries: list[Entry], timeout: float) -> bool:
        messages = [{"device": d, "kind": k, "payload": p} for d, k, p in group_entries(entries)]
        try:
            self._request("POST", "/api/v1/gateway/telemetry", {"messages": messages}, timeout)
            return True
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 422):
                # The platform refused the content itself (reported per device there); resending cannot help.
                log.error("platform refused a batch: %s", exc.read()[:300])
                return True
            log.warning("platform answered %s", exc.code)
            return False
        except (OSError, ValueError) as exc:
            log.warning("platform unreachable: %s", exc)
            return False

    def fetch_config(self, timeout: float = 10) -> dict[str, Any] | None:
        try:
            doc = self._request("GET", "/api/v1/gateway/config", None, timeout)
        except (OSError, ValueError) as exc:
            log.info("config fetch failed: %s", exc)
            return None
        return doc if isinstance(doc, dict) else None


# ------------------------------------------------------------------------------------------ the gateway


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.buffer = Buffer(config.buffer_path, max_rows=config.buffer_max_rows)
        self.collectors: dict[str, ModbusCollector | OpcUaCollector] = {}
        self._readings: list[tuple[str, str, dict[str, Any]]] = []
        self._stop = asyncio.Event()
        self._collectors_stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sent = 0
        self.collected = 0
        self.link: MqttLink | HttpLink = MqttLink(self) if config.platform.transport == "mqtt" else HttpLink(self)
        cached = self.buffer.get_state("pushed_config")
        if cached and config.config_source == "platform":
            try:
                doc = json.loads(cached)
                self.config.devices = parse_devices(doc["config"].get("devices") or [], config.base_dir)
                self.config.version = int(doc["version"])
                log.info("using the configuration version %s pushed earlier", self.config.version)
            except (ConfigError, KeyError, ValueError) as exc:
                log.error("the cached pushed configuration is invalid (%s); using the local file", exc)

    # -- readings → buffer
    async def emit(self, uid: str, ts: datetime, values: dict[str, Any]) -> None:
        self.collected += 1
        self._readings.append((uid, "telemetry", {"ts": int(ts.timestamp() * 1000), "values": values}))

    async def _buffer_writer(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            rows, self._readings = self._readings, []
            if rows:
                await asyncio.to_thread(self.buffer.append, rows)
            if self._stop.is_set():
                return

    # -- buffer → platform
    async def _forwarder(self) -> None:
        delay = 0.5
        while not self._stop.is_set() or self.buffer.pending():
            entries = await asyncio.to_thread(self.buffer.peek, self.config.platform.batch)
            if not entries:
                if self._stop.is_set():
                    return
                await asyncio.sleep(0.2)
                continue
            ok = await asyncio.to_thread(self.link.send, entries, self.config.platform.ack_timeout_s)
            if ok:
                await asyncio.to_thread(self.buffer.ack, entries[-1].id)
                self.sent += len(entries)
                delay = 0.5
                continue
            if self._stop.is_set():
                return
            await asyncio.sleep(delay)
            delay = min(self.config.platform.retry_max_s, delay * 2)

    # -- collectors
    def _start_collectors(self) -> None:
        self._collectors_stop = asyncio.Event()
        self.collectors = {}
        for d in self.config.devices:
            c: ModbusCollector | OpcUaCollector = (
                ModbusCollector(d, self.emit) if isinstance(d, ModbusDevice) else OpcUaCollector(d, self.emit)
            )
            self.collectors[d.uid] = c
            self._tasks.append(asyncio.create_task(c.run(self._collectors_stop)))

    async def _restart_collectors(self) -> None:
        self._collectors_stop.set()
        await asyncio.sleep(0.1)
        self._start_collectors()

    # -- messages from the platform (called from paho's thread)
    def on_platform_message(self, topic: str, payload: bytes) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._handle_platform_message(topic, payload), self._loop)

    async def _handle_platform_message(self, topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            log.warning("ignored a malformed message on %s", topic)
            return
        if topic == topics.gateway_config(self.config.uid):
            await self.apply_pushed_config(doc)
            return
        parsed = topics.parse(topic)
        if parsed and parsed.kind == "commands":
            await self.execute_command(parsed.uid, doc)

    async def apply_pushed_config(self, doc: dict[str, Any]) -> bool:
        if self.config.config_source != "platform":
            return False
        try:
            version = int(doc["version"])
            devices = parse_devices(doc["config"].get("devices") or [], self.config.base_dir)
        except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.error("rejected a pushed configuration: %s", exc)
            self.buffer.append([(self.config.uid, "status", {"error": str(exc)[:300]})])
            return False
        if version <= self.config.version:
            return False
        self.config.devices = devices
        self.config.version = version
        self.buffer.set_state("pushed_config", json.dumps(doc))
        log.info("applying pushed configuration version %s (%d devices)", version, len(devices))
        if isinstance(self.link, MqttLink) and self.link.connected.is_set():
            self.link.client.subscribe([(topics.commands(d.uid), 1) for d in devices])
        await self._restart_collectors()
        self.buffer.append([(self.config.uid, "status", {"applied_version": version, "devices": len(devices)})])
        return True

    async def execute_command(self, uid: str, cmd: dict[str, Any]) -> None:
        cid = cmd.get("id")
        expires = cmd.get("expires_at")
        status, message = "succeeded", ""
        collector = self.collectors.get(uid)
        try:
            if expires is not None and time.time() * 1000 > float(expires):
                raise TimeoutError("the command expired before it reached the gateway")
            if collector is None:
                raise LookupError(f"device {uid} is not configured on this gateway")
            await asyncio.wait_for(collector.write(str(cmd["metric"]), cmd["value"]), timeout=10)
        except Exception as exc:
            status, message = "failed", f"{type(exc).__name__}: {exc}"[:300]
        log.info("command %s on %s: %s %s", cid, uid, status, message)
        self.buffer.append([(uid, "result", {"id": cid, "status": status, "message": message})])

    async def _config_poller(self) -> None:
        assert isinstance(self.link, HttpLink)
        while not self._stop.is_set():
            doc = await asyncio.to_thread(self.link.fetch_config)
            if doc:
                await self.apply_pushed_config(doc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.config.platform.config_poll_s)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.link.start()
        self._start_collectors()
        writer = asyncio.create_task(self._buffer_writer())
        forwarder = asyncio.create_task(self._forwarder())
        extra = []
        if isinstance(self.link, HttpLink) and self.config.config_source == "platform":
            extra.append(asyncio.create_task(self._config_poller()))
        await self._stop.wait()
        self._collectors_stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await writer
        # The writer may have made its last pass while the collectors were still handing over their final
        # readings (an OPC UA collector empties its queue as it stops): those go to the buffer too.
        rows, self._readings = self._readings, []
        if rows:
            await asyncio.to_thread(self.buffer.append, rows)
        # Try briefly to send what is buffered; the rest stays on disk for the next start.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(forwarder, timeout=3)
        for t in extra:
            t.cancel()
        self.link.stop()
        self.buffer.close()

    def stop(self) -> None:
        self._stop.set()


def run_gateway(config_path: str) -> None:
    import signal

    cfg = load_config(config_path)
    gw = Gateway(cfg)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, gw.stop)
        await gw.run()

    asyncio.run(main())


def now_utc() -> datetime:
    return datetime.now(UTC)
