"""OPC UA collector against a real asyncua server: Basic256Sha256 Sign and SignAndEncrypt with certificates made
here, user name and password, data-change subscriptions, write-back, and reconnection after a server restart."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chaoyun.devices.connectors.certs import make_self_signed
from chaoyun.devices.connectors.opcua import OpcUaCollector, OpcUaDevice
from tests.connectors.helpers import free_port, run_async
from tests.connectors.opcua_sim import SERVER_URI, OpcUaSim

GATEWAY_URI = "urn:chaoyun:gateway:test"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("opcua-certs")
    server_cert, server_key = make_self_signed(d, "server", SERVER_URI, ("localhost", "127.0.0.1"))
    gw_cert, gw_key = make_self_signed(d, "gateway", GATEWAY_URI)
    return {"server_cert": server_cert, "server_key": server_key, "gw_cert": gw_cert, "gw_key": gw_key}


def _device(sim: OpcUaSim, certs: dict[str, Path], mode: str, password: str = "secret") -> OpcUaDevice:
    return OpcUaDevice.from_dict({
        "uid": "cnc-1", "protocol": "opcua", "url": sim.url, "username": "gw", "password": password,
        "publishing_interval_ms": 50, "timeout_s": 3,
        "security": {"policy": "Basic256Sha256", "mode": mode, "certificate": str(certs["gw_cert"]),
                     "private_key": str(certs["gw_key"]), "application_uri": GATEWAY_URI},
        "nodes": [{"metric": "temperature", "node_id": sim.node_id("Temp")},
                  {"metric": "cycle_count", "node_id": sim.node_id("Count")},
                  {"metric": "setpoint", "node_id": sim.node_id("Setpoint"), "writable": True}],
    })


async def _wait(cond: Any, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
def test_secure_subscription_and_write_back(certs: dict[str, Path], mode: str) -> None:
    async def scenario() -> None:
        sim = await OpcUaSim(free_port(), certs["server_cert"], certs["server_key"]).start()
        got: list[dict[str, Any]] = []

        async def emit(uid: str, ts: datetime, values: dict[str, Any]) -> None:
            got.append(values)

        c = OpcUaCollector(_device(sim, certs, mode), emit)
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        await asyncio.wait_for(c.connected.wait(), 20)
        await _wait(lambda: any("temperature" in v for v in got))
        for i in range(1, 6):
            await sim.set("Count", i)
            await asyncio.sleep(0.12)
        await _wait(lambda: any(v.get("cycle_count") == 5 for v in got))
        await c.write("setpoint", 63.5)
        assert await sim.get("Setpoint") == pytest.approx(63.5)
        with pytest.raises(PermissionError):
            await c.write("temperature", 1.0)
        stop.set()
        await task
        await sim.stop()

    run_async(scenario())


def test_wrong_password_is_refused(certs: dict[str, Path]) -> None:
    async def scenario() -> None:
        sim = await OpcUaSim(free_port(), certs["server_cert"], certs["server_key"]).start()

        async def emit(uid: str, ts: datetime, values: dict[str, Any]) -> None:
            raise AssertionError("no data without the right password")

        c = OpcUaCollector(_device(sim, certs, "SignAndEncrypt", password="wrong"), emit)
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        await asyncio.sleep(2.0)
        assert not c.connected.is_set() and c.connects == 0
        stop.set()
        await task
        await sim.stop()

    run_async(scenario())


def test_reconnects_after_server_restart(certs: dict[str, Path]) -> None:
    async def scenario() -> None:
        port = free_port()
        sim = await OpcUaSim(port, certs["server_cert"], certs["server_key"]).start()
        got: list[dict[str, Any]] = []

        async def emit(uid: str, ts: datetime, values: dict[str, Any]) -> None:
            got.append(values)

        c = OpcUaCollector(_device(sim, certs, "SignAndEncrypt"), emit)
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        await asyncio.wait_for(c.connected.wait(), 20)
        await sim.set("Count", 1)
        await _wait(lambda: any(v.get("cycle_count") == 1 for v in got))
        await sim.stop()
        await _wait(lambda: not c.connected.is_set(), 15)
        await asyncio.sleep(1.0)
        sim = await OpcUaSim(port, certs["server_cert"], certs["server_key"]).start(count=100)
        await asyncio.wait_for(c.connected.wait(), 40)
        await sim.set("Count", 101)
        await _wait(lambda: any(v.get("cycle_count") == 101 for v in got), 20)
        assert c.connects == 2
        stop.set()
        await task
        await sim.stop()

    run_async(scenario())
