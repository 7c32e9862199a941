"""A batch of readings as columns: the type that crosses from ingest into the core."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

NS_PER_S = 1_000_000_000
NS_PER_H = 3600 * NS_PER_S
QUALITY_GOOD = 0


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """Readings of many meters, in any order.

    meter: dense meter index (position in the plant's meter list);
    ts: source time, ns since the Unix epoch, UTC;
    value: register value (counter) or instantaneous rate, in the meter's raw unit;
    quality: 0 = good, anything else = a reason the value must not be used.
    """

    meter: NDArray[np.int32]
    ts: NDArray[np.int64]
    value: NDArray[np.float64]
    quality: NDArray[np.uint8]

    def __post_init__(self) -> None:
        n = len(self.meter)
        if not (len(self.ts) == len(self.value) == len(self.quality) == n):
            raise ValueError("ReadingBatch columns must have equal length")

    def __len__(self) -> int:
        return len(self.meter)

    @classmethod
    def of(
        cls,
        meter: object,
        ts: object,
        value: object,
        quality: object | None = None,
    ) -> ReadingBatch:
        m = np.asarray(meter, dtype=np.int32)
        q = (
            np.zeros(len(m), dtype=np.uint8)
            if quality is None
            else np.asarray(quality, dtype=np.uint8)
        )
        return cls(m, np.asarray(ts, dtype=np.int64), np.asarray(value, dtype=np.float64), q)

    def take(self, index: NDArray[np.intp] | slice) -> ReadingBatch:
        return ReadingBatch(
            self.meter[index], self.ts[index], self.value[index], self.quality[index]
        )

    @classmethod
    def concat(cls, batches: list[ReadingBatch]) -> ReadingBatch:
        return cls(
            np.concatenate([b.meter for b in batches]),
            np.concatenate([b.ts for b in batches]),
            np.concatenate([b.value for b in batches]),
            np.concatenate([b.quality for b in batches]),
        )


def to_ns(when: object) -> int:
    """Exact ns since the epoch for an aware datetime (no float rounding)."""
    import datetime as dt

    assert isinstance(when, dt.datetime) and when.tzinfo is not None, "need an aware datetime"
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000
