"""Annual (volume) and hourly matching of green electricity to consumption, side by side.

The 2015 GHG Protocol Scope 2 Guidance matches instruments to consumption by
volume over the reporting year; the 2025-2027 revision proposes hourly
matching (an instrument covers consumption only in the hour its power was
generated). Both are computed from the same hourly series so the difference
is visible before the rule changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Residual = float | NDArray[np.float64]


@dataclass(frozen=True)
class Matching:
    consumption_mwh: float
    instruments_mwh: float
    covered_mwh: float
    uncovered_mwh: float
    surplus_mwh: float  # instrument MWh that found no consumption to cover (never negative t)
    market_t: float  # uncovered x residual factor (+ covered x the instruments' rate)
    coverage_pct: float


def annual_match(
    consumption_mwh: NDArray[np.float64],
    generation_mwh: NDArray[np.float64],
    residual: Residual,
    instrument_ef: float = 0.0,
) -> Matching:
    """Volume matching: the period's instrument MWh against its consumption, hour-blind.

    ``residual`` is one factor (t/MWh) or one per hour; per hour, the uncovered MWh take
    the consumption-weighted mean of the hours' factors.
    """
    c, g = float(consumption_mwh.sum()), float(generation_mwh.sum())
    covered = min(c, g)
    if np.ndim(residual):
        r = np.asarray(residual, dtype=np.float64)
        mean = float((consumption_mwh * r).sum()) / c if c else 0.0
    else:
        mean = float(residual)
    return _result(c, g, covered, (c - covered) * mean, instrument_ef)


def hourly_match(
    consumption_mwh: NDArray[np.float64],
    generation_mwh: NDArray[np.float64],
    residual: Residual,
    instrument_ef: float = 0.0,
) -> Matching:
    """Arrays are aligned by hour; an hour's surplus does not carry to another hour."""
    if consumption_mwh.shape != generation_mwh.shape:
        raise ValueError("hourly consumption and generation must cover the same hours")
    per_hour = np.minimum(consumption_mwh, generation_mwh)
    covered = float(per_hour.sum())
    uncovered_t = float(((consumption_mwh - per_hour) * residual).sum())
    return _result(
        float(consumption_mwh.sum()),
        float(generation_mwh.sum()),
        covered,
        uncovered_t,
        instrument_ef,
    )


def _result(c: float, g: float, covered: float, uncovered_t: float, ef: float) -> Matching:
    return Matching(
        consumption_mwh=c,
        instruments_mwh=g,
        covered_mwh=covered,
        uncovered_mwh=c - covered,
        surplus_mwh=g - covered,
        market_t=uncovered_t + covered * ef,
        coverage_pct=100.0 * covered / c if c else 0.0,
    )


@dataclass(frozen=True)
class InstrumentHours:
    """One instrument counted for a site and period: its MWh, its emission rate and, when its
    contract's hourly generation is known, its share of it per hour of the period."""

    mwh: float
    ef_t_per_mwh: float
    hourly: NDArray[np.float64] | None  # aligned with the consumption hours


def match_site(
    consumption_mwh: NDArray[np.float64],
    residual: NDArray[np.float64],
    instruments: list[InstrumentHours],
) -> tuple[Matching, Matching]:
    """Annual (volume) and hourly matching of the same instruments and consumption.

    Annual: every instrument's MWh counts. Hourly: only generation known hour by hour
    counts, in its own hour; an instrument without hourly data covers nothing hourly.
    """
    volume = np.array([i.mwh for i in instruments], dtype=np.float64)
    hourly = np.zeros_like(consumption_mwh)
    for i in instruments:
        if i.hourly is not None:
            hourly = hourly + i.hourly
    ef_annual = _mean_ef([(i.mwh, i.ef_t_per_mwh) for i in instruments])
    ef_hourly = _mean_ef(
        [(float(i.hourly.sum()), i.ef_t_per_mwh) for i in instruments if i.hourly is not None]
    )
    return (
        annual_match(consumption_mwh, volume, residual, ef_annual),
        hourly_match(consumption_mwh, hourly, residual, ef_hourly),
    )


def _mean_ef(weighted: list[tuple[float, float]]) -> float:
    total = sum(w for w, _ in weighted)
    return sum(w * ef for w, ef in weighted) / total if total > 0 else 0.0


def claim_inside(
    claim_start: dt.datetime, claim_end: dt.datetime, start: dt.datetime, end: dt.datetime
) -> bool:
    """An instrument counts in a period's matching when its whole claim period lies inside
    it (a claim only partly inside has no defined share of its MWh there)."""
    return start <= claim_start and claim_end <= end


def profile_hours(
    rows: Iterable[tuple[dt.datetime, float]],
    start: dt.datetime,
    n: int,
    claim_start: dt.datetime,
    claim_end: dt.datetime,
    share: float = 1.0,
) -> NDArray[np.float64]:
    """An hourly generation profile (hour start, MWh) on the period's hours [start, +n h):
    the hours inside the claim period, times the instrument's share of the contract."""
    out = np.zeros(n)
    for h, mwh in rows:
        if claim_start <= h < claim_end:
            i = round((h - start).total_seconds() / 3600)
            if 0 <= i < n:
                out[i] += mwh * share
    return out


def surplus_hours(
    consumption_mwh: NDArray[np.float64], generation_mwh: NDArray[np.float64]
) -> NDArray[np.intp]:
    """Hours whose instrument generation exceeds consumption (hourly matching leaves it unused)."""
    return np.flatnonzero(generation_mwh > consumption_mwh + 1e-12)
