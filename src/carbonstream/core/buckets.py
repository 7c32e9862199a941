"""Intervals to per-(meter, base bucket) lines.

An interval that crosses bucket boundaries is split in proportion to time
(a counter's delta is assumed evenly spread over its interval: the only
assumption that needs no data we don't have). Base buckets are UTC-aligned
and at most 15 minutes long, so they nest in every calendar bucket of every
time zone (all zone offsets in use are multiples of 15 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.intervals import Intervals

ALLOWED_BASE_S = (60, 300, 900)


@dataclass
class Lines:
    """One row per (meter, base bucket) with the counted quantity in it."""

    meter: NDArray[np.int32]
    bucket: NDArray[np.int64]  # bucket start, ns since epoch UTC
    quantity: NDArray[np.float64]
    covered_ns: NDArray[np.int64]  # time inside the bucket covered by counted intervals
    n_intervals: NDArray[np.int64]
    flags: NDArray[np.uint16]

    def __len__(self) -> int:
        return len(self.meter)


def to_lines(iv: Intervals, base_ns: int, scale: NDArray[np.float64]) -> Lines:
    """Split counted intervals at bucket edges and sum them per (meter, bucket).

    ``scale`` (canonical unit per raw unit, per meter) is applied per line, not
    per interval: one multiplication per meter and minute instead of per reading.

    An interval that is not counted (reset, gap, implausible) leaves its flags on
    the line of the bucket where it ends, with no quantity, no coverage and no
    interval: the stored lines, and so every meter's quality, show it.
    """
    if iv.counted.all():
        return _counted(iv.meter, iv.t0, iv.t1, iv.raw, iv.flags, base_ns, scale)
    sel = np.flatnonzero(iv.counted)
    lines = _counted(
        iv.meter[sel], iv.t0[sel], iv.t1[sel], iv.raw[sel], iv.flags[sel], base_ns, scale
    )
    miss = np.flatnonzero(~iv.counted)
    return _with_markers(
        lines, iv.meter[miss], (iv.t1[miss] - 1) // base_ns * base_ns, iv.flags[miss]
    )


def _with_markers(
    lines: Lines, m: NDArray[np.int32], bucket: NDArray[np.int64], flags: NDArray[np.uint16]
) -> Lines:
    zero_f, zero_i = np.zeros(len(m)), np.zeros(len(m), np.int64)
    meter = np.concatenate([lines.meter, m])
    bucket_all = np.concatenate([lines.bucket, bucket])
    order = np.lexsort((bucket_all, meter))  # stable: equal keys stay adjacent
    meter, bucket_all = meter[order], bucket_all[order]
    qty = np.concatenate([lines.quantity, zero_f])[order]
    covered = np.concatenate([lines.covered_ns, zero_i])[order]
    n = np.concatenate([lines.n_intervals, zero_i])[order]
    fl = np.concatenate([lines.flags, flags])[order]
    change = np.empty(len(meter), dtype=bool)
    change[0] = True
    np.not_equal(meter[1:], meter[:-1], out=change[1:])
    change[1:] |= bucket_all[1:] != bucket_all[:-1]
    idx = np.flatnonzero(change)
    return Lines(
        meter=meter[idx],
        bucket=bucket_all[idx],
        quantity=np.add.reduceat(qty, idx),
        covered_ns=np.add.reduceat(covered, idx),
        n_intervals=np.add.reduceat(n, idx),
        flags=np.bitwise_or.reduceat(fl, idx),
    )


def _counted(
    m: NDArray[np.int32],
    t0: NDArray[np.int64],
    t1: NDArray[np.int64],
    raw: NDArray[np.float64],
    flags: NDArray[np.uint16],
    base_ns: int,
    scale: NDArray[np.float64],
) -> Lines:
    b0 = t0 // base_ns  # the interval is (t0, t1]: t0 itself belongs to the bucket before
    b1 = (t1 - 1) // base_ns
    pieces = b1 - b0 + 1
    if len(pieces) and int(pieces.max()) > 1:
        m, raw, flags, bucket, covered, n = _split(m, t0, t1, raw, flags, b0, pieces, base_ns)
        lines = _reduce(m, bucket, raw, covered, flags, n)
    else:
        lines = _reduce(m, b1 * base_ns, raw, t1 - t0, flags, None)
    lines.quantity *= scale[lines.meter]
    return lines


def _split(
    m: NDArray[np.int32],
    t0: NDArray[np.int64],
    t1: NDArray[np.int64],
    qty: NDArray[np.float64],
    flags: NDArray[np.uint16],
    b0: NDArray[np.int64],
    pieces: NDArray[np.int64],
    base_ns: int,
) -> tuple[
    NDArray[np.int32],
    NDArray[np.float64],
    NDArray[np.uint16],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
]:
    src = np.repeat(np.arange(len(m)), pieces)
    starts = np.cumsum(pieces) - pieces
    k = np.arange(len(src)) - np.repeat(starts, pieces)
    bucket = (b0[src] + k) * base_ns
    lo = np.maximum(t0[src], bucket)
    hi = np.minimum(t1[src], bucket + base_ns)
    covered = hi - lo
    share = covered / (t1 - t0)[src]
    # Each interval counts once in n_intervals: in the bucket where it ends.
    n = (k == pieces[src] - 1).astype(np.int64)
    return m[src], qty[src] * share, flags[src], bucket, covered, n


def _reduce(
    m: NDArray[np.int32],
    bucket: NDArray[np.int64],
    qty: NDArray[np.float64],
    covered: NDArray[np.int64],
    flags: NDArray[np.uint16],
    n: NDArray[np.int64] | None,
) -> Lines:
    if not len(m):
        e = np.empty(0, dtype=np.int64)
        return Lines(m, e, qty, e, e, flags)
    # Input is ordered by meter then time, so equal keys are adjacent.
    change = np.empty(len(m), dtype=bool)
    change[0] = True
    np.not_equal(m[1:], m[:-1], out=change[1:])
    change[1:] |= bucket[1:] != bucket[:-1]
    idx = np.flatnonzero(change)
    if len(idx) == len(m) and n is None:  # one interval per line: nothing to merge
        return Lines(m, bucket, qty, covered, np.ones(len(m), np.int64), flags)
    return Lines(
        meter=m[idx],
        bucket=bucket[idx],
        quantity=np.add.reduceat(qty, idx),
        covered_ns=np.add.reduceat(covered, idx),
        n_intervals=np.diff(np.append(idx, len(m))) if n is None else np.add.reduceat(n, idx),
        flags=np.bitwise_or.reduceat(flags, idx) if flags.any() else np.zeros(len(idx), np.uint16),
    )
