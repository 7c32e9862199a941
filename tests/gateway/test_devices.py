"""Device failures: a dead device does not delay others; a Modbus server that goes away
and comes back is polled again without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from pymodbus.constants import ExcCodes

from carbonstream.gateway.decode import Conversion, DataType, Order
from carbonstream.gateway.grouping import Table
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.gateway.poller import Poller, PollObserver
from carbonstream.gateway.service import GatewayService
from carbonstream.gateway.source import PollResult
from carbonstream.sim.modbus_server import RegisterServer, SimSpec
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
        await collector.wait_for(lambda: len(collector.readings()) >= 5, 30)
        await server.stop()
        # Away until the gateway has said so (a failed reading), however long a busy
        # machine takes to get a poll in, not for a fixed time that it may not fill.
        await collector.wait_for(
            lambda: any(r.q is not Quality.GOOD for r in collector.readings()), 30
        )
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


async def _poll(poller: Poller, polls: int) -> None:
    """Run the poller until it has polled ``polls`` times (a hang bound, not a speed check)."""
    task = asyncio.create_task(poller.run())
    deadline = time.monotonic() + 60
    while poller.polls < polls:
        assert time.monotonic() < deadline, "the poller did not get round"
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _device(name: str, link: ModbusLink, unit: int, points: list[ModbusPoint]) -> ModbusDevicePoll:
    return ModbusDevicePoll(
        name,
        unit,
        link,
        points,
        timeout_s=2.0,
        retries=2,
        grouping=True,
        max_gap=10,
        max_registers=125,
    )


def _said(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "carbonstream.gateway"]


async def test_a_register_the_device_has_not_is_said_once_as_needing_attention(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Exception 2 (illegal data address) for a point the device has not: a misconfigured
    point, not a device that is away. Said once at ERROR, naming the registers, the meter
    and the fix; the point is flagged on every poll, asked once a poll (no retries), and
    the device's good point is read on every poll, on its interval, without backoff."""
    port = free_port()
    server = RegisterServer([counting_spec(1)], port=port)  # holding registers 0 and 1 only
    await server.start()
    server.keep_log = True
    link = ModbusLink(Link(id="l", host="127.0.0.1", port=port))
    points = [*_point("good"), *_point("wrong")]
    points[1] = replace(points[1], address=300)
    got: list[Reading] = []
    poller = Poller(
        "meter", _device("meter", link, 1, points), got.extend, interval_s=0.05, backoff_max_s=5
    )
    with caplog.at_level(logging.INFO, logger="carbonstream.gateway"):
        await _poll(poller, 6)
    link.close()
    await server.stop()
    said = _said(caplog)
    assert [level for level, _ in said] == [logging.ERROR], said
    message = said[0][1]
    for part in ("meter needs attention", "registers 300..301", "wrong", "exception 2"):
        assert part in message, message
    assert "good" not in message.split("meters ")[1]
    assert poller.failures == 0  # the device answers: no backoff
    polls = poller.polls
    assert [r.q for r in got if r.m == "wrong"][:polls] == [Quality.EXCEPTION] * polls
    good = [r for r in got if r.m == "good"]
    assert len(good) >= polls and all(r.q is Quality.GOOD for r in good)
    values = [r.v for r in good if r.v is not None]
    assert len(values) == len(good) and values == sorted(values)  # the counter, every poll
    # One request a poll for each point's block: a refusal is not asked again in the poll.
    asked = Counter(address for _, _, address, _ in server.log)
    assert asked[300] <= asked[0] + 1, asked


async def test_a_refusal_that_clears_is_said_to_clear_and_a_busy_device_needs_no_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Exception 1 (illegal function) while it lasts: ERROR once; when the device reads
    again: INFO once. Exception 6 (busy) passes by itself: flagged, never ERROR."""
    answer: list[ExcCodes | None] = [ExcCodes.ILLEGAL_FUNCTION]
    port = free_port()
    server = RegisterServer(
        [SimSpec(1, holding={0: 0, 1: 7}, refresh=lambda fc, start, regs: answer[0])], port=port
    )
    await server.start()
    link = ModbusLink(Link(id="l", host="127.0.0.1", port=port))
    got: list[Reading] = []
    poller = Poller(
        "meter",
        _device("meter", link, 1, _point("m")),
        got.extend,
        interval_s=0.05,
        backoff_max_s=5,
    )
    with caplog.at_level(logging.INFO, logger="carbonstream.gateway"):
        await _poll(poller, 4)
        refused = len(got)
        answer[0] = None
        await _poll(poller, poller.polls + 4)
        cleared = len(got)
        answer[0] = ExcCodes.DEVICE_BUSY
        await _poll(poller, poller.polls + 4)
    link.close()
    await server.stop()
    said = _said(caplog)
    assert [level for level, _ in said] == [logging.ERROR, logging.INFO], said
    assert "exception 1" in said[0][1] and "needs attention" in said[0][1]
    assert said[1][1] == "device meter no longer needs attention"
    assert {r.q for r in got[:refused]} == {Quality.EXCEPTION}
    assert Quality.GOOD in {r.q for r in got[refused:cleared]}
    assert got[-1].q is Quality.EXCEPTION  # busy: flagged, and no one was told
    assert poller.failures == 0
