"""Request grouping: the fewest requests the rules allow, counted on the server side."""

from __future__ import annotations

import pytest

from carbonstream.gateway.decode import Conversion, DataType, Order
from carbonstream.gateway.grouping import Span, Table, group
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.sim.modbus_server import RegisterServer, SimSpec

from .conftest import free_port

H, INP = Table.HOLDING, Table.INPUT


def test_adjacent_and_small_gaps_merge() -> None:
    spans = [Span(H, 0, 2), Span(H, 2, 2), Span(H, 10, 2), Span(H, 30, 2)]
    reqs = group(spans, max_gap=8)
    assert [(r.address, r.count) for r in reqs] == [(0, 12), (30, 2)]


def test_tables_never_merge_and_order_does_not_matter() -> None:
    spans = [Span(INP, 0, 2), Span(H, 4, 2), Span(H, 0, 2), Span(INP, 2, 2)]
    reqs = group(spans, max_gap=10)
    assert sorted((r.table.value, r.address, r.count) for r in reqs) == [
        ("holding", 0, 6),
        ("input", 0, 4),
    ]


def test_request_size_limit() -> None:
    spans = [Span(H, a, 2) for a in range(0, 300, 2)]  # 300 adjacent registers
    reqs = group(spans, max_gap=0, max_registers=125)
    assert [r.count for r in reqs] == [124, 124, 52]  # 2-register values never split
    assert len(group(spans, max_gap=0, max_registers=100)) == 3


def test_grouping_off_reads_each_point_alone() -> None:
    spans = [Span(H, a, 2) for a in range(0, 20, 2)]
    assert len(group(spans, enabled=False)) == 10


def test_oversized_point_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        group([Span(H, 0, 130)])


@pytest.mark.parametrize(
    ("enabled", "max_gap", "expected"),
    # Worked out by hand for the points below:
    #   max_gap 10: [0,8) [100,116) [3000,3012) + input [0,4)                   -> 4
    #   max_gap 0:  [0,8) [100,104) [110,112) [114,116) [3000,3002) [3010,3012) + input -> 7
    #   off: one request per point                                             -> 12
    [(True, 10, 4), (True, 0, 7), (False, 10, 12)],
)
async def test_requests_counted_by_the_server(enabled: bool, max_gap: int, expected: int) -> None:
    # 12 f32 points: 4 adjacent, 4 with small gaps, 2 far away 8 apart, 2 input registers.
    addresses = [0, 2, 4, 6, 100, 102, 110, 114, 3000, 3010]
    points = [
        ModbusPoint(f"m{a}", "kWh", H, a, DataType.F32, Order.ABCD, Conversion()) for a in addresses
    ] + [
        ModbusPoint(f"i{a}", "kWh", INP, a, DataType.F32, Order.ABCD, Conversion()) for a in (0, 2)
    ]
    port = free_port()
    holding = {a + i: 0x3F80 if i == 0 else 0 for a in addresses for i in range(2)}
    server = RegisterServer(
        [SimSpec(1, holding=holding, input={0: 0, 1: 0, 2: 0, 3: 0})], port=port
    )
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
            grouping=enabled,
            max_gap=max_gap,
            max_registers=125,
        )
        result = await poll()
    finally:
        link.close()
        await server.stop()
    assert all(r.v is not None for r in result.readings)
    assert server.requests[1] == expected == result.requests
