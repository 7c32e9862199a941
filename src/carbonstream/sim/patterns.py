"""Waste patterns the simulator can plant on a meter, so a demo (and a test) has
something for the opportunity detectors to find, with a known answer.

* ``weekend_idle``: a load left on at weekends (a compressor): ``kw`` all
  Saturday and Sunday, local time.
* ``drift``: the meter's load grows by ``fraction`` of itself, ramping in
  linearly over ``ramp_days`` from ``start`` (a chiller with a fouling condenser).
* ``batch``: a movable batch load of ``kw`` for ``hours`` from ``at_hour`` on
  weekdays (a batch furnace run at the day shift's peak).

``WeatherLoad`` is no waste: a load that follows the outdoor air alone (a chiller
plant cooling the halls, kW per °C above a base, 1 % standby), for the degree-day
baselines.

A meter with any pattern follows the *process* profile (load with production,
a small standby otherwise) instead of the building profile, so the planted part
is the only waste on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, assert_never

import numpy as np
from numpy.typing import NDArray

from carbonstream.sim.profiles import outdoor_c

PatternKind = Literal["weekend_idle", "drift", "batch"]


@dataclass(frozen=True)
class Pattern:
    kind: PatternKind
    meter: str
    kw: float = 0.0  # weekend_idle, batch: in the meter's unit per hour
    start: dt.datetime | None = None  # drift: when it begins (aware)
    ramp_days: float = 2.0
    fraction: float = 0.0  # drift: final growth as a fraction of the clean load
    at_hour: float = 10.0  # batch: local start hour
    hours: float = 2.0  # batch: duration


@dataclass(frozen=True)
class WeatherLoad:
    meter: str
    kw_per_degc: float  # in the meter's unit per hour, per °C beyond the base
    base_c: float
    heating: bool = False  # True: below the base (heating); False: above it (cooling)


def weather_rate(
    w: WeatherLoad, hour: NDArray[np.float64], day_of_year: NDArray[np.int64]
) -> NDArray[np.float64]:
    t = outdoor_c(hour, day_of_year)
    beyond = w.base_c - t if w.heating else t - w.base_c
    return np.asarray(w.kw_per_degc * np.maximum(beyond, 0.0), dtype=np.float64)


def planted_rate(
    p: Pattern,
    clean_rate: NDArray[np.float64],
    epoch_s: NDArray[np.float64],
    hour: NDArray[np.float64],
    weekday: NDArray[np.int64],
) -> NDArray[np.float64]:
    """The rate the pattern adds on top of the clean rate (meter unit per hour)."""
    match p.kind:
        case "weekend_idle":
            return np.where(weekday >= 5, p.kw, 0.0)
        case "drift":
            assert p.start is not None, "a drift pattern needs its start"
            days = (epoch_s - p.start.timestamp()) / 86400.0
            growth = p.fraction * np.clip(days / max(p.ramp_days, 1e-9), 0.0, 1.0)
            return np.asarray(clean_rate * growth, dtype=np.float64)
        case "batch":
            on = (weekday < 5) & (hour >= p.at_hour) & (hour < p.at_hour + p.hours)
            return np.where(on, p.kw, 0.0)
        case _:
            assert_never(p.kind)
