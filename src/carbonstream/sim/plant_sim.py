"""The plant simulator: the example plant's meters over Modbus TCP and OPC UA.

Counters advance with the load profiles of ``carbonstream.sim.profiles``
(shifts, weekends, a gas boiler, a diesel generator's weekly test, rooftop PV),
integrated at every read, so successive readings are consistent with the power.
A counter with a ``counter_range`` starts just below it and rolls over after
about ``rollover_after_s``. One device (the last Modbus unit, by default) drops
out for ``dropout_s`` in every ``dropout_period_s``: over Modbus it answers
exception 0x0B (gateway target failed to respond, as a Modbus gateway does for
a silent meter) and over OPC UA its value turns BadCommunicationError.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
from asyncua.ua.status_codes import StatusCodes
from pymodbus.constants import ExcCodes

from carbonstream.config.plant import Measures, Meter, Plant
from carbonstream.gateway.decode import REGISTERS, DataType, encode
from carbonstream.gateway.grouping import Table
from carbonstream.gateway.profiles import load_profile, unit_factor
from carbonstream.sim.layout import SimPoint, layout
from carbonstream.sim.modbus_server import RegisterServer, SimSpec
from carbonstream.sim.opcua_server import VariableServer
from carbonstream.sim.profiles import fraction_of_rating


@dataclass
class SimOptions:
    host: str = "127.0.0.1"
    modbus_port: int = 5020
    opcua_port: int | None = 4840  # None: no OPC UA server
    seed: int = 7
    speed: float = 1.0  # simulated seconds per real second
    rollover_after_s: float = 120.0
    dropout_unit: int | None = -1  # -1: the last unit; None: no drop-out
    dropout_period_s: float = 300.0
    dropout_s: float = 60.0
    opcua_update_s: float = 1.0
    start_values: dict[str, float] = field(default_factory=dict)


class _MeterState:
    def __init__(self, meter: Meter, plant: Plant, start: float, rng: np.random.Generator) -> None:
        self.meter = meter
        self.plant = plant
        self.value = start
        self.rng = rng
        self.rate = 0.0

    def advance(self, at: dt.datetime, dt_s: float) -> None:
        local = at.astimezone(self.plant.zone)
        frac = fraction_of_rating(
            self.meter,
            np.array([local.hour + local.minute / 60]),
            np.array([local.weekday()]),
            np.array([local.timetuple().tm_yday]),
            self.rng,
        )[0]
        self.rate = float(self.meter.rating * frac / self.meter.multiplier)  # raw unit per hour
        if self.meter.measures is Measures.COUNTER:
            self.value += self.rate * dt_s / 3600
            if self.meter.counter_range:
                self.value %= self.meter.counter_range

    @property
    def reading(self) -> float:
        return self.value if self.meter.measures is Measures.COUNTER else self.rate


class PlantSimulator:
    def __init__(self, plant: Plant, options: SimOptions | None = None) -> None:
        self.plant = plant
        self.opt = options or SimOptions()
        self.points = layout(plant)
        rng = np.random.default_rng(self.opt.seed)
        self.state: dict[str, _MeterState] = {}
        for p in self.points:
            m = p.meter
            if m.id in self.opt.start_values:
                start = self.opt.start_values[m.id]
            elif m.counter_range:
                start = (
                    m.counter_range
                    - m.rating / m.multiplier * 0.5 * self.opt.rollover_after_s / 3600
                )
            else:
                start = round(m.rating * 100 / m.multiplier, 1)
            self.state[m.id] = _MeterState(m, plant, start, rng)
        modbus = [p for p in self.points if p.quantity is not None]
        self.dropout_unit = (
            None
            if self.opt.dropout_unit is None
            else (modbus[-1].unit_id if self.opt.dropout_unit == -1 else self.opt.dropout_unit)
        )
        self.modbus = RegisterServer(
            [self._spec(p) for p in modbus], host=self.opt.host, port=self.opt.modbus_port
        )
        self.opcua = (
            VariableServer(
                [p.meter.id for p in self.points], host=self.opt.host, port=self.opt.opcua_port
            )
            if self.opt.opcua_port is not None
            else None
        )
        self._t0_real = time.time()
        self._t0_sim = dt.datetime.now(dt.UTC)
        self._last: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None

    # --- time and values ---------------------------------------------------
    def now(self) -> dt.datetime:
        return self._t0_sim + dt.timedelta(seconds=(time.time() - self._t0_real) * self.opt.speed)

    def advance(self) -> None:
        now = self.now()
        step = 0.0 if self._last is None else (now - self._last).total_seconds()
        for s in self.state.values():
            s.advance(now, step)
        self._last = now

    def dropped_out(self, unit: int | None = None) -> bool:
        if self.dropout_unit is None or (unit is not None and unit != self.dropout_unit):
            return False
        elapsed = (time.time() - self._t0_real) % self.opt.dropout_period_s
        return elapsed >= self.opt.dropout_period_s - self.opt.dropout_s

    # --- Modbus --------------------------------------------------------------
    def _spec(self, p: SimPoint) -> SimSpec:
        assert p.quantity is not None
        profile = load_profile(p.profile)
        q = profile.quantities[p.quantity]
        table, dtype, order = (
            profile.table_of(p.quantity),
            profile.type_of(p.quantity),
            profile.order_of(p.quantity),
        )
        factor = unit_factor(q.unit, p.meter.unit)
        if factor is None:
            raise ValueError(
                f"simulator: {p.profile}.{p.quantity} ({q.unit}) cannot serve {p.meter.unit}"
            )
        per_raw = q.scale * factor  # meter unit per raw count
        fc = {Table.HOLDING: 3, Table.INPUT: 4}[table]
        state = self.state[p.meter.id]
        n = REGISTERS[dtype]

        def refresh(function_code: int, start: int, regs: list[int]) -> ExcCodes | None:
            if self.dropped_out(p.unit_id):
                return ExcCodes.GATEWAY_NO_RESPONSE
            if function_code == fc:
                self.advance()
                raw = state.reading / per_raw
                if dtype not in (DataType.F32, DataType.F64):
                    raw = round(raw)
                off = q.address - start
                regs[off : off + n] = encode(raw, dtype, order)
            return None

        values = dict.fromkeys(range(q.address, q.address + n), 0)
        if table is Table.HOLDING:
            return SimSpec(p.unit_id, holding=values, refresh=refresh)
        return SimSpec(p.unit_id, input=values, refresh=refresh)

    # --- OPC UA --------------------------------------------------------------
    async def _update_opcua(self) -> None:
        assert self.opcua is not None
        dropout_meter = next(
            (p.meter.id for p in self.points if p.unit_id == self.dropout_unit), None
        )
        while True:
            self.advance()
            at = dt.datetime.now(dt.UTC)
            for p in self.points:
                bad = p.meter.id == dropout_meter and self.dropped_out()
                await self.opcua.write(
                    p.meter.id,
                    self.state[p.meter.id].reading,
                    status=StatusCodes.BadCommunicationError if bad else StatusCodes.Good,
                    at=at,
                )
            await asyncio.sleep(self.opt.opcua_update_s)

    async def start(self) -> None:
        self.advance()
        await self.modbus.start()
        if self.opcua is not None:
            await self.opcua.start()
            self._task = asyncio.create_task(self._update_opcua())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.modbus.stop()
        if self.opcua is not None:
            await self.opcua.stop()
