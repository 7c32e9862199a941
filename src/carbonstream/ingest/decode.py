"""Validate a decoded v1 readings payload into columns for the core.

The wire format is decoded in one place, ``transport.payload``. A payload that
does not decode is rejected whole (``PayloadError``, the text is the
dead-letter reason). Inside a decoded payload each reading is checked: known
meter, unit equal to the meter's, a sane source time, a finite value when the
quality is good. Bad readings are rejected with their reasons; the
good ones in the same payload still go through.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Plant
from carbonstream.ingest.authorise import Bindings, Refusal, UnauthorisedError
from carbonstream.transport import topics
from carbonstream.transport.payload import (
    PAYLOAD_VERSION,
    QUALITY_CODE,
    PayloadError,
    decode_received,
)

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
    # Of the rejected readings, those refused because their gateway may not report them.
    unauthorised: dict[Refusal, int] = field(default_factory=dict)
    batch: int = -1  # index of its signed batch in the ingest batch; -1: unsigned

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


# Readings come decoded by the wire format's receiver view (transport.payload.
# decode_received): per-reading constraints are checked below, so that a reading the
# strict structs would refuse is rejected on its own with the message's others kept.
_QUALITY = {q.value: code for q, code in QUALITY_CODE.items()}
_BAD_QUALITY = 255
_NONE: tuple[int, str | None] = (-1, None)


class Validator:
    """Decodes v1 payloads and checks each reading; with ``bindings``, also that the topic's
    gateway and site are the plant's and that the gateway owns each reading's meter."""

    def __init__(self, plant: Plant, limits: Limits, bindings: Bindings | None = None) -> None:
        self.bindings = bindings
        self.index = {m.id: i for i, m in enumerate(plant.meters)}
        self.units = [m.unit for m in plant.meters]
        self._meta = {m.id: (i, m.unit) for i, m in enumerate(plant.meters)}
        self.limits = limits
        self._earliest_ms = int(limits.earliest.timestamp() * 1000)

    def check_size(self, payload: bytes) -> None:
        if len(payload) > self.limits.max_payload_bytes:
            raise PayloadError(
                f"payload of {len(payload)} bytes exceeds max_payload_bytes "
                f"{self.limits.max_payload_bytes}"
            )

    def v1(
        self, topic: str, payload: bytes, now_s: float | None = None, version: int = PAYLOAD_VERSION
    ) -> Decoded:
        """Decode and check a v1 payload, or (version 2) the verified body of a signed one."""
        self.check_size(payload)
        msg = decode_received(payload, version)
        where = topics.parse(topic)
        if where is not None and where[1] != msg.gateway:
            raise PayloadError(
                f"gateway {msg.gateway!r} in the payload differs from {where[1]!r} in the topic"
            )
        gw = -1
        if self.bindings is not None:
            if where is None or where[2] != "readings":
                raise UnauthorisedError(
                    f"unauthorised: topic {topic!r} is not carbonstream/v1/SITE/GATEWAY/readings",
                    Refusal.BAD_TOPIC,
                    len(msg.readings),
                )
            gw = self.bindings.gateway(where[0], where[1], [r.m for r in msg.readings])
        now = time.time() if now_s is None else now_s
        lo, hi = self._earliest_ms, int((now + self.limits.future_s) * 1000)
        rs = msg.readings
        n = len(rs)
        meta = [self._meta.get(r.m, _NONE) for r in rs]
        meter = np.fromiter([x[0] for x in meta], np.int32, n)
        unit_ok = np.fromiter([x[1] == r.u for x, r in zip(meta, rs, strict=True)], bool, n)
        try:
            t_ms = np.fromiter([r.t for r in rs], np.int64, n)
        except OverflowError:
            t_ms = np.fromiter([max(min(r.t, hi + 1), lo - 1) for r in rs], np.int64, n)
        value = np.array([r.v for r in rs], dtype=np.float64)  # None -> NaN
        quality = np.fromiter([_QUALITY.get(r.q, _BAD_QUALITY) for r in rs], np.uint8, n)
        good = quality == 0
        bad_meter = meter < 0
        bad_unit = ~unit_ok & ~bad_meter
        bad_time = (t_ms < lo) | (t_ms > hi)
        bad_quality = quality == _BAD_QUALITY
        bad_value = good & ~np.isfinite(value)
        bad = bad_meter | bad_unit | bad_time | bad_quality | bad_value
        unauthorised: dict[Refusal, int] = {}
        not_bound = np.zeros(n, dtype=bool)
        if self.bindings is not None:
            not_bound = self.bindings.not_bound(gw, meter)
            n_not_bound = int(not_bound.sum())
            if n_not_bound:
                bad |= not_bound
                unauthorised[Refusal.METER_NOT_BOUND] = n_not_bound
        rejected: list[str] = []
        n_bad = int(bad.sum())
        if n_bad:
            for j in np.flatnonzero(bad)[:MAX_REASONS].tolist():
                r = rs[j]
                if not_bound[j] and self.bindings is not None:
                    problem = self.bindings.why_not(gw, int(meter[j]))
                elif bad_meter[j]:
                    problem = f"unknown meter {r.m!r}"
                elif bad_unit[j]:
                    problem = f"unit {r.u!r} is not meter {r.m!r}'s unit {self.units[meter[j]]!r}"
                elif bad_time[j]:
                    side = "before" if r.t < lo else "after"
                    problem = f"source time {r.t} ms is {side} the sane range"
                elif bad_quality[j]:
                    problem = f"unknown quality {r.q!r}"
                else:
                    problem = f"good reading with value {r.v!r} (need a finite number)"
                rejected.append(f"readings[{j}]: {problem}")
            keep = ~bad
            meter, t_ms, value = meter[keep], t_ms[keep], value[keep]
            quality, good = quality[keep], good[keep]
        value[~good] = np.nan
        return Decoded(
            msg.gateway,
            msg.stream,
            msg.seq,
            meter,
            t_ms * NS_PER_MS,
            value,
            quality,
            rejected,
            n_bad,
            unauthorised,
        )
