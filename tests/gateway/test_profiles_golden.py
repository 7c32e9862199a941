"""Golden cases for each built-in profile: a register dump (packed by hand) served by a
real pymodbus server, read through the profile, must give the expected readings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.gateway.decode import Conversion
from carbonstream.gateway.grouping import Table
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.gateway.profiles import available, builtin_dir, load_profile
from carbonstream.sim.modbus_server import RegisterServer, SimSpec
from carbonstream.transport.payload import Quality

from .conftest import free_port

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.yaml"))


def test_every_builtin_profile_has_a_golden_case() -> None:
    assert {p.stem for p in GOLDEN} == set(available())
    assert len(list(builtin_dir().glob("*.yaml"))) >= 4


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
async def test_golden_case(path: Path) -> None:
    case: dict[str, Any] = yaml.safe_load(path.read_text())
    profile = load_profile(case["profile"])
    assert profile.source.document and profile.verified
    regs = {int(a): int(v, 16) for a, v in case["registers"].items()}
    points = [
        ModbusPoint(
            q,
            profile.quantities[q].unit,
            profile.table_of(q),
            profile.quantities[q].address,
            profile.type_of(q),
            profile.order_of(q),
            Conversion(scale=profile.quantities[q].scale),
        )
        for q in case["expected"]
    ]
    table = Table(case["table"])
    assert all(p.table is table for p in points)
    spec = SimSpec(1, holding=regs) if table is Table.HOLDING else SimSpec(1, input=regs)
    port = free_port()
    server = RegisterServer([spec], port=port)
    await server.start()
    link = ModbusLink(Link(id="l", host="127.0.0.1", port=port))
    try:
        poll = ModbusDevicePoll(
            "d",
            1,
            link,
            points,
            timeout_s=2,
            retries=0,
            grouping=True,
            max_gap=profile.max_gap,
            max_registers=profile.max_registers,
        )
        result = await poll()
    finally:
        link.close()
        await server.stop()
    got = {r.m: r for r in result.readings}
    for quantity, expected in case["expected"].items():
        assert got[quantity].q is Quality.GOOD
        assert got[quantity].v == pytest.approx(expected, rel=1e-6), quantity
