"""When a flexible load should run tomorrow: the hours with the lowest emissions.

An extra kWh at a site is grid power at the grid factor, unless renewable power
the site would not use covers it: on-site PV that would be exported, and PPA
generation allocated to the site beyond its grid import (hourly matching). Both
are forecast for tomorrow as the mean of the same local hour over the last
``HISTORY_DAYS`` days. The grid factor is the site's own location-based tCO2e
per MWh in that history (China publishes an annual average, not an hourly one,
so without surplus every hour is alike and the answer says so).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.energy import clock_minutes
from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core import opportunities as det
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import energy as energy_q
from carbonstream.store.queries.series import Bucket, floor_bucket

HISTORY_DAYS = 7


def hour_of_day_mean(
    values: NDArray[np.float64], hour_of_day: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Mean per local hour of day (24), over the history's hours (NaN-free input)."""
    s = np.bincount(hour_of_day, weights=values, minlength=24)
    n = np.bincount(hour_of_day, minlength=24)
    return np.divide(s, n, out=np.zeros(24), where=n > 0)


def schedule(
    plant: Plant,
    site: str,
    grid_t_per_mwh: float,
    surplus_by_hour: NDArray[np.float64],
    day: dt.date,
) -> list[dict[str, Any]]:
    """Per flexible load of the site: the best start tomorrow and what it saves."""
    out = []
    for f in plant.energy.flexible_loads:
        if f.site != site:
            continue
        load = f.kw / 1000.0
        intensity = det.marginal_intensity(grid_t_per_mwh, surplus_by_hour, load)
        lo = clock_minutes(f.earliest) // 60
        hi = clock_minutes(f.latest_end) // 60
        slot = det.lowest_emission_slot(intensity, load, f.hours, lo, hi)
        if slot is None:
            continue
        flat = bool(np.allclose(intensity[lo:hi], intensity[lo]))
        out.append(
            {
                "load": f.id,
                "site": f.site,
                "meter": f.meter,
                "day": day.isoformat(),
                "start": f"{slot.start_hour:02d}:00",
                "end": f"{slot.start_hour + f.hours:02d}:00",
                "tco2e": slot.tco2e,
                "worst_tco2e": slot.worst_tco2e,
                "saved_tco2e": slot.worst_tco2e - slot.tco2e,
                "all_hours_alike": flat,
                "t_per_mwh_by_hour": [float(x) for x in intensity],
            }
        )
    return out


async def site_history(
    conn: AsyncConn, plant: Plant, site: str, end: dt.datetime
) -> tuple[float, NDArray[np.float64]]:
    """(grid tCO2e/MWh, forecast renewable surplus MWh per local hour) from the last days."""
    start = end - dt.timedelta(days=HISTORY_DAYS)
    grid = [MeterKind.GRID_IMPORT.value, MeterKind.GRID_EXPORT.value]
    rows = await energy_q.site_meter_hours(conn, site, grid, start, end, plant.timezone)
    ppa = await energy_q.site_ppa_hours(conn, site, start, end)
    zone = plant.zone
    n = HISTORY_DAYS * 24
    # Hours are plant-local in both queries (an offset of :30 or :45 is not a UTC hour);
    # counted in UTC so a fall-back night's repeated hour is a slot of its own.
    t0 = floor_bucket(start, Bucket.HOUR, zone).astimezone(dt.UTC)
    imp, exp_, ppa_h = np.zeros(n), np.zeros(n), np.zeros(n)
    grid_mwh = grid_t = 0.0
    for h, kind, qty, co2e in rows:
        i = int((h - t0).total_seconds() // 3600)
        if not 0 <= i < n:
            continue
        if kind == MeterKind.GRID_IMPORT.value:
            imp[i] += qty
            grid_mwh += qty
            grid_t += co2e
        else:
            exp_[i] += qty
    for h, mwh in ppa:
        i = int((h - t0).total_seconds() // 3600)
        if 0 <= i < n:
            ppa_h[i] += mwh
    hod = np.array([(t0 + dt.timedelta(hours=i)).astimezone(zone).hour for i in range(n)])
    surplus = exp_ + np.clip(ppa_h - imp, 0.0, None)
    factor = grid_t / grid_mwh if grid_mwh > 0 else 0.0
    return factor, hour_of_day_mean(surplus, hod)


async def tomorrow(conn: AsyncConn, plant: Plant, now: dt.datetime) -> list[dict[str, Any]]:
    """Every flexible load's lowest-emission hours for the next local day."""
    end = floor_bucket(now, Bucket.HOUR, plant.zone).astimezone(dt.UTC)  # a whole local hour
    day = now.astimezone(plant.zone).date() + dt.timedelta(days=1)
    out: list[dict[str, Any]] = []
    for site in sorted({f.site for f in plant.energy.flexible_loads}):
        factor, surplus = await site_history(conn, plant, site, end)
        out += schedule(plant, site, factor, surplus, day)
    return out
