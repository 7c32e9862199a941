"""Simulated devices whose register counts its own reads: 1, 2, 3, ...

A reading's value is then its poll number, so a test can prove that every
reading arrived, once and in order, by checking the values are 1..n per meter.
"""

from __future__ import annotations

from pymodbus.constants import ExcCodes

from carbonstream.gateway.decode import DataType, encode
from carbonstream.sim.modbus_server import SimSpec


def counting_spec(unit: int) -> SimSpec:
    count = [0]

    def refresh(function_code: int, start: int, regs: list[int]) -> ExcCodes | None:
        if function_code == 3:
            count[0] += 1
            regs[0 - start : 2 - start] = encode(count[0], DataType.U32)
        return None

    return SimSpec(unit, holding={0: 0, 1: 0}, refresh=refresh)


def counting_device(device_id: str, port: int, unit: int, **polling: float) -> dict[str, object]:
    return {
        "id": device_id,
        "host": "127.0.0.1",
        "port": port,
        "unit": unit,
        "polling": {"interval_s": 0.2, "timeout_s": 0.5, "retries": 0, "backoff_max_s": 0.5}
        | polling,
        "points": [
            {"meter": f"{device_id}-m", "unit": "kWh", "register": {"address": 0, "type": "u32"}}
        ],
    }
