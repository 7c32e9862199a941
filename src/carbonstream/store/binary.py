"""PostgreSQL binary COPY buffers built with numpy: no Python object per row.

A tuple is ``int16 nfields`` then per field ``int32 length`` and the value in
network byte order (length -1 and no bytes for NULL). Rows are grouped by
their NULL pattern (a handful of groups) and each group is one structured
array; row order in a COPY does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in µs since the Unix epoch

_WIRE = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "timestamptz": ">i8"}


@dataclass(frozen=True)
class Column:
    pgtype: str  # int2 | int4 | int8 | float8 | timestamptz (given as ns since Unix epoch)
    values: NDArray[np.generic]
    null: NDArray[np.bool_] | None = None


def encode(columns: list[Column]) -> bytes:
    """The body of a binary COPY (header, tuples, trailer) for these columns."""
    n = len(columns[0].values)
    if any(len(c.values) != n for c in columns):
        raise ValueError("COPY columns must have equal length")
    if n == 0:
        return HEADER + TRAILER
    wire = [_wire_values(c) for c in columns]
    nullable = [i for i, c in enumerate(columns) if c.null is not None and c.null.any()]
    if not nullable:
        return HEADER + _tuples(columns, wire, np.arange(n), set()) + TRAILER
    pattern = np.zeros(n, dtype=np.int64)
    for bit, i in enumerate(nullable):
        null = columns[i].null
        assert null is not None
        pattern |= null.astype(np.int64) << bit
    parts = [HEADER]
    for p in np.unique(pattern):
        rows = np.flatnonzero(pattern == p)
        nulls = {i for bit, i in enumerate(nullable) if (int(p) >> bit) & 1}
        parts.append(_tuples(columns, wire, rows, nulls))
    parts.append(TRAILER)
    return b"".join(parts)


def _wire_values(c: Column) -> NDArray[np.generic]:
    if c.pgtype == "timestamptz":
        return np.asarray(c.values, dtype=np.int64) // 1000 - PG_EPOCH_US
    return np.asarray(c.values)


def _tuples(
    columns: list[Column], wire: list[NDArray[np.generic]], rows: NDArray[np.intp], nulls: set[int]
) -> bytes:
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for i, c in enumerate(columns):
        fields.append((f"l{i}", ">i4"))
        if i not in nulls:
            fields.append((f"v{i}", _WIRE[c.pgtype]))
    out = np.empty(len(rows), dtype=np.dtype(fields))
    out["n"] = len(columns)
    for i, c in enumerate(columns):
        if i in nulls:
            out[f"l{i}"] = -1
        else:
            out[f"l{i}"] = np.dtype(_WIRE[c.pgtype]).itemsize
            out[f"v{i}"] = wire[i][rows]
    return out.tobytes()
