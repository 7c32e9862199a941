"""Readings to interval quantities: counter deltas and power integration, vectorized.

For each meter, in time order, every reading after the first closes an interval
(t_prev, t]. Counters give delta = r_t - r_prev (rollover, reset and recorded
replacement handled); rate meters give the trapezoid ½(p_prev + p)·Δt. The
previous reading of a batch's first interval per meter comes from the carried
state, so any split of a time-ordered stream gives the same intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.batch import NS_PER_H, QUALITY_GOOD, ReadingBatch
from carbonstream.core.flags import Flag
from carbonstream.core.meters import MeterParams
from carbonstream.core.state import NO_TIME, MeterState


@dataclass
class Counts:
    """What happened to the readings of a batch; every reading lands in one bucket."""

    readings: int = 0
    used: int = 0
    bad_quality: int = 0
    duplicates: int = 0
    conflicts: int = 0  # same meter and time, different value (lowest kept)
    late: int = 0  # older than the meter's last processed reading
    intervals: int = 0
    rollovers: int = 0
    resets: int = 0
    implausible: int = 0
    replacements: int = 0
    gaps: int = 0
    gap_s: float = 0.0
    derived: int = 0
    spread: int = 0

    def add(self, other: Counts) -> None:
        for k, v in vars(other).items():
            setattr(self, k, getattr(self, k) + v)


@dataclass
class Intervals:
    meter: NDArray[np.int32]
    t0: NDArray[np.int64]
    t1: NDArray[np.int64]
    quantity: NDArray[np.float64]  # canonical unit; 0 where not counted
    counted: NDArray[np.bool_]
    flags: NDArray[np.uint16]
    counts: Counts = field(default_factory=Counts)


def to_intervals(batch: ReadingBatch, params: MeterParams, state: MeterState) -> Intervals:
    """Turn a batch into intervals and advance ``state`` in place."""
    counts = Counts(readings=len(batch))
    good = batch.quality == QUALITY_GOOD
    if not good.all():
        counts.bad_quality = int((~good).sum())
        batch = batch.take(np.flatnonzero(good))
    m, t, v = _sorted(batch, len(params))

    # Drop duplicates inside the batch and readings the state has already passed.
    same_meter = np.empty(len(m), dtype=bool)
    same_meter[:1] = False
    np.equal(m[1:], m[:-1], out=same_meter[1:])
    dup = same_meter.copy()
    dup[1:] &= t[1:] == t[:-1]
    if dup.any():
        counts.conflicts = int((dup[1:] & (v[1:] != v[:-1])).sum())
    last_ts = state.last_ts[m]
    late = t < last_ts
    repeat = (dup | (t == last_ts)) & ~late
    counts.late = int(late.sum())
    counts.duplicates = int(repeat.sum())
    drop = late | repeat
    if drop.any():
        keep = ~drop
        m, t, v, last_ts = m[keep], t[keep], v[keep], last_ts[keep]
        same_meter = np.empty(len(m), dtype=bool)
        same_meter[:1] = False
        np.equal(m[1:], m[:-1], out=same_meter[1:])
    counts.used = len(m)

    # Previous reading of each one: the one before it, or the carried state.
    prev_t = np.empty_like(t)
    prev_v = np.empty_like(v)
    prev_t[1:], prev_v[1:] = t[:-1], v[:-1]
    first = ~same_meter
    prev_t[first] = last_ts[first]
    prev_v[first] = state.last_value[m[first]]
    _advance_state(state, m, t, v, first)

    has_prev = prev_t != NO_TIME
    if not has_prev.all():
        sel = np.flatnonzero(has_prev)
        m, t, v, prev_t, prev_v = m[sel], t[sel], v[sel], prev_t[sel], prev_v[sel]

    qty, counted, flags = _quantities(m, t, v, prev_t, prev_v, params, counts)
    counts.intervals = len(m)
    return Intervals(m, prev_t, t, qty, counted, flags, counts)


def _sorted(
    batch: ReadingBatch, n_meters: int
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.float64]]:
    """Order by (meter, time); ties by value so the result never depends on arrival order."""
    ts = batch.ts
    if len(ts) and bool(np.all(ts[1:] >= ts[:-1])):
        # Time-ordered input (the common case): one stable radix sort by meter.
        key = batch.meter.astype(np.uint16) if n_meters <= 1 << 16 else batch.meter
        order = np.argsort(key, kind="stable")
        m, t = batch.meter[order], ts[order]
        tie = (m[1:] == m[:-1]) & (t[1:] == t[:-1])
        if not tie.any():
            return m, t, batch.value[order]
    order = np.lexsort((batch.value, ts, batch.meter))
    return batch.meter[order], ts[order], batch.value[order]


def _advance_state(
    state: MeterState,
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    first: NDArray[np.bool_],
) -> None:
    if not len(m):
        return
    last = np.empty(len(m), dtype=bool)
    last[:-1] = first[1:]
    last[-1] = True
    state.last_ts[m[last]] = t[last]
    state.last_value[m[last]] = v[last]


def _quantities(
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    prev_t: NDArray[np.int64],
    prev_v: NDArray[np.float64],
    p: MeterParams,
    counts: Counts,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.uint16]]:
    dt_ns = t - prev_t
    dt_h = dt_ns / NS_PER_H
    res = p.resolution[m]
    cap = p.cap_per_h[m] * dt_h + res
    is_counter = p.is_counter[m]
    flags = np.zeros(len(m), dtype=np.uint16)
    long_gap = dt_ns > p.max_gap_ns[m]

    # Counters: delta, a physically possible wrap, or a reset.
    raw = v - prev_v
    forward = (raw >= -res) & (raw <= cap)
    modulus = p.modulus[m]
    wrapped = raw + modulus
    rollover = (raw < -res) & (modulus > 0) & (wrapped >= 0) & (wrapped <= cap)
    delta = np.where(rollover, wrapped, np.maximum(raw, 0.0))
    c_ok = forward | rollover
    reset = (raw < -res) & ~rollover
    spike = raw > cap
    if len(p.replacements.meter):
        _apply_replacements(m, t, v, prev_t, prev_v, cap, res, p, delta, c_ok, flags)
    c_ok &= is_counter
    replaced = (flags & Flag.REPLACEMENT) != 0
    reset &= is_counter & ~replaced
    spike &= is_counter & ~replaced
    rollover &= is_counter & ~replaced

    # Rates: trapezoid, never across a long gap or from an implausible sample.
    rate_cap = p.cap_per_h[m]
    plausible = (v >= -res) & (v <= rate_cap) & (prev_v >= -res) & (prev_v <= rate_cap)
    is_rate = ~is_counter
    r_ok = is_rate & plausible & ~long_gap
    trapezoid = 0.5 * (v + prev_v) * dt_h

    counted = c_ok | r_ok
    raw_qty = np.where(is_counter, delta, trapezoid)
    qty = np.where(counted, raw_qty * p.scale[m], 0.0)

    flags |= np.where(rollover, np.uint16(Flag.ROLLOVER), np.uint16(0))
    flags |= np.where(reset, np.uint16(Flag.RESET), np.uint16(0))
    flags |= np.where(spike | (is_rate & ~plausible), np.uint16(Flag.IMPLAUSIBLE), np.uint16(0))
    gap = is_rate & long_gap
    flags |= np.where(gap, np.uint16(Flag.GAP), np.uint16(0))
    flags |= np.where(is_rate, np.uint16(Flag.DERIVED), np.uint16(0))
    spread = c_ok & long_gap
    flags |= np.where(spread, np.uint16(Flag.SPREAD), np.uint16(0))

    counts.rollovers += int(rollover.sum())
    counts.resets += int(reset.sum())
    bad_swap = replaced & ~c_ok
    counts.implausible += int((spike | bad_swap | (is_rate & ~plausible & ~long_gap)).sum())
    counts.replacements += int(replaced.sum())
    counts.gaps += int(gap.sum())
    counts.gap_s += float(dt_ns[~counted].sum()) / 1e9
    counts.derived += int(r_ok.sum())
    counts.spread += int(spread.sum())
    return qty, counted, flags


def _apply_replacements(
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    prev_t: NDArray[np.int64],
    prev_v: NDArray[np.float64],
    cap: NDArray[np.float64],
    res: NDArray[np.float64],
    p: MeterParams,
    delta: NDArray[np.float64],
    ok: NDArray[np.bool_],
    flags: NDArray[np.uint16],
) -> None:
    """Honour recorded swaps: delta = (old_final - prev) + (reading - new_initial).

    A loop over replacement *events* (a handful a year), not over readings.
    """
    r = p.replacements
    for meter, at, old_final, new_initial in zip(
        r.meter, r.ts, r.old_final, r.new_initial, strict=True
    ):
        hit = np.flatnonzero((m == meter) & (prev_t < at) & (at <= t))
        for i in hit:
            before = old_final - prev_v[i]
            after = v[i] - new_initial
            d = before + after
            delta[i] = max(d, 0.0)
            ok[i] = before >= -res[i] and after >= -res[i] and d <= cap[i]
            flags[i] |= Flag.REPLACEMENT
            if not ok[i]:
                flags[i] |= Flag.IMPLAUSIBLE
