"""Request grouping: read a device's registers in as few Modbus requests as the rules allow.

Points are sorted by table and address, then merged greedily: a request grows
to take the next point while the gap to it is at most ``max_gap`` registers and
the request stays within ``max_registers`` (125 registers or 2000 bits per
request is the protocol's limit). For intervals on a line this greedy sweep
gives the fewest requests. Some meters refuse reads that span undefined
registers: lower ``max_gap`` (0 reads only adjacent registers) or turn grouping
off, which reads every point on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

# The protocol's limits per read request (Modbus Application Protocol v1.1b3, FC 1-4),
# and how many undefined registers a request reads across by default.
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
DEFAULT_MAX_GAP = 10


class Table(StrEnum):
    """The four Modbus data tables and the function code that reads each."""

    COIL = "coil"  # FC 1
    DISCRETE = "discrete"  # FC 2
    HOLDING = "holding"  # FC 3
    INPUT = "input"  # FC 4

    @property
    def function_code(self) -> int:
        return {"coil": 1, "discrete": 2, "holding": 3, "input": 4}[self.value]

    @property
    def protocol_limit(self) -> int:
        return MAX_READ_BITS if self in (Table.COIL, Table.DISCRETE) else MAX_READ_REGISTERS


@dataclass(frozen=True, slots=True)
class Span:
    """What one point needs: ``count`` registers (or bits) from ``address`` in ``table``."""

    table: Table
    address: int
    count: int


@dataclass(slots=True)
class Request:
    table: Table
    address: int
    count: int
    members: list[int] = field(default_factory=list)  # indices of the spans it covers

    @property
    def end(self) -> int:
        return self.address + self.count


def group(
    spans: Sequence[Span],
    *,
    enabled: bool = True,
    max_gap: int = DEFAULT_MAX_GAP,
    max_registers: int = MAX_READ_REGISTERS,
) -> list[Request]:
    """Requests covering every span; each span lies wholly inside one request."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i].table.value, spans[i].address))
    requests: list[Request] = []
    for i in order:
        s = spans[i]
        limit = min(max_registers, s.table.protocol_limit)
        if s.count > limit:
            raise ValueError(f"a point of {s.count} registers exceeds the limit of {limit}")
        last = requests[-1] if requests else None
        if (
            enabled
            and last is not None
            and last.table is s.table
            and s.address - last.end <= max_gap
            and max(last.end, s.address + s.count) - last.address <= limit
        ):
            last.count = max(last.end, s.address + s.count) - last.address
            last.members.append(i)
        else:
            requests.append(Request(s.table, s.address, s.count, [i]))
    return requests
