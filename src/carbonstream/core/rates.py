"""Rolling emission rates over the covered time: the one definition behind every live rate.

A rate is tonnes per hour over the seconds of its trailing window that the
site's data covers, and those seconds travel with it (``covered_s``): where a
site's data began inside the window, dividing by the whole window would dilute
the rate (a plant 372 s old read 0.119 t/h over 15 minutes while it emitted at
0.288 t/h). ``covered_s`` is whole seconds and the rate is divided by exactly
that number, so ``rate × covered_s / 3600`` gives back the tonnes counted.

The window ends at :func:`rates_until`: the last minute boundary at least
:data:`SETTLE_S` before now, so only complete minutes count (readings reach the
database a few seconds after their source time; a minute still filling would
read low).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.batch import NS_PER_S

ROLLING_WINDOWS_S = (60, 900, 3600)
SETTLE_S = 10  # a minute counts for rates this long after it closed


@dataclass(frozen=True)
class RollingRate:
    """Tonnes per hour over ``covered_s`` of a ``window_s`` window, per value column."""

    window_s: int
    covered_s: int  # seconds of the window at or after the data's start (0: none yet)
    tco2e_per_h: tuple[float, ...] | None  # one per column; None while covered_s is 0


def rates_until(now: dt.datetime) -> dt.datetime:
    """End of the last complete minute that live rates use at ``now``."""
    return (now - dt.timedelta(seconds=SETTLE_S)).replace(second=0, microsecond=0)


def covered_seconds(window_s: int, end_ns: int, data_start_ns: int | None) -> int:
    """Whole seconds of the window ending at ``end_ns`` at or after the data's start."""
    if data_start_ns is None:
        return 0
    start_ns = max(end_ns - window_s * NS_PER_S, data_start_ns)
    return max(0, round((end_ns - start_ns) / NS_PER_S))


def rolling_rates(
    bucket: NDArray[np.int64],
    bucket_s: int,
    values: NDArray[np.float64],
    end_ns: int,
    data_start_ns: int | None,
    windows_s: tuple[int, ...] = ROLLING_WINDOWS_S,
) -> list[RollingRate]:
    """Rate per hour of each column of ``values`` over each trailing window ending at ``end_ns``.

    ``bucket`` holds bucket starts (UTC ns), ``values`` per-bucket totals (e.g.
    tCO2e), one row per bucket and one column per measure. A bucket counts when
    it lies wholly inside the window. Windows shorter than one bucket are refused.
    """
    vals = values[:, None] if values.ndim == 1 else values
    ends = bucket + bucket_s * NS_PER_S
    out: list[RollingRate] = []
    for w in windows_s:
        if w < bucket_s:
            raise ValueError(f"window {w}s is shorter than the {bucket_s}s bucket")
        covered = covered_seconds(w, end_ns, data_start_ns)
        if covered < 1:
            out.append(RollingRate(w, 0, None))
            continue
        inside = (bucket >= end_ns - w * NS_PER_S) & (ends <= end_ns)
        sums = vals[inside].sum(axis=0) * (3600.0 / covered)
        out.append(RollingRate(w, covered, tuple(float(x) for x in sums)))
    return out
