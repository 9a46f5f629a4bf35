"""Modbus TCP collector: polls holding / input registers by a register map (pymodbus client).

A register map entry: ``metric``, ``address`` (0-based), ``table`` (holding | input), ``type``
(int16 | uint16 | int32 | uint32 | float32), ``byte_order`` and ``word_order`` (big | little),
``scale`` and ``offset`` (value = raw × scale + offset), ``writable`` (setpoint: write-back allowed).
Contiguous registers are read in as few requests as possible (≤ 125 registers each).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("chaoyun.gateway.modbus")

TYPES: dict[str, tuple[int, str]] = {  # registers, struct format (big-endian bytes)
    "int16": (1, ">h"),
    "uint16": (1, ">H"),
    "int32": (2, ">i"),
    "uint32": (2, ">I"),
    "float32": (2, ">f"),
}
MAX_BLOCK = 125

Emit = Callable[[str, datetime, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Register:
    metric: str
    address: int
    type: str = "uint16"
    table: str = "holding"
    byte_order: str = "big"
    word_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0
    writable: bool = False

    @property
    def count(self) -> int:
        return TYPES[self.type][0]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Register:
        r = cls(
            metric=str(d["metric"]),
            address=int(d["address"]),
            type=str(d.get("type", "uint16")),
            table=str(d.get("table", "holding")),
            byte_order=str(d.get("byte_order", "big")),
            word_order=str(d.get("word_order", "big")),
            scale=float(d.get("scale", 1.0)),
            offset=float(d.get("offset", 0.0)),
            writable=bool(d.get("writable", False)),
        )
        if r.type not in TYPES:
            raise ValueError(f"{r.metric}: unknown register type {r.type!r} (one of {', '.join(TYPES)})")
        if r.table not in ("holding", "input"):
            raise ValueError(f"{r.metric}: table must be holding or input")
        if r.byte_order not in ("big", "little") or r.word_order not in ("big", "little"):
            raise ValueError(f"{r.metric}: byte_order and word_order are big or little")
        if not 0 <= r.address <= 65535 - r.count + 1:
            raise ValueError(f"{r.metric}: address out of range")
        if r.scale == 0:
            raise ValueError(f"{r.metric}: scale must not be 0")
        return r


def _order(regs: list[int], reg: Register) -> bytes:
    words = list(regs)
    if reg.word_order == "little":
        words.reverse()
    out = bytearray()
    for w in words:
        b = (w & 0xFFFF).to_bytes(2, "big")
        out += b[::-1] if reg.byte_order == "little" else b
    return bytes(out)


def decode(reg: Register, regs: list[int]) -> float | int:
    """Registers as read → engineering value (raw × scale + offset)."""
    if len(regs) != reg.count:
        raise ValueError(f"{reg.metric}: expected {reg.count} registers, got {len(regs)}")
    (raw,) = struct.unpack(TYPES[reg.type][1], _order(regs, reg))
    if reg.scale == 1.0 and reg.offset == 0.0:
        return raw  # type: ignore[no-any-return]
    return float(raw) * reg.scale + reg.offset


def encode(reg: Register, value: float) -> list[int]:
    """Engineering value → registers to write (inverse of :func:`decode`)."""
    raw: float | int = (float(value) - reg.offset) / reg.scale
    fmt = TYPES[reg.type][1]
    if reg.type != "float32":
        raw = round(raw)
    try:
        data = struct.pack(fmt, raw)
    except struct.error as exc:
        raise ValueError(f"{reg.metric}: {value} does not fit a {reg.type} register") from exc
    words = []
    for i in range(0, len(data), 2):
        b = data[i : i + 2]
        if reg.byte_order == "little":
            b = b[::-1]
        words.append(int.from_bytes(b, "big"))
    if reg.word_order == "little":
        words.reverse()
    return words


@dataclass
class Block:
    table: str
    start: int
    count: int
    registers: list[Register]


def plan_blocks(registers: list[Register], max_gap: int = 8) -> list[Block]:
    """Group registers into contiguous read requests (small gaps are read and ignored)."""
    blocks: list[Block] = []
    for table in ("holding", "input"):
        regs = sorted((r for r in registers if r.table == table), key=lambda r: r.address)
        cur: Block | None = None
        for r in regs:
            end = r.address + r.count
            if cur and r.address - (cur.start + cur.count) <= max_gap and end - cur.start <= MAX_BLOCK:
                cur.count = max(cur.count, end - cur.start)
                cur.registers.append(r)
            else:
                cur = Block(table, r.address, r.count, [r])
                blocks.append(cur)
    return blocks


@dataclass
class ModbusDevice:
    uid: str
    host: str
    port: int = 502
    unit: int = 1
    interval_s: float = 1.0
    timeout_s: float = 2.0
    registers: list[Register] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModbusDevice:
        dev = cls(
            uid=str(d["uid"]),
            host=str(d["host"]),
            port=int(d.get("port", 502)),
            unit=int(d.get("unit", 1)),
            interval_s=float(d.get("interval_s", 1.0)),
            timeout_s=float(d.get("timeout_s", 2.0)),
            registers=[Register.from_dict(r) for r in d.get("registers", [])],
        )
        if dev.interval_s <= 0 or dev.timeout_s <= 0:
            raise ValueError(f"{dev.uid}: interval_s and timeout_s must be positive")
        if not dev.registers:
            raise ValueError(f"{dev.uid}: no registers")
        return dev


class ModbusCollector:
    """Polls one device every ``interval_s``; reconnects with back-off after timeouts or refused connections."""

    def __init__(self, device: ModbusDevice, emit: Emit) -> None:
        self.device = device
        self.emit = emit
        self.blocks = plan_blocks(device.registers)
        self.by_metric = {r.metric: r for r in device.registers}
        self.client: Any = None
        self.polls = 0
        self.errors = 0
        self.online = False
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        from pymodbus.client import AsyncModbusTcpClient

        if self.client is not None and self.client.connected:
            return self.client
        if self.client is not None:
            self.client.close()
        self.client = AsyncModbusTcpClient(
            self.device.host, port=self.device.port, timeout=self.device.timeout_s, retries=0, reconnect_delay=0
        )
        ok = await self.client.connect()
        if not ok:
            raise ConnectionError(f"cannot connect to {self.device.host}:{self.device.port}")
        return self.client

    async def poll_once(self) -> dict[str, Any]:
        async with self._lock:
            client = await self._connect()
            values: dict[str, Any] = {}
            for b in self.blocks:
                read = client.read_holding_registers if b.table == "holding" else client.read_input_registers
                rr = await asyncio.wait_for(
                    read(b.start, count=b.count, device_id=self.device.unit), timeout=self.device.timeout_s + 1
                )
                if rr.isError():
                    raise OSError(f"{self.device.uid}: {b.table} {b.start}+{b.count}: {rr}")
                for r in b.registers:
                    i = r.address - b.start
                    values[r.metric] = decode(r, list(rr.registers[i : i + r.count]))
            return values

    async def write(self, metric: str, value: float) -> None:
        reg = self.by_metric.get(metric)
        if reg is None or not reg.writable or reg.table != "holding":
            raise PermissionError(f"{metric} is not a writable holding register of {self.device.uid}")
        words = encode(reg, value)
        async with self._lock:
            client = await self._connect()
            if len(words) == 1:
                rr = await client.write_register(reg.address, words[0], device_id=self.device.unit)
            else:
                rr = await client.write_registers(reg.address, words, device_id=self.device.unit)
            if rr.isError():
                raise OSError(f"write {metric}: {rr}")

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.device.interval_s
        next_at = time.monotonic()
        last_ts: datetime | None = None
        while not stop.is_set():
            try:
                values = await self.poll_once()
                self.polls += 1
                self.online = True
                delay = self.device.interval_s
                ts = datetime.now(UTC)
                if last_ts is not None and ts <= last_ts:
                    ts = last_ts + timedelta(milliseconds=1)  # the store keys points by millisecond
                last_ts = ts
                await self.emit(self.device.uid, ts, values)
            except Exception as exc:
                self.errors += 1
                if self.online or self.errors == 1:
                    log.warning("modbus %s (%s:%s): %s", self.device.uid, self.device.host, self.device.port, exc)
                self.online = False
                if self.client is not None:
                    self.client.close()
                    self.client = None
                delay = min(30.0, max(self.device.interval_s, delay * 2))
            now = time.monotonic()
            next_at += self.device.interval_s
            if next_at < now:  # fell behind (busy machine): skip the missed polls rather than burst
                next_at = now + self.device.interval_s
            next_at = max(next_at, now + (delay - self.device.interval_s))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_at - time.monotonic()))
        if self.client is not None:
            self.client.close()
