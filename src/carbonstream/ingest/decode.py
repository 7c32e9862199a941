"""Decode and validate a v1 readings payload into columns for the core.

A payload that does not decode is rejected whole (``PayloadError``, the text
is the dead-letter reason). Inside a decoded payload each reading is checked:
known meter, unit equal to the meter's, a sane source time, a finite value
when the quality is good. Bad readings are rejected with their reasons; the
good ones in the same payload still go through.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Plant
from carbonstream.transport import topics
from carbonstream.transport.payload import QUALITY_CODE, PayloadError, decode_readings

NS_PER_MS = 1_000_000
MAX_REASONS = 5


@dataclass
class Decoded:
    """The usable readings of one message, plus why any others were rejected."""

    gateway: str
    stream: str
    seq: int | None
    meter: NDArray[np.int32]
    ts: NDArray[np.int64]  # ns since the Unix epoch, UTC
    value: NDArray[np.float64]
    quality: NDArray[np.uint8]
    rejected: list[str] = field(default_factory=list)
    n_rejected: int = 0

    def __len__(self) -> int:
        return len(self.meter)

    def reason(self) -> str:
        shown = "; ".join(self.rejected)
        more = self.n_rejected - len(self.rejected)
        tail = f"; and {more} more" if more > 0 else ""
        total = len(self) + self.n_rejected
        return f"{self.n_rejected} of {total} readings rejected: {shown}{tail}"


@dataclass(frozen=True)
class Limits:
    earliest: dt.datetime
    future_s: float
    max_payload_bytes: int


class Validator:
    def __init__(self, plant: Plant, limits: Limits) -> None:
        self.index = {m.id: i for i, m in enumerate(plant.meters)}
        self.units = [m.unit for m in plant.meters]
        self.limits = limits
        self._earliest_ms = int(limits.earliest.timestamp() * 1000)

    def v1(self, topic: str, payload: bytes, now_s: float | None = None) -> Decoded:
        if len(payload) > self.limits.max_payload_bytes:
            raise PayloadError(
                f"payload of {len(payload)} bytes exceeds max_payload_bytes "
                f"{self.limits.max_payload_bytes}"
            )
        msg = decode_readings(payload)
        where = topics.parse(topic)
        if where is not None and where[1] != msg.gateway:
            raise PayloadError(
                f"gateway {msg.gateway!r} in the payload differs from {where[1]!r} in the topic"
            )
        now = time.time() if now_s is None else now_s
        lo, hi = self._earliest_ms, int((now + self.limits.future_s) * 1000)
        index, units = self.index, self.units
        n = len(msg.readings)
        meter = np.empty(n, np.int32)
        ts = np.empty(n, np.int64)
        value = np.empty(n, np.float64)
        quality = np.empty(n, np.uint8)
        rejected: list[str] = []
        n_bad = 0
        k = 0
        for j, r in enumerate(msg.readings):
            i = index.get(r.m)
            problem = None
            q = QUALITY_CODE[r.q]
            if i is None:
                problem = f"unknown meter {r.m!r}"
            elif r.u != units[i]:
                problem = f"unit {r.u!r} is not meter {r.m!r}'s unit {units[i]!r}"
            elif not lo <= r.t <= hi:
                problem = (
                    f"source time {r.t} ms is {'before ' if r.t < lo else 'after '}the sane range"
                )
            elif q == 0 and (r.v is None or not math.isfinite(r.v)):
                problem = f"good reading with value {r.v!r} (need a finite number)"
            if problem is not None or i is None:
                n_bad += 1
                if len(rejected) < MAX_REASONS:
                    rejected.append(f"readings[{j}]: {problem}")
                continue
            meter[k] = i
            ts[k] = r.t * NS_PER_MS
            value[k] = r.v if (q == 0 and r.v is not None) else math.nan
            quality[k] = q
            k += 1
        return Decoded(
            msg.gateway,
            msg.stream,
            msg.seq,
            meter[:k],
            ts[:k],
            value[:k],
            quality[:k],
            rejected,
            n_bad,
        )
