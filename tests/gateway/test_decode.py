"""Every data type and byte/word order decodes right: by hand-made vectors and
through a real pymodbus server."""

from __future__ import annotations

import itertools
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonstream.gateway.decode import (
    REGISTERS,
    BlockDecoder,
    Conversion,
    DataType,
    DecodeError,
    Order,
    decode,
    decode_raw,
    encode,
)
from carbonstream.gateway.grouping import Table
from carbonstream.gateway.links import Link
from carbonstream.gateway.modbus import ModbusDevicePoll, ModbusLink, ModbusPoint
from carbonstream.sim.modbus_server import RegisterServer, SimSpec
from carbonstream.transport.payload import Quality
from tests.hypothesis_profiles import examples

from .conftest import free_port

# 123.456 as f32 is 0x42F6E979: the four orders as the device would send it.
F32_WIRE = {
    Order.ABCD: [0x42F6, 0xE979],
    Order.CDAB: [0xE979, 0x42F6],
    Order.BADC: [0xF642, 0x79E9],
    Order.DCBA: [0x79E9, 0xF642],
}


@pytest.mark.parametrize(("order", "regs"), F32_WIRE.items())
def test_f32_orders_by_hand(order: Order, regs: list[int]) -> None:
    assert decode_raw(regs, DataType.F32, order) == pytest.approx(123.456, rel=1e-6)


def test_64_bit_orders_by_hand() -> None:
    # 0x0102030405060708 as the four word/byte orders
    abcd = [0x0102, 0x0304, 0x0506, 0x0708]
    assert decode_raw(abcd, DataType.U64, Order.ABCD) == 0x0102030405060708
    assert decode_raw(abcd[::-1], DataType.U64, Order.CDAB) == 0x0102030405060708
    assert (
        decode_raw([0x0201, 0x0403, 0x0605, 0x0807], DataType.U64, Order.BADC) == 0x0102030405060708
    )
    assert (
        decode_raw([0x0807, 0x0605, 0x0403, 0x0201], DataType.U64, Order.DCBA) == 0x0102030405060708
    )


def test_signed_and_16_bit() -> None:
    assert decode_raw([0xFFFF], DataType.I16) == -1
    assert decode_raw([0xFFFF], DataType.U16) == 65535
    assert decode_raw([0x0100], DataType.U16, Order.BADC) == 1
    assert decode_raw([0xFFFF, 0xFFFE], DataType.I32) == -2
    assert decode_raw([0xFFFE, 0xFFFF], DataType.I32, Order.CDAB) == -2
    assert decode_raw([0xFFFF] * 4, DataType.I64) == -1


def test_conversion_scale_multiplier_offset() -> None:
    conv = Conversion(scale=0.1, multiplier=80, offset=5)
    assert decode([1234], DataType.U16, Order.ABCD, conv) == pytest.approx(1234 * 0.1 * 80 + 5)


@pytest.mark.parametrize(
    ("regs", "dtype"),
    [([0x7FC0, 0x0000], DataType.F32), ([0x7FF8, 0, 0, 0], DataType.F64), ([1], DataType.U32)],
)
def test_nan_and_short_reads_are_decode_errors(regs: list[int], dtype: DataType) -> None:
    with pytest.raises(DecodeError):
        decode_raw(regs, dtype)


VALUES = {
    DataType.U16: 54321,
    DataType.I16: -1234,
    DataType.U32: 3_000_000_123,
    DataType.I32: -2_000_000_001,
    DataType.U64: 2**63 + 12345,
    DataType.I64: -(2**62) - 7,
    DataType.F32: struct.unpack(">f", struct.pack(">f", -1234.5678))[0],
    DataType.F64: 98765.4321012345,
}


async def test_every_type_and_order_through_a_pymodbus_server() -> None:
    cases = list(itertools.product(VALUES, Order))
    holding: dict[int, int] = {}
    points = []
    address = 0
    for dtype, order in cases:
        for i, r in enumerate(encode(VALUES[dtype], dtype, order)):
            holding[address + i] = r
        meter = f"{dtype.value}-{order.value}"
        points.append(ModbusPoint(meter, "u", Table.HOLDING, address, dtype, order, Conversion()))
        address += 4
    # A coil and a discrete input for the bit type (function codes 1 and 2).
    points.append(ModbusPoint("coil", "u", Table.COIL, 3, DataType.BIT, Order.ABCD, Conversion()))
    points.append(ModbusPoint("di", "u", Table.DISCRETE, 5, DataType.BIT, Order.ABCD, Conversion()))
    port = free_port()
    server = RegisterServer(
        [SimSpec(7, holding=holding, coils={3: True}, discrete={5: True, 4: False})], port=port
    )
    await server.start()
    link = ModbusLink(Link(id="l", host="127.0.0.1", port=port))
    try:
        poll = ModbusDevicePoll(
            "d",
            7,
            link,
            points,
            timeout_s=2,
            retries=0,
            grouping=True,
            max_gap=10,
            max_registers=125,
        )
        result = await poll()
    finally:
        link.close()
        await server.stop()
    got = {r.m: r for r in result.readings}
    assert all(r.q is Quality.GOOD for r in got.values())
    for dtype, order in cases:
        v = got[f"{dtype.value}-{order.value}"].v
        assert v is not None
        assert v == pytest.approx(VALUES[dtype], rel=1e-12), (dtype, order)
    assert got["coil"].v == 1.0 and got["di"].v == 1.0
    assert not math.isnan(result.requests)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=12),
    st.sampled_from([t for t in DataType if t is not DataType.BIT]),
    st.sampled_from(list(Order)),
    st.integers(0, 8),
)
def test_block_decoder_equals_decode_raw(
    regs: list[int], dtype: DataType, order: Order, offset: int
) -> None:
    """The one-struct-call decoder of a request gives what decode_raw gives per value."""
    n = REGISTERS[dtype]
    offset = min(offset, len(regs) - n)
    (got,) = BlockDecoder([(offset, dtype, order)]).decode(regs)
    try:
        want: int | float | None = decode_raw(regs[offset : offset + n], dtype, order)
    except DecodeError:
        want = None
    if want is None:
        assert isinstance(got, DecodeError)
    else:
        assert got == want
