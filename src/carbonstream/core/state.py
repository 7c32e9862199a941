"""Per-meter state carried between batches: last reading time and value per meter.

A plain, serialisable object: ingest stores it in the same transaction as the
rows it produced, so a restarted worker continues exactly where the last
commit left off. Keyed by meter id (not index) when serialised, so adding a
meter to the plant does not shift anyone's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

NO_TIME = np.iinfo(np.int64).min


@dataclass
class MeterState:
    last_ts: NDArray[np.int64]
    last_value: NDArray[np.float64]

    @classmethod
    def empty(cls, n_meters: int) -> MeterState:
        return cls(np.full(n_meters, NO_TIME, dtype=np.int64), np.zeros(n_meters, dtype=np.float64))

    def copy(self) -> MeterState:
        return MeterState(self.last_ts.copy(), self.last_value.copy())


@dataclass
class EngineState:
    """Everything the core carries between batches."""

    meters: MeterState
    instrument_used_mwh: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_meters: int) -> EngineState:
        return cls(MeterState.empty(n_meters))

    def copy(self) -> EngineState:
        return EngineState(self.meters.copy(), dict(self.instrument_used_mwh))

    def to_dict(self, meter_ids: list[str]) -> dict[str, Any]:
        seen = self.meters.last_ts != NO_TIME
        return {
            "version": 1,
            "meters": {
                meter_ids[i]: {
                    "last_ts_ns": int(self.meters.last_ts[i]),
                    "last_value": float(self.meters.last_value[i]),
                }
                for i in np.flatnonzero(seen)
            },
            "instrument_used_mwh": dict(self.instrument_used_mwh),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], meter_ids: list[str]) -> EngineState:
        if data.get("version") != 1:
            raise ValueError(f"unknown engine state version {data.get('version')!r}")
        state = cls.empty(len(meter_ids))
        index = {m: i for i, m in enumerate(meter_ids)}
        for meter, s in data["meters"].items():
            i = index.get(meter)
            if i is None:
                continue  # a meter removed from the plant keeps no state
            state.meters.last_ts[i] = int(s["last_ts_ns"])
            state.meters.last_value[i] = float(s["last_value"])
        state.instrument_used_mwh = {k: float(v) for k, v in data["instrument_used_mwh"].items()}
        return state
