"""Deterministic load profiles for a factory: shifts, weekends, boiler, generator, PV,
and the outdoor air a temperature meter reads.

Each profile gives a meter's rate as a fraction of its rating at given local
times; counters integrate it. Seeded noise keeps runs reproducible.
"""

from __future__ import annotations

from typing import assert_never

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


def outdoor_c(hour: NDArray[np.float64], day_of_year: NDArray[np.int64]) -> NDArray[np.float64]:
    """Outdoor air, °C: a day mean between 12 and 28 °C that changes from day to day
    (golden-angle spread: no weekly pattern) and a ±5 °C daily swing, warmest at 17:00."""
    day_mean = 20.0 + 8.0 * np.cos(day_of_year * 2.39996)
    return np.asarray(day_mean + 5.0 * np.sin(2 * np.pi * (hour - 11.0) / 24.0), dtype=np.float64)


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
    match meter.kind:
        case MeterKind.ONSITE_GENERATION:
            return solar(hour, day_of_year)
        case MeterKind.GRID_EXPORT:
            # Surplus PV only around noon on weekends, when the halls are quiet.
            return np.where(weekday >= 5, 0.6 * solar(hour, day_of_year), 0.0)
        case MeterKind.FUEL if meter.fuel == Fuel.DIESEL:
            # Back-up generator: weekly one-hour load test, Monday 14:00.
            return np.where((weekday == 0) & (hour >= 14) & (hour < 15), 0.7, 0.0)
        case MeterKind.FUEL:
            return np.clip(0.1 + 0.55 * act * noise, 0, 1)
        case MeterKind.HEAT_IMPORT:
            return np.clip(0.1 + 0.45 * act * noise, 0, 1)
        case MeterKind.PRODUCTION:
            return np.clip(0.8 * act * noise - 0.1, 0, 1)
        case MeterKind.TEMPERATURE:
            # The sensor's noise is 0.1 °C; its rating is the largest |°C| it reads.
            sensed = outdoor_c(hour, day_of_year) + 0.1 * (noise - 1.0) / 0.05
            return np.asarray(sensed / meter.rating, dtype=np.float64)
        case MeterKind.GRID_IMPORT | MeterKind.HEAT_EXPORT:
            return np.clip(0.15 + 0.6 * act * noise, 0, 1)
        case _:
            assert_never(meter.kind)
