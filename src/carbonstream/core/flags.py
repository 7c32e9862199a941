"""Quality flags carried by every interval and emission line (a bit set, OR-ed on merge)."""

from __future__ import annotations

from enum import IntFlag


class Flag(IntFlag):
    DERIVED = 1  # integrated from instantaneous rate, not read from a counter
    ROLLOVER = 2  # counter wrapped at its range (accepted: physically possible)
    RESET = 4  # counter dropped without a possible wrap: interval not counted
    REPLACEMENT = 8  # a recorded meter replacement was applied
    GAP = 16  # rate samples too far apart: not bridged, not counted
    IMPLAUSIBLE = 32  # above the meter's rating (or a negative rate): not counted
    SPREAD = 64  # a counter delta over a long gap, spread evenly over the buckets
    FACTOR_FALLBACK = 128  # factor of an earlier data year used (activity year not published)
    UNVERIFIED_FACTOR = 256  # a factor the library marks as not verified against its source


NOT_COUNTED = Flag.RESET | Flag.GAP | Flag.IMPLAUSIBLE


def describe(bits: int) -> list[str]:
    return [f.name.lower() for f in Flag if bits & f and f.name]
