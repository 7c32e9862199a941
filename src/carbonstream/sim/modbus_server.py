"""A Modbus server of simulated devices (pymodbus SimDevice API), for the simulator,
the tests and the benchmark: Modbus TCP, RTU framing over TCP, or RTU over a
serial port.

Each device is a unit id with its own four tables. Before every read a device's
``refresh`` may rewrite the registers (a counter that advances with time) or
answer with a Modbus exception (a meter that dropped off the line behind a
gateway answers 0x0B). The server counts requests per unit, so a test can
check request grouping on the server's side, and with ``keep_log`` when each
request arrived (a test of the pause between requests on a bus).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

# (function code, block start address, the block's registers) -> None or an exception code
Refresh = Callable[[int, int, list[int]], ExcCodes | None]


@dataclass
class SimSpec:
    unit: int
    holding: dict[int, int] = field(default_factory=dict)  # address -> register value
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    discrete: dict[int, bool] = field(default_factory=dict)
    refresh: Refresh | None = None


def _block(values: dict[int, int]) -> list[SimData]:
    if not values:
        return [SimData(0, count=1, values=0, datatype=SimType.REGISTERS)]
    lo, hi = min(values), max(values)
    # One contiguous block: reads across gaps between points succeed, as on most meters.
    regs = [values.get(a, 0) for a in range(lo, hi + 1)]
    return [SimData(lo, values=regs, datatype=SimType.REGISTERS)]


def _bits(values: dict[int, bool]) -> list[SimData]:
    hi = max(values, default=0)
    bits = [bool(values.get(a, False)) for a in range(hi + 16 - hi % 16)]
    return [SimData(0, values=bits, datatype=SimType.BITS)]


class RegisterServer:
    def __init__(
        self,
        specs: list[SimSpec],
        *,
        host: str = "127.0.0.1",
        port: int = 5020,
        latency_s: float = 0.0,
        framer: FramerType = FramerType.SOCKET,
        serial_port: str | None = None,
    ) -> None:
        """``framer=FramerType.RTU`` serves RTU frames over TCP; ``serial_port`` serves RTU
        on that serial device instead of TCP (host, port and framer are then unused)."""
        self.specs = {s.unit: s for s in specs}
        self.host = host
        self.port = port
        self.latency_s = latency_s
        self.framer = framer
        self.serial_port = serial_port
        self.requests: Counter[int] = Counter()  # per unit id
        self.log: list[tuple[int, int, int, int]] = []  # (unit, function code, address, count)
        self.times: list[float] = []  # time.monotonic() of each logged request
        self.keep_log = False
        self._server: ModbusTcpServer | ModbusSerialServer | None = None

    async def _action(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        _set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests[unit] += 1
        if self.keep_log:
            self.log.append((unit, function_code, address, count))
            self.times.append(time.monotonic())
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        refresh = self.specs[unit].refresh
        return refresh(function_code, start_address, registers) if refresh else None

    def _devices(self) -> list[SimDevice]:
        return [
            SimDevice(
                s.unit,
                simdata=(_bits(s.coils), _bits(s.discrete), _block(s.holding), _block(s.input)),
                action=partial(self._action, s.unit),
            )
            for s in self.specs.values()
        ]

    async def start(self) -> None:
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        if self.serial_port is not None:
            self._server = ModbusSerialServer(
                self._devices(), framer=FramerType.RTU, port=self.serial_port, baudrate=9600
            )
        else:
            self._server = ModbusTcpServer(
                self._devices(), framer=self.framer, address=(self.host, self.port)
            )
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None
