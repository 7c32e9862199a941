"""Device failures: a dead device does not delay others; a Modbus server that goes away
and comes back is polled again without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from carbonstream.gateway.decode import Conversion, DataType, Order
from carbonstream.gateway.grouping import Table
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.gateway.poller import Poller, PollObserver
from carbonstream.gateway.service import GatewayService
from carbonstream.gateway.source import PollResult
from carbonstream.sim.modbus_server import RegisterServer
from carbonstream.transport.payload import Quality, Reading

from .conftest import Collector, free_port, make_gateway
from .counters import counting_device, counting_spec


class _Record(PollObserver):
    def __init__(self) -> None:
        self.lateness: dict[str, list[float]] = {}

    def poll_done(
        self, device: str, duration_s: float, lateness_s: float, result: PollResult
    ) -> None:
        self.lateness.setdefault(device, []).append(lateness_s)


async def _black_hole() -> tuple[asyncio.Server, int]:
    """A TCP peer that accepts and never answers: a meter that hangs."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(1024):
                pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


def _point(meter: str) -> list[ModbusPoint]:
    return [ModbusPoint(meter, "kWh", Table.HOLDING, 0, DataType.U32, Order.ABCD, Conversion())]


@pytest.mark.slow
async def test_dead_device_does_not_delay_the_others() -> None:
    hole, hole_port = await _black_hole()
    port = free_port()
    live_server = RegisterServer([counting_spec(1)], port=port)
    await live_server.start()
    obs = _Record()
    got: list[Reading] = []
    links = [
        ModbusLink(Link(id="dead", host="127.0.0.1", port=hole_port)),
        ModbusLink(Link(id="live", host="127.0.0.1", port=port)),
    ]
    pollers = [
        Poller(
            name,
            ModbusDevicePoll(
                name,
                1,
                link,
                _point(name),
                timeout_s=0.8,
                retries=1,
                grouping=True,
                max_gap=10,
                max_registers=125,
            ),
            got.extend,
            interval_s=0.25,
            backoff_max_s=1.0,
            observer=obs,
        )
        for name, link in zip(("dead", "live"), links, strict=True)
    ]
    start = time.monotonic()
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    # Until the live device was polled 14 times (3.5 s at 0.25 s on a quiet machine) while
    # the dead one hung: however long a busy machine takes for that.
    deadline = start + 60
    while len(obs.lateness.get("live", [])) < 14 or not any(r.m == "dead" for r in got):
        assert time.monotonic() < deadline, "the pollers did not get round"
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for link in links:
        link.close()
    hole.close()
    await live_server.stop()
    live = obs.lateness["live"]
    # Waiting for the dead device would make a poll at least its 0.8 s timeout late; a busy
    # machine holds the loop for a tenth of a second or two, never that long.
    assert max(live) < 0.5, f"the live device waited for the dead one: {max(live):.3f} s"
    dead = [r for r in got if r.m == "dead"]
    assert dead and all(r.q is Quality.TIMEOUT and r.v is None for r in dead)
    # Each failed poll costs (retries + 1) x timeout, then the device backs off.
    assert len(dead) <= elapsed / 1.6 + 1
    assert all(r.q is Quality.GOOD for r in got if r.m == "live")


@pytest.mark.slow
async def test_modbus_server_goes_away_and_comes_back(tmp_path: Path, prefix: str) -> None:
    port = free_port()
    spec = counting_spec(1)
    server = RegisterServer([spec], port=port)
    await server.start()
    gw = make_gateway(tmp_path, [counting_device("d1", port, 1)], prefix=prefix)
    service = GatewayService(gw)
    async with Collector("127.0.0.1", 1883, prefix) as collector:
        task = asyncio.create_task(service.run())
        await collector.wait_for(lambda: len(collector.readings()) >= 5, 10)
        await server.stop()
        await asyncio.sleep(2.5)
        server = RegisterServer([spec], port=port)  # same device, same counter, back again
        await server.start()
        back = len(collector.readings())
        await collector.wait_for(
            lambda: sum(r.q is Quality.GOOD for r in collector.readings()[back:]) >= 5, 15
        )
        service.stop()
        await asyncio.wait_for(task, 15)
    await server.stop()
    readings = collector.readings()
    failed = [r for r in readings if r.q is not Quality.GOOD]
    assert failed, "the outage shows as failed readings"
    assert all(r.v is None for r in failed)
    assert {r.q for r in failed} <= {Quality.COMM_ERROR, Quality.TIMEOUT}
    good = [r.v for r in readings if r.q is Quality.GOOD]
    assert good == sorted(good)  # one counter, read in order before and after the outage
