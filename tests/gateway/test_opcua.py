"""OPC UA: subscription and polling against a real asyncua server; source timestamps kept,
status codes mapped to quality, non-good values never published as numbers."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from asyncua.ua.status_codes import StatusCodes

from carbonstream.config.loader import validate
from carbonstream.gateway.poller import schedule
from carbonstream.gateway.protocols.opcua import OpcuaDevice, OpcuaHub
from carbonstream.gateway.source import Polling, Site
from carbonstream.sim.opcua_server import VariableServer
from carbonstream.transport.payload import Quality, Reading


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


@pytest.mark.parametrize("mode", ["subscription", "poll"])
@pytest.mark.slow
async def test_source_time_and_status(mode: str, tmp_path: Path) -> None:
    # Port 0: bound by the server itself, not free_port's, which another process may take
    # before the server binds it.
    server = VariableServer(["good", "unsure", "bad", "old"], port=0)
    await server.start()
    now = dt.datetime.now(dt.UTC)
    t_good = now - dt.timedelta(seconds=5, microseconds=250000)  # distinct, within max_age
    t_recent = now - dt.timedelta(seconds=2)
    await server.write("good", 1234.5, at=now - dt.timedelta(seconds=1))
    await server.write("unsure", 1.0, status=StatusCodes.UncertainLastUsableValue, at=t_recent)
    await server.write("bad", 2.0, status=StatusCodes.BadCommunicationError, at=t_recent)
    await server.write("old", 3.0, at=now - dt.timedelta(hours=1))
    device = validate(
        {
            "protocol": "opcua",
            "id": "scada",
            "endpoint": server.endpoint,
            "mode": mode,
            "sampling_interval_ms": 100,
            "publishing_interval_ms": 100,
            "max_age_s": 600,
            "points": [
                {"meter": n, "node": f"ns=2;s={n}", "unit": "t", "scale": 2.0 if n == "good" else 1}
                for n in server.names
            ],
        },
        OpcuaDevice,
        "test",
    )
    got: list[Reading] = []
    polling = Polling(interval_s=0.2, timeout_s=2)
    hub = OpcuaHub(Site(id="s1", plant=None))
    runner = schedule("scada", hub.source(device, polling), got.extend, polling)
    task = asyncio.create_task(runner.run())
    try:
        for _ in range(300):  # at least 30 s: a hang bound, not a speed check
            if {r.m for r in got} == set(server.names):
                break
            await asyncio.sleep(0.1)
        first = {r.m: r for r in reversed(got)}
        assert first["good"].q is Quality.GOOD and first["good"].v == pytest.approx(2469.0)
        assert first["good"].t == _ms(now - dt.timedelta(seconds=1))  # the source's clock
        assert first["unsure"].q is Quality.UNCERTAIN and first["unsure"].v is None
        assert first["bad"].q is Quality.BAD_STATUS and first["bad"].v is None
        assert first["bad"].t == _ms(t_recent)
        assert first["old"].q is Quality.STALE and first["old"].v is None
        # A change arrives with its own source timestamp.
        await server.write("good", 10.0, at=t_good)
        for _ in range(300):
            if any(r.m == "good" and r.t == _ms(t_good) for r in got):
                break
            await asyncio.sleep(0.1)
        latest = [r for r in got if r.m == "good" and r.t == _ms(t_good)]
        assert latest and latest[-1].v == pytest.approx(20.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await hub.close()
        await server.stop()
