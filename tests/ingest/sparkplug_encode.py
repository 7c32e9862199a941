"""A minimal Sparkplug B *encoder* for tests, written from the Tahu sparkplug_b.proto field
numbers (Payload: 1 timestamp, 2 metrics, 3 seq; Metric: 1 name, 2 alias, 3 timestamp,
4 datatype, 7 is_null, 10 int_value, 11 long_value, 12 float_value, 13 double_value)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

INT32, INT64, UINT32, FLOAT, DOUBLE, STRING = 3, 4, 7, 9, 10, 12


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _ld(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


@dataclass
class M:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype: int = DOUBLE
    value: float | int | str | None = None
    is_null: bool = False

    def encode(self) -> bytes:
        out = b""
        if self.name is not None:
            out += _ld(1, self.name.encode())
        if self.alias is not None:
            out += _key(2, 0) + _varint(self.alias)
        if self.timestamp is not None:
            out += _key(3, 0) + _varint(self.timestamp)
        out += _key(4, 0) + _varint(self.datatype)
        if self.is_null:
            return out + _key(7, 0) + _varint(1)
        v = self.value
        if self.datatype == DOUBLE and isinstance(v, float):
            out += _key(13, 1) + struct.pack("<d", v)
        elif self.datatype == FLOAT and isinstance(v, float):
            out += _key(12, 5) + struct.pack("<f", v)
        elif self.datatype in (INT32, UINT32) and isinstance(v, int):
            out += _key(10, 0) + _varint(v & 0xFFFFFFFF)
        elif self.datatype == INT64 and isinstance(v, int):
            out += _key(11, 0) + _varint(v)
        elif self.datatype == STRING and isinstance(v, str):
            out += _ld(15, v.encode())
        return out


def payload(metrics: list[M], timestamp: int | None = None, seq: int = 0) -> bytes:
    out = b""
    if timestamp is not None:
        out += _key(1, 0) + _varint(timestamp)
    for m in metrics:
        out += _ld(2, m.encode())
    return out + _key(3, 0) + _varint(seq)
