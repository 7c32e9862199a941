"""Register decoding: Modbus words to numbers, with byte/word order, scale, offset, multiplier.

Byte and word order use the names OT engineers know from meter manuals and from
Telegraf: the four bytes of a 32-bit value as the device sends them.

    ABCD  big-endian (the Modbus default): registers in order, high byte first
    CDAB  word swap: the low register comes first, each register high byte first
    BADC  byte swap: registers in order, each register low byte first
    DCBA  little-endian: both swapped

For 16-bit types only the byte order matters (ABCD/CDAB = AB, BADC/DCBA = BA);
for 64-bit types the same rules apply over four registers.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from carbonstream.errors import CarbonstreamError


class DataType(StrEnum):
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    I64 = "i64"
    F32 = "f32"
    F64 = "f64"
    BIT = "bit"  # a coil or discrete input (function codes 1 and 2)


class Order(StrEnum):
    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


REGISTERS: dict[DataType, int] = {
    DataType.U16: 1,
    DataType.I16: 1,
    DataType.U32: 2,
    DataType.I32: 2,
    DataType.U64: 4,
    DataType.I64: 4,
    DataType.F32: 2,
    DataType.F64: 4,
    DataType.BIT: 1,
}

_FORMAT: dict[DataType, str] = {
    DataType.U16: ">H",
    DataType.I16: ">h",
    DataType.U32: ">I",
    DataType.I32: ">i",
    DataType.U64: ">Q",
    DataType.I64: ">q",
    DataType.F32: ">f",
    DataType.F64: ">d",
}


class DecodeError(CarbonstreamError):
    """Registers that cannot be a value of the configured type (the reading gets decode_error)."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """How a raw register number becomes a value in the meter's unit.

    value = raw × scale × multiplier + offset. ``scale`` is the register's
    resolution from the profile (0.01 kWh per count, 0.001 for Wh to kWh),
    ``multiplier`` is the device's own (a CT ratio the meter does not apply),
    ``offset`` shifts the result (a counter that restarted from a known value).
    """

    scale: float = 1.0
    multiplier: float = 1.0
    offset: float = 0.0

    def apply(self, raw: float) -> float:
        return raw * self.scale * self.multiplier + self.offset


def to_bytes(registers: Sequence[int], order: Order) -> bytes:
    """Reorder the registers' bytes into big-endian (ABCD...) order."""
    regs = list(registers)
    if order in (Order.CDAB, Order.DCBA):
        regs.reverse()
    data = b"".join(r.to_bytes(2, "big") for r in regs)
    if order in (Order.BADC, Order.DCBA):
        data = bytes(b for i in range(0, len(data), 2) for b in (data[i + 1], data[i]))
    return data


def decode_raw(registers: Sequence[int], dtype: DataType, order: Order = Order.ABCD) -> int | float:
    """The number the registers hold, before scaling. Raises DecodeError.

    Integer types stay int here, exact to 64 bits; the published value is a JSON
    double, exact up to 2^53 (9e15 Wh for a Wh counter).
    """
    need = REGISTERS[dtype]
    if len(registers) != need:
        raise DecodeError(f"{dtype.value} needs {need} register(s), got {len(registers)}")
    if dtype is DataType.BIT:
        return 1 if registers[0] else 0
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise DecodeError(f"register values out of 0..65535: {list(registers)}")
    (value,) = struct.unpack(_FORMAT[dtype], to_bytes(registers, order))
    if dtype in (DataType.F32, DataType.F64) and not math.isfinite(value):
        # Meters report NaN for "not available": never pass that on as a number.
        raise DecodeError(f"{dtype.value} register holds {value} (not a finite number)")
    return value  # type: ignore[no-any-return]


def decode(
    registers: Sequence[int],
    dtype: DataType,
    order: Order = Order.ABCD,
    conversion: Conversion | None = None,
) -> float:
    raw = decode_raw(registers, dtype, order)
    return conversion.apply(raw) if conversion else raw


def encode(value: float, dtype: DataType, order: Order = Order.ABCD) -> list[int]:
    """Registers holding ``value`` (the inverse of decode_raw; the simulator uses it)."""
    if dtype is DataType.BIT:
        return [1 if value else 0]
    if dtype in (DataType.F32, DataType.F64):
        data = struct.pack(_FORMAT[dtype], value)
    else:
        data = struct.pack(_FORMAT[dtype], int(value))
    regs = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    # Every order is its own inverse, so applying it again gives the wire layout.
    wire = to_bytes(regs, order)
    return [int.from_bytes(wire[i : i + 2], "big") for i in range(0, len(wire), 2)]


_CODE: dict[DataType, str] = {t: f[1] for t, f in _FORMAT.items()}


class BlockDecoder:
    """Decodes every value of one request's registers with one ``struct`` call per value.

    Each byte/word order is a read of one of two packings of the block: the
    registers as sent (``>H``) or with each register's bytes swapped (``<H``),
    read big- or little-endian. ABCD reads the block as sent, big-endian; DCBA
    reads it little-endian; BADC reads the swapped block big-endian; CDAB reads
    the swapped block little-endian. The results equal ``decode_raw`` (the tests
    check every type and order against a server); bits take ``decode_raw``.
    """

    def __init__(self, fields: Sequence[tuple[int, DataType, Order]]) -> None:
        # (offset in registers, type, order) per value
        self._fields = [
            (
                offset,
                dtype,
                order,
                None
                if dtype is DataType.BIT
                else struct.Struct(
                    ("<" if order in (Order.CDAB, Order.DCBA) else ">") + _CODE[dtype]
                ),
                order in (Order.CDAB, Order.BADC),
                dtype in (DataType.F32, DataType.F64),
            )
            for offset, dtype, order in fields
        ]

    def decode(self, registers: Sequence[int]) -> list[int | float | DecodeError]:
        n = len(registers)
        try:
            sent = struct.pack(f">{n}H", *registers)
            swapped = struct.pack(f"<{n}H", *registers)
        except struct.error:
            return [self._slow(registers, f[0], f[1], f[2]) for f in self._fields]
        out: list[int | float | DecodeError] = []
        for offset, dtype, order, unpacker, swap, is_float in self._fields:
            if unpacker is None or offset + REGISTERS[dtype] > n:
                out.append(self._slow(registers, offset, dtype, order))
                continue
            (value,) = unpacker.unpack_from(swapped if swap else sent, 2 * offset)
            if is_float and not math.isfinite(value):
                out.append(
                    DecodeError(f"{dtype.value} register holds {value} (not a finite number)")
                )
            else:
                out.append(value)
        return out

    @staticmethod
    def _slow(
        registers: Sequence[int], offset: int, dtype: DataType, order: Order
    ) -> int | float | DecodeError:
        try:
            return decode_raw(registers[offset : offset + REGISTERS[dtype]], dtype, order)
        except DecodeError as e:
            return e
