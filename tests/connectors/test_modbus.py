"""Modbus TCP collector against a real pymodbus server: register map decoding (types, byte and word order,
scale, offset), block reads, write-back, timeouts and a server that is down, per-device poll intervals."""

from __future__ import annotations

import asyncio
import struct
from datetime import datetime
from typing import Any

import pytest

from chaoyun.devices.connectors.modbus import ModbusCollector, ModbusDevice, Register, decode, encode, plan_blocks
from tests.connectors.helpers import free_port, run_async
from tests.connectors.modbus_sim import ModbusSim


@pytest.mark.parametrize(
    ("type_", "value", "byte_order", "word_order", "expected"),
    [
        ("uint16", 0x1234, "big", "big", [0x1234]),
        ("uint16", 0x1234, "little", "big", [0x3412]),
        ("int16", -2, "big", "big", [0xFFFE]),
        ("int32", -123456, "big", "big", [0xFFFE, 0x1DC0]),  # ABCD
        ("int32", -123456, "big", "little", [0x1DC0, 0xFFFE]),  # CDAB
        ("int32", -123456, "little", "big", [0xFEFF, 0xC01D]),  # BADC
        ("int32", -123456, "little", "little", [0xC01D, 0xFEFF]),  # DCBA
        ("uint32", 4_000_000_000, "big", "big", [0xEE6B, 0x2800]),
        ("float32", 1.5, "big", "big", [0x3FC0, 0x0000]),
        ("float32", 1.5, "big", "little", [0x0000, 0x3FC0]),
    ],
)
def test_register_codec(type_: str, value: float, byte_order: str, word_order: str, expected: list[int]) -> None:
    reg = Register("m", 0, type_, byte_order=byte_order, word_order=word_order)
    assert encode(reg, value) == expected
    assert decode(reg, expected) == value


def test_scale_offset_and_bad_maps() -> None:
    reg = Register("t", 0, "int16", scale=0.1, offset=-40)
    assert decode(reg, [650]) == pytest.approx(25.0)
    assert encode(reg, 25.0) == [650]
    with pytest.raises(ValueError, match="does not fit"):
        encode(Register("s", 0, "int16"), 40000)
    for bad in ({"metric": "x", "address": 0, "type": "int8"}, {"metric": "x", "address": 0, "table": "coil"},
                {"metric": "x", "address": 70000}, {"metric": "x", "address": 0, "scale": 0}):
        with pytest.raises(ValueError):
            Register.from_dict(bad)
    regs = [Register("a", 0), Register("b", 2, "float32"), Register("c", 50), Register("d", 0, table="input")]
    blocks = plan_blocks(regs)
    assert [(b.table, b.start, b.count) for b in blocks] == [("holding", 0, 4), ("holding", 50, 1), ("input", 0, 1)]


def _float_words(v: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", v)))


MAP: list[dict[str, Any]] = [
    {"metric": "temperature", "table": "holding", "address": 0, "type": "float32"},
    {"metric": "pressure", "table": "holding", "address": 2, "type": "int16", "scale": 0.01},
    {"metric": "energy", "table": "input", "address": 10, "type": "uint32", "word_order": "little"},
    {"metric": "delta", "table": "input", "address": 12, "type": "int32", "byte_order": "little", "offset": 5},
    {"metric": "setpoint", "table": "holding", "address": 20, "type": "int16", "scale": 0.1, "writable": True},
]


def test_collector_polls_decodes_and_writes_back() -> None:
    async def scenario() -> None:
        port = free_port()
        sim = await ModbusSim(port).start()
        got: list[tuple[str, datetime, dict[str, Any]]] = []

        async def emit(uid: str, ts: datetime, values: dict[str, Any]) -> None:
            got.append((uid, ts, values))

        dev = ModbusDevice.from_dict({"uid": "press-1", "host": "127.0.0.1", "port": port, "interval_s": 0.1,
                                      "timeout_s": 1, "registers": MAP})
        c = ModbusCollector(dev, emit)
        # The machine's own values: holding set through a client (the collector itself), input set by the sim.
        await c.write("setpoint", 72.5)
        client = c.client
        await client.write_registers(0, [*_float_words(81.25), (-1234) & 0xFFFF], device_id=1)
        sim.input[10:12] = [0x2800, 0xEE6B]  # 4,000,000,000 with the low word first
        sim.input[12:14] = [0x0000, 0x3930]  # 0x00003039 = 12345, bytes swapped within words
        values = await c.poll_once()
        assert values["temperature"] == pytest.approx(81.25)
        assert values["pressure"] == pytest.approx(-12.34)
        assert values["energy"] == 4_000_000_000
        assert values["delta"] == pytest.approx(12350)
        assert values["setpoint"] == pytest.approx(72.5)
        rr = await client.read_holding_registers(20, count=1, device_id=1)
        assert rr.registers == [725]
        with pytest.raises(PermissionError):
            await c.write("temperature", 1.0)
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        await asyncio.sleep(0.55)
        stop.set()
        await task
        assert 3 <= len(got) <= 8 and all(v["temperature"] == pytest.approx(81.25) for _, _, v in got)
        await sim.stop()

    run_async(scenario())


def test_timeouts_server_down_and_per_device_intervals() -> None:
    async def scenario() -> None:
        port_a, port_b = free_port(), free_port()
        counts: dict[str, int] = {"fast": 0, "slow": 0}

        async def emit(uid: str, ts: datetime, values: dict[str, Any]) -> None:
            counts[uid] += 1

        regs = [{"metric": "v", "table": "holding", "address": 0}]
        fast = ModbusCollector(ModbusDevice.from_dict(
            {"uid": "fast", "host": "127.0.0.1", "port": port_a, "interval_s": 0.1, "timeout_s": 0.5,
             "registers": regs}), emit)
        slow = ModbusCollector(ModbusDevice.from_dict(
            {"uid": "slow", "host": "127.0.0.1", "port": port_b, "interval_s": 0.5, "timeout_s": 0.5,
             "registers": regs}), emit)
        stop = asyncio.Event()
        # Server A is down at first: the collector keeps trying (with back-off) without crashing.
        sim_b = await ModbusSim(port_b).start()
        tasks = [asyncio.create_task(fast.run(stop)), asyncio.create_task(slow.run(stop))]
        await asyncio.sleep(0.6)
        assert fast.errors >= 1 and counts["fast"] == 0 and not fast.online
        sim_a = await ModbusSim(port_a).start()
        await asyncio.sleep(2.5)
        assert fast.online and counts["fast"] >= 5
        # Per-device intervals: the fast one polls several times as often as the slow one.
        assert counts["slow"] >= 3 and counts["fast"] > 2 * counts["slow"]
        # The server goes away mid-run and comes back: polling resumes.
        await sim_a.stop()
        await asyncio.sleep(0.8)
        before = counts["fast"]
        sim_a = await ModbusSim(port_a).start()
        await asyncio.sleep(2.5)
        assert counts["fast"] > before
        stop.set()
        await asyncio.gather(*tasks)
        await sim_a.stop()
        await sim_b.stop()

    run_async(scenario())
