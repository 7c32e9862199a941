"""RTU framing over TCP and RTU over a serial line (a pty pair), against pymodbus servers.

On the serial line two meters share the bus: the link's lock keeps one request
on the wire at a time and ``pause_s`` of quiet time after each answer.
"""

from __future__ import annotations

import asyncio
import itertools

from pymodbus import FramerType

from carbonstream.gateway.decode import Conversion, DataType, Order, encode
from carbonstream.gateway.grouping import Table
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.sim.modbus_server import RegisterServer, SimSpec
from carbonstream.transport.payload import Quality, Reading

from .conftest import free_port
from .serial_pair import SerialPair


def _meter(unit: int) -> tuple[SimSpec, list[ModbusPoint]]:
    """A meter with an f32 (CDAB) voltage at 0 and a u32 energy counter at 10."""
    holding = dict(enumerate(encode(230.0 + unit, DataType.F32, Order.CDAB)))
    holding |= {10 + i: r for i, r in enumerate(encode(1000 * unit + 7, DataType.U32))}
    points = [
        ModbusPoint(f"m{unit}-v", "V", Table.HOLDING, 0, DataType.F32, Order.CDAB, Conversion()),
        ModbusPoint(
            f"m{unit}-e", "kWh", Table.HOLDING, 10, DataType.U32, Order.ABCD, Conversion(0.1)
        ),
    ]
    return SimSpec(unit, holding=holding), points


def _poll(unit: int, link: ModbusLink, points: list[ModbusPoint]) -> ModbusDevicePoll:
    return ModbusDevicePoll(
        f"d{unit}",
        unit,
        link,
        points,
        timeout_s=1.0,
        retries=1,
        grouping=True,
        max_gap=10,
        max_registers=125,
    )


def _check(readings: list[Reading], unit: int) -> None:
    got = {r.m: r for r in readings}
    assert got[f"m{unit}-v"].q is Quality.GOOD and got[f"m{unit}-v"].v == 230.0 + unit
    assert got[f"m{unit}-e"].q is Quality.GOOD
    assert got[f"m{unit}-e"].v == (1000 * unit + 7) * 0.1


async def test_rtu_framing_over_tcp() -> None:
    spec, points = _meter(3)
    port = free_port()
    server = RegisterServer([spec], port=port, framer=FramerType.RTU)
    await server.start()
    link = ModbusLink(Link(id="gw", transport="rtu_over_tcp", host="127.0.0.1", port=port))
    try:
        poll = _poll(3, link, points)
        for _ in range(3):
            result = await poll()
            assert result.ok and result.requests == 1  # both points in one request
            _check(result.readings, 3)
    finally:
        link.close()
        await server.stop()
    assert server.requests[3] == 3


async def test_rtu_over_serial_two_meters_share_the_bus() -> None:
    (spec1, points1), (spec2, points2) = _meter(1), _meter(2)
    with SerialPair() as cable:
        server = RegisterServer([spec1, spec2], serial_port=cable.paths[0])
        server.keep_log = True
        await server.start()
        link = ModbusLink(
            Link(id="bus", transport="rtu", serial_port=cable.paths[1], parity="N", pause_s=0.05)
        )
        try:
            polls = [_poll(1, link, points1), _poll(2, link, points2)]
            for _ in range(3):
                # Both devices poll at once: the bus lock puts their requests in line.
                r1, r2 = await asyncio.gather(*(p() for p in polls))
                _check(r1.readings, 1)
                _check(r2.readings, 2)
        finally:
            link.close()
            await server.stop()
    assert sorted(server.requests.items()) == [(1, 3), (2, 3)]
    gaps = [b - a for a, b in itertools.pairwise(server.times)]
    assert min(gaps) >= 0.045, f"requests closer than the bus pause: {min(gaps):.3f} s"


async def test_serial_line_with_nobody_on_it_times_out() -> None:
    _spec, points = _meter(9)
    with SerialPair() as cable:  # the far end is never opened: a cut or silent bus
        link = ModbusLink(Link(id="bus", transport="rtu", serial_port=cable.paths[1], parity="N"))
        try:
            dead = ModbusDevicePoll(
                "d9",
                9,
                link,
                points,
                timeout_s=0.3,
                retries=1,
                grouping=True,
                max_gap=10,
                max_registers=125,
            )
            t0 = asyncio.get_running_loop().time()
            result = await dead()
            took = asyncio.get_running_loop().time() - t0
        finally:
            link.close()
    assert not result.ok and result.requests == 2  # one retry
    assert {r.q for r in result.readings} == {Quality.TIMEOUT}
    assert all(r.v is None for r in result.readings)
    assert took < 2 * 0.3 + 0.5, "a silent bus costs its timeouts, not more"
