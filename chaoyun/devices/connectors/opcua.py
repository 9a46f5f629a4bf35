"""OPC UA collector (asyncua client): subscribes to configured node ids and emits their data changes.

Security: policy ``None`` or ``Basic256Sha256`` with mode ``Sign`` or ``SignAndEncrypt``, using the gateway's
certificate and private key (PEM or DER files) and, optionally, the server's certificate (otherwise it is taken
from the server's endpoint list); user name / password when configured. After a server restart or network loss
the collector notices (keep-alive check), reconnects with back-off and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("chaoyun.gateway.opcua")

Emit = Callable[[str, datetime, dict[str, Any]], Awaitable[None]]
POLICIES = ("None", "Basic256Sha256")
MODES = ("None", "Sign", "SignAndEncrypt")


@dataclass(frozen=True)
class NodeSpec:
    metric: str
    node_id: str
    writable: bool = False


@dataclass
class OpcUaDevice:
    uid: str
    url: str
    nodes: list[NodeSpec] = field(default_factory=list)
    policy: str = "None"
    mode: str = "None"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    application_uri: str = "urn:chaoyun:gateway"
    username: str | None = None
    password: str | None = None
    publishing_interval_ms: int = 500
    timeout_s: float = 4.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpcUaDevice:
        sec = d.get("security") or {}
        dev = cls(
            uid=str(d["uid"]),
            url=str(d["url"]),
            nodes=[
                NodeSpec(str(n["metric"]), str(n["node_id"]), bool(n.get("writable", False)))
                for n in d.get("nodes", [])
            ],
            policy=str(sec.get("policy", "None")),
            mode=str(sec.get("mode", "None" if sec.get("policy", "None") == "None" else "SignAndEncrypt")),
            certificate=sec.get("certificate"),
            private_key=sec.get("private_key"),
            server_certificate=sec.get("server_certificate"),
            application_uri=str(sec.get("application_uri", "urn:chaoyun:gateway")),
            username=d.get("username"),
            password=d.get("password"),
            publishing_interval_ms=int(d.get("publishing_interval_ms", 500)),
            timeout_s=float(d.get("timeout_s", 4.0)),
        )
        if dev.policy not in POLICIES or dev.mode not in MODES:
            raise ValueError(f"{dev.uid}: security policy must be one of {POLICIES}, mode one of {MODES}")
        if dev.policy != "None" and (dev.mode == "None" or not dev.certificate or not dev.private_key):
            raise ValueError(f"{dev.uid}: {dev.policy} needs mode Sign or SignAndEncrypt, certificate and private_key")
        if not dev.nodes:
            raise ValueError(f"{dev.uid}: no nodes")
        return dev


class _Handler:
    def __init__(self, collector: OpcUaCollector) -> None:
        self.c = collector

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        metric = self.c.metric_of.get(node.nodeid.to_string())
        if metric is None:
            return
        ts = None
        with contextlib.suppress(AttributeError):
            ts = data.monitored_item.Value.SourceTimestamp
        if ts is None:
            ts = datetime.now(UTC)
        elif ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        self.c.changes += 1
        self.c.queue.put_nowait((ts, {metric: _plain(val)}))

    def status_change_notification(self, status: Any) -> None:
        self.c.lost.set()


def _plain(val: Any) -> Any:
    if isinstance(val, bool | int | float | str) or val is None:
        return val
    return str(val)


class OpcUaCollector:
    def __init__(self, device: OpcUaDevice, emit: Emit) -> None:
        self.device = device
        self.emit = emit
        self.client: Any = None
        self.metric_of: dict[str, str] = {}
        self.node_of: dict[str, NodeSpec] = {n.metric: n for n in device.nodes}
        self.queue: asyncio.Queue[tuple[datetime, dict[str, Any]]] = asyncio.Queue()
        self.lost = asyncio.Event()
        self.connected = asyncio.Event()
        self.connects = 0
        self.changes = 0

    async def _connect(self) -> Any:
        from asyncua import Client, ua  # type: ignore[attr-defined]
        from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

        d = self.device
        client = Client(d.url, timeout=d.timeout_s)
        client.application_uri = d.application_uri
        if d.policy == "Basic256Sha256":
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                certificate=str(d.certificate),
                private_key=str(d.private_key),
                server_certificate=d.server_certificate,
                mode=getattr(ua.MessageSecurityMode, d.mode),
            )
        if d.username:
            client.set_user(d.username)
            client.set_password(d.password or "")
        await client.connect()
        return client

    async def _subscribe(self, client: Any) -> None:
        nodes = [client.get_node(n.node_id) for n in self.device.nodes]
        pairs = zip(nodes, self.device.nodes, strict=True)
        self.metric_of = {node.nodeid.to_string(): spec.metric for node, spec in pairs}
        sub = await client.create_subscription(self.device.publishing_interval_ms, _Handler(self))
        await sub.subscribe_data_change(nodes)

    async def write(self, metric: str, value: Any) -> None:
        from asyncua import ua

        spec = self.node_of.get(metric)
        if spec is None or not spec.writable:
            raise PermissionError(f"{metric} is not a writable node of {self.device.uid}")
        if self.client is None or not self.connected.is_set():
            raise ConnectionError(f"{self.device.uid}: not connected")
        node = self.client.get_node(spec.node_id)
        vtype = await node.read_data_type_as_variant_type()
        if vtype in (ua.VariantType.Float, ua.VariantType.Double):
            value = float(value)
        elif vtype == ua.VariantType.Boolean:
            value = bool(value)
        elif vtype.name.startswith(("Int", "UInt", "Byte", "SByte")):
            value = int(value)
        await node.write_value(ua.DataValue(ua.Variant(value, vtype)))

    async def _pump(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            ts, values = await self.queue.get()
            await self.emit(self.device.uid, ts, values)

    async def run(self, stop: asyncio.Event) -> None:
        pump = asyncio.create_task(self._pump(stop))
        delay = 0.5
        try:
            while not stop.is_set():
                self.lost.clear()
                try:
                    self.client = await self._connect()
                    await self._subscribe(self.client)
                except Exception as exc:
                    log.warning("opcua %s (%s): connect failed: %s; retry in %.1fs", self.device.uid, self.device.url,
                                exc, delay)
                    await self._close()
                    await _sleep_or(stop, delay)
                    delay = min(30.0, delay * 2)
                    continue
                delay = 0.5
                self.connects += 1
                self.connected.set()
                log.info("opcua %s connected to %s (%s/%s)", self.device.uid, self.device.url, self.device.policy,
                         self.device.mode)
                while not stop.is_set() and not self.lost.is_set():
                    try:
                        await self.client.check_connection()
                    except Exception as exc:
                        log.warning("opcua %s: connection lost: %s", self.device.uid, exc)
                        break
                    await _sleep_or(stop, 0.5)
                self.connected.clear()
                await self._close()
        finally:
            pump.cancel()
            await self._close()
            # Changes received but not yet handed over are not dropped on stop (a gateway restart or a pushed
            # configuration restarts the collectors): the gateway buffers them.
            while not self.queue.empty():
                ts, values = self.queue.get_nowait()
                await self.emit(self.device.uid, ts, values)

    async def _close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), timeout=2)
            self.client = None


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
