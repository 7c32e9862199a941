"""Deterministic load profiles for a factory: shifts, weekends, boiler, generator, PV.

Each profile gives a meter's rate as a fraction of its rating at given local
times; counters integrate it. Seeded noise keeps runs reproducible.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Fuel, Meter, MeterKind


def shift_activity(hour: NDArray[np.float64], weekday: NDArray[np.int64]) -> NDArray[np.float64]:
    """Two shifts on weekdays (08-16, 16-24), a skeleton crew otherwise."""
    day_shift = (hour >= 8) & (hour < 16)
    late_shift = (hour >= 16) & (hour < 24)
    weekend = weekday >= 5
    level = np.where(day_shift, 1.0, np.where(late_shift, 0.7, 0.15))
    return np.asarray(np.where(weekend, 0.1 + 0.05 * day_shift, level), dtype=np.float64)


def solar(hour: NDArray[np.float64], day_of_year: NDArray[np.int64]) -> NDArray[np.float64]:
    """Clear-sky shape 06-18 h with a slow seasonal and day-to-day cloud factor."""
    shape = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    cloud = 0.75 + 0.25 * np.cos(day_of_year * 2.39996)  # golden-angle spread: no pattern
    return np.asarray(shape * cloud, dtype=np.float64)


def process_load(
    hour: NDArray[np.float64], weekday: NDArray[np.int64], noise: NDArray[np.float64]
) -> NDArray[np.float64]:
    """A machine that runs with production (compressor, chiller, furnace): 3 % standby
    outside the shifts, up to 71 % in the day shift."""
    act = shift_activity(hour, weekday)
    return np.asarray(0.03 + 0.8 * np.clip(act - 0.15, 0, None) * noise, dtype=np.float64)


def fraction_of_rating(
    meter: Meter,
    hour: NDArray[np.float64],
    weekday: NDArray[np.int64],
    day_of_year: NDArray[np.int64],
    rng: np.random.Generator,
    process: bool = False,
) -> NDArray[np.float64]:
    act = shift_activity(hour, weekday)
    noise = 1.0 + 0.05 * rng.standard_normal(len(hour))
    if process:
        return process_load(hour, weekday, noise)
    if meter.kind is MeterKind.ONSITE_GENERATION:
        return solar(hour, day_of_year)
    if meter.kind is MeterKind.GRID_EXPORT:
        # Surplus PV only around noon on weekends, when the halls are quiet.
        return np.where(weekday >= 5, 0.6 * solar(hour, day_of_year), 0.0)
    if meter.kind is MeterKind.FUEL and meter.fuel == Fuel.DIESEL:
        # Back-up generator: weekly one-hour load test, Monday 14:00.
        return np.where((weekday == 0) & (hour >= 14) & (hour < 15), 0.7, 0.0)
    if meter.kind is MeterKind.FUEL:
        return np.clip(0.1 + 0.55 * act * noise, 0, 1)
    if meter.kind is MeterKind.HEAT_IMPORT:
        return np.clip(0.1 + 0.45 * act * noise, 0, 1)
    if meter.kind is MeterKind.PRODUCTION:
        return np.clip(0.8 * act * noise - 0.1, 0, 1)
    return np.clip(0.15 + 0.6 * act * noise, 0, 1)
