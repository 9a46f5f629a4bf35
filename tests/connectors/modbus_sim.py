"""A real Modbus TCP server (pymodbus) for the tests: holding registers writable by clients, input registers
set by the test."""

from __future__ import annotations

from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


class ModbusSim:
    def __init__(self, port: int, unit: int = 1, size: int = 100) -> None:
        self.port = port
        self.input = [0] * size
        self.reads = 0
        self.size = size
        self.unit = unit
        self.server: Any = None

    async def _action(self, fc: int, start: int, address: int, count: int, regs: list[int], set_values: Any) -> None:
        if fc in (3, 4):
            self.reads += 1
        if fc == 4:
            for i in range(len(regs)):
                regs[i] = self.input[start + i] if start + i < self.size else 0
        return None

    async def start(self) -> ModbusSim:
        bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
        device = SimDevice(
            id=self.unit,
            simdata=(
                bits,
                [SimData(0, count=16, values=False, datatype=DataType.BITS)],
                [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)],
            ),
            action=self._action,
        )
        self.server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None
