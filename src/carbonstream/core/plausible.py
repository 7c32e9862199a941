"""Readings no meter can give: marked with a quality of their own before the account.

A good reading that is physically impossible is not used; it is kept (stored,
counted) with a quality that says why, so the operator sees it and the core
never takes it for a value:

- ``implausible_negative``: a counter register below zero, or a negative rate
  (beyond the meter's resolution); a temperature below minus its rating;
- ``implausible_high``: a rate above the meter's rating (with the plant's
  tolerance), or a counter at or above its register range;
- ``implausible_jump``: a counter that rose faster than its rating allows since
  the previous plausible reading of the same meter (a recorded replacement
  between the two is not a jump; a drop is a rollover or reset, as before).

The rule is the same for ``carbonstream compute`` (a readings file, in time
order) and for ingest (batch by batch, the previous reading carried in the
meter's state), so both give the same account. The previous reading of a jump
check is the previous plausible one *whether or not it was itself a jump*: a
counter that jumps once and carries on from there loses one reading, never the
rest of its life. Ingest checks late readings (older than the meter's newest)
for the first two kinds only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.batch import NS_PER_H, QUALITY_GOOD
from carbonstream.core.meters import MeterParams
from carbonstream.core.state import NO_TIME

# Quality codes given here (the wire's qualities are 0-7: transport.payload.Quality).
IMPLAUSIBLE_NEGATIVE = 64
IMPLAUSIBLE_HIGH = 65
IMPLAUSIBLE_JUMP = 66
QUALITY_NAMES = {
    IMPLAUSIBLE_NEGATIVE: "implausible_negative",
    IMPLAUSIBLE_HIGH: "implausible_high",
    IMPLAUSIBLE_JUMP: "implausible_jump",
}
IMPLAUSIBLE = tuple(QUALITY_NAMES)


def mark(
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    q: NDArray[np.uint8],
    p: MeterParams,
    prev_t: NDArray[np.int64],
    prev_v: NDArray[np.float64],
    jumps: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Qualities with the implausible readings marked, and which readings are plausible
    candidates (good and neither negative nor high: the next jump check's previous).

    Readings are sorted by (meter, time). ``prev_t``/``prev_v`` give, per reading, the
    previous plausible reading of its meter before these (NO_TIME: none); only the first
    checked reading of each meter uses them. ``jumps`` says which readings the jump check
    covers (ingest: those newer than the carried one); None: all.
    """
    good = q == QUALITY_GOOD
    if not good.any():
        return q, good
    res = p.resolution[m]
    counter = p.is_counter[m]
    cap = p.cap_per_h[m]
    mod = p.modulus[m]
    negative = good & (v < p.floor[m])
    high = good & ~negative & ((~counter & (v > cap + res)) | (counter & (mod > 0) & (v >= mod)))
    out = q.copy()
    out[negative] = IMPLAUSIBLE_NEGATIVE
    out[high] = IMPLAUSIBLE_HIGH
    cand = good & ~negative & ~high
    # The chain of jump checks: each checked reading against the one before it in the
    # chain, the first of each meter against the carried previous reading.
    chain = cand & counter if jumps is None else cand & counter & jumps
    idx = np.flatnonzero(chain)
    if len(idx):
        mm, tt, vv = m[idx], t[idx], v[idx]
        pt, pv = np.empty_like(tt), np.empty_like(vv)
        pt[1:], pv[1:] = tt[:-1], vv[:-1]
        first = np.ones(len(mm), dtype=bool)
        np.not_equal(mm[1:], mm[:-1], out=first[1:])
        pt[first], pv[first] = prev_t[idx][first], prev_v[idx][first]
        has = pt != NO_TIME
        dt_h = np.where(has, tt - pt, 0) * (1.0 / NS_PER_H)
        jump = has & (vv - pv > p.cap_per_h[mm] * dt_h + p.resolution[mm])
        if jump.any() and len(p.replacements.meter):
            r = p.replacements
            for meter, at in zip(r.meter.tolist(), r.ts.tolist(), strict=True):
                jump &= ~((mm == meter) & (pt < at) & (at <= tt))
        out[idx[jump]] = IMPLAUSIBLE_JUMP
    return out, cand


def mark_batch(
    m: NDArray[np.int32],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    q: NDArray[np.uint8],
    p: MeterParams,
) -> NDArray[np.uint8]:
    """The qualities of a whole readings file (any order), as ingest marks them in order."""
    order = np.lexsort((v, t, m))
    none = np.full(len(m), NO_TIME, dtype=np.int64)
    marked, _ = mark(m[order], t[order], v[order], q[order], p, none, np.zeros(len(m)))
    out = np.empty_like(q)
    out[order] = marked
    return out
