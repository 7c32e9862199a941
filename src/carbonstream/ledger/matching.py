"""Annual (volume) and hourly matching of green electricity to consumption, side by side.

The 2015 GHG Protocol Scope 2 Guidance matches instruments to consumption by
volume over the reporting year; the 2025-2027 revision proposes hourly
matching (an instrument covers consumption only in the hour its power was
generated). Both are computed from the same hourly series so the difference
is visible before the rule changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Matching:
    consumption_mwh: float
    instruments_mwh: float
    covered_mwh: float
    uncovered_mwh: float
    surplus_mwh: float
    market_t: float  # uncovered x residual factor
    coverage_pct: float


def annual_match(
    consumption_mwh: NDArray[np.float64], generation_mwh: NDArray[np.float64], residual: float
) -> Matching:
    c, g = float(consumption_mwh.sum()), float(generation_mwh.sum())
    covered = min(c, g)
    return _result(c, g, covered, residual)


def hourly_match(
    consumption_mwh: NDArray[np.float64], generation_mwh: NDArray[np.float64], residual: float
) -> Matching:
    """Arrays are aligned by hour; an hour's surplus does not carry to another hour."""
    if consumption_mwh.shape != generation_mwh.shape:
        raise ValueError("hourly consumption and generation must cover the same hours")
    covered = float(np.minimum(consumption_mwh, generation_mwh).sum())
    return _result(float(consumption_mwh.sum()), float(generation_mwh.sum()), covered, residual)


def _result(c: float, g: float, covered: float, residual: float) -> Matching:
    return Matching(
        consumption_mwh=c,
        instruments_mwh=g,
        covered_mwh=covered,
        uncovered_mwh=c - covered,
        surplus_mwh=g - covered,
        market_t=(c - covered) * residual,
        coverage_pct=100.0 * covered / c if c else 0.0,
    )
