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
    raw: NDArray[np.float64]  # in raw meter units (x scale = canonical); 0 where not counted
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
    m, t, v, first, last_ts = _drop_repeats(_sorted(batch, len(params)), state, counts)
    counts.used = len(m)

    # Previous reading of each one: the one before it, or the carried state.
    prev_t = np.empty_like(t)
    prev_v = np.empty_like(v)
    prev_t[1:], prev_v[1:] = t[:-1], v[:-1]
    prev_t[first] = last_ts
    prev_v[first] = state.last_value[m[first]]
    _advance_state(state, m, t, v, first)

    if (last_ts == NO_TIME).any():  # a meter's very first reading opens no interval
        sel = np.flatnonzero(prev_t != NO_TIME)
        m, t, v, prev_t, prev_v = m[sel], t[sel], v[sel], prev_t[sel], prev_v[sel]

    qty, counted, flags = _quantities(m, t, v, prev_t, prev_v, params, counts)
    counts.intervals = len(m)
    return Intervals(m, prev_t, t, qty, counted, flags, counts)


def _run_starts(m: NDArray[np.int32]) -> NDArray[np.intp]:
    """Index of the first reading of each meter in a meter-sorted array."""
    if not len(m):
        return np.empty(0, dtype=np.intp)
    change = np.empty(len(m), dtype=bool)
    change[0] = True
    np.not_equal(m[1:], m[:-1], out=change[1:])
    return np.flatnonzero(change)


@dataclass
class _Sorted:
    m: NDArray[np.int32]
    t: NDArray[np.int64]
    v: NDArray[np.float64]
    first: NDArray[np.intp]  # index of each meter's first reading
    dup: NDArray[np.bool_] | None  # same meter and time as the reading before; None: no such


def _sorted(batch: ReadingBatch, n_meters: int) -> _Sorted:
    """Order by (meter, time); ties by value so the result never depends on arrival order."""
    ts = batch.ts
    if len(ts) and bool(np.all(ts[1:] >= ts[:-1])):
        # Time-ordered input (the common case): one stable radix sort by meter.
        key = batch.meter.astype(np.uint16) if n_meters <= 1 << 16 else batch.meter
        order = np.argsort(key, kind="stable")
        m, t = batch.meter[order], ts[order]
        first = _run_starts(m)
        if len(first) == len(m):
            return _Sorted(m, t, batch.value[order], first, None)
        tie = np.zeros(len(m), dtype=bool)
        np.equal(t[1:], t[:-1], out=tie[1:])
        tie[first] = False
        if not tie.any():
            return _Sorted(m, t, batch.value[order], first, None)
    order = np.lexsort((batch.value, ts, batch.meter))
    m, t = batch.meter[order], ts[order]
    first = _run_starts(m)
    dup = np.zeros(len(m), dtype=bool)
    np.equal(t[1:], t[:-1], out=dup[1:])
    dup[first] = False
    return _Sorted(m, t, batch.value[order], first, dup if dup.any() else None)


def _drop_repeats(
    s: _Sorted, state: MeterState, counts: Counts
) -> tuple[
    NDArray[np.int32], NDArray[np.int64], NDArray[np.float64], NDArray[np.intp], NDArray[np.int64]
]:
    """Drop duplicates in the batch and readings at or before the meter's state.

    Returns the kept columns, the index of each meter's first kept reading and
    that meter's carried last time.
    """
    m, t, v, first = s.m, s.t, s.v, s.first
    last_ts = state.last_ts[m[first]]
    # Sorted by time within a meter: only a meter's first readings can be at or
    # before its state, so the full check runs only when one of them is.
    behind = t[first] <= last_ts
    if s.dup is None and not behind.any():
        return m, t, v, first, last_ts
    dup = s.dup if s.dup is not None else np.zeros(len(m), dtype=bool)
    counts.conflicts = int((dup[1:] & (v[1:] != v[:-1])).sum())
    state_ts = np.repeat(last_ts, np.diff(np.append(first, len(m))))
    late = t < state_ts
    repeat = (dup | (t == state_ts)) & ~late
    counts.late = int(late.sum())
    counts.duplicates = int(repeat.sum())
    keep = np.flatnonzero(~(late | repeat))
    m, t, v, state_ts = m[keep], t[keep], v[keep], state_ts[keep]
    first = _run_starts(m)
    return m, t, v, first, state_ts[first]


def _advance_state(
    state: MeterState,
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    first: NDArray[np.intp],
) -> None:
    if not len(m):
        return
    if len(first) == len(m):  # one reading per meter in this batch
        state.last_ts[m] = t
        state.last_value[m] = v
        return
    last = np.append(first[1:] - 1, len(m) - 1)
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
    """Quantity, counted flag and quality flags of each interval.

    The common case (a counter moving forward within its rating) is a few
    whole-array operations; the rare ones (drops, spikes, swaps, gaps) are
    worked out on the small subset they concern.
    """
    n = len(m)
    qty = np.empty(n, dtype=np.float64)
    counted = np.ones(n, dtype=bool)
    flags = np.zeros(n, dtype=np.uint16)
    dt_ns = t - prev_t
    if p.all_counters:
        _counters(slice(None), m, dt_ns, v, prev_v, p, qty, counted, flags, counts)
    else:
        is_counter = p.is_counter[m]
        c = np.flatnonzero(is_counter)
        r = np.flatnonzero(~is_counter)
        if len(c):
            _counters(c, m, dt_ns, v, prev_v, p, qty, counted, flags, counts)
        if len(r):
            _rates(r, m, dt_ns, v, prev_v, p, qty, counted, flags, counts)
    if len(p.replacements.meter):
        _apply_replacements(m, t, v, prev_t, prev_v, dt_ns, p, qty, counted, flags, counts)
    counts.gap_s += float(dt_ns[~counted].sum()) / 1e9
    return qty, counted, flags


Index = slice | NDArray[np.intp]


def _counters(
    idx: Index,
    m_all: NDArray[np.int32],
    dt_all: NDArray[np.int64],
    v_all: NDArray[np.float64],
    pv_all: NDArray[np.float64],
    p: MeterParams,
    qty: NDArray[np.float64],
    counted: NDArray[np.bool_],
    flags: NDArray[np.uint16],
    counts: Counts,
) -> None:
    m, dt_ns = m_all[idx], dt_all[idx]
    raw = v_all[idx] - pv_all[idx]
    cap = p.cap_per_h[m] * (dt_ns * (1.0 / NS_PER_H))
    if p.any_resolution:
        res = p.resolution[m]
        cap += res
        ok = (raw >= -res) & (raw <= cap)
    else:
        res = np.zeros(1)
        ok = (raw >= 0) & (raw <= cap)
    delta = np.maximum(raw, 0.0, out=raw)
    odd = np.flatnonzero(~ok)
    if len(odd):
        # A drop is a rollover if the wrap is physically possible, else a reset.
        r, c, mod = v_all[idx][odd] - pv_all[idx][odd], cap[odd], p.modulus[m[odd]]
        below = r < -(res[odd] if p.any_resolution else 0.0)
        wrapped = r + mod
        roll = below & (mod > 0) & (wrapped >= 0) & (wrapped <= c)
        reset = below & ~roll
        spike = r > c
        delta[odd] = np.where(roll, wrapped, 0.0)
        ok[odd] = roll
        fl = (
            roll * np.uint16(Flag.ROLLOVER)
            | reset * np.uint16(Flag.RESET)
            | spike * np.uint16(Flag.IMPLAUSIBLE)
        ).astype(np.uint16)
        target = _subset(idx, odd)
        flags[target] |= fl
        counts.rollovers += int(roll.sum())
        counts.resets += int(reset.sum())
        counts.implausible += int(spike.sum())
    if len(dt_ns) and dt_ns.max() > p.min_gap_ns:
        long_gap = np.flatnonzero(ok & (dt_ns > p.max_gap_ns[m]))
        flags[_subset(idx, long_gap)] |= np.uint16(Flag.SPREAD)
        counts.spread += len(long_gap)
    qty[idx] = delta  # zero wherever not ok (set above)
    counted[idx] = ok


def _rates(
    idx: NDArray[np.intp],
    m_all: NDArray[np.int32],
    dt_all: NDArray[np.int64],
    v_all: NDArray[np.float64],
    pv_all: NDArray[np.float64],
    p: MeterParams,
    qty: NDArray[np.float64],
    counted: NDArray[np.bool_],
    flags: NDArray[np.uint16],
    counts: Counts,
) -> None:
    """Trapezoid ½(p0 + p1)·Δt, never across a long gap or from an implausible sample."""
    m, dt_ns, v, pv = m_all[idx], dt_all[idx], v_all[idx], pv_all[idx]
    lo, cap = p.floor[m], p.cap_per_h[m]
    plausible = (v >= lo) & (v <= cap) & (pv >= lo) & (pv <= cap)
    gap = dt_ns > p.max_gap_ns[m]
    ok = plausible & ~gap
    qty[idx] = np.where(ok, 0.5 * (v + pv) * (dt_ns * (1.0 / NS_PER_H)), 0.0)
    counted[idx] = ok
    flags[idx] |= (
        np.uint16(Flag.DERIVED)
        | gap * np.uint16(Flag.GAP)
        | ~plausible * np.uint16(Flag.IMPLAUSIBLE)
    ).astype(np.uint16)
    counts.gaps += int(gap.sum())
    counts.implausible += int((~plausible & ~gap).sum())
    counts.derived += int(ok.sum())


def _subset(idx: Index, local: NDArray[np.intp]) -> NDArray[np.intp]:
    return local if isinstance(idx, slice) else idx[local]


def _apply_replacements(
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    prev_t: NDArray[np.int64],
    prev_v: NDArray[np.float64],
    dt_ns: NDArray[np.int64],
    p: MeterParams,
    qty: NDArray[np.float64],
    counted: NDArray[np.bool_],
    flags: NDArray[np.uint16],
    counts: Counts,
) -> None:
    """Honour recorded swaps: delta = (old_final - prev) + (reading - new_initial).

    A loop over replacement *events* (a handful a year), not over readings; the
    interval spanning a swap replaces whatever the plain delta made of it.
    """
    r = p.replacements
    for meter, at, old_final, new_initial in zip(
        r.meter, r.ts, r.old_final, r.new_initial, strict=True
    ):
        for i in np.flatnonzero((m == meter) & (prev_t < at) & (at <= t)):
            res = p.resolution[meter]
            cap = p.cap_per_h[meter] * dt_ns[i] / NS_PER_H + res
            before = old_final - prev_v[i]
            after = v[i] - new_initial
            ok = bool(before >= -res and after >= -res and before + after <= cap)
            was = int(flags[i])
            counts.rollovers -= bool(was & Flag.ROLLOVER)
            counts.resets -= bool(was & Flag.RESET)
            counts.implausible -= bool(was & Flag.IMPLAUSIBLE)
            counts.spread -= bool(was & Flag.SPREAD)
            flags[i] = Flag.REPLACEMENT | (0 if ok else Flag.IMPLAUSIBLE)
            counts.replacements += 1
            counts.implausible += not ok
            qty[i] = max(before + after, 0.0) if ok else 0.0
            counted[i] = ok
