"""The live view's comprehensive energy per site (GB/T 2589), today and this month.

Kept apart from :mod:`carbonstream.domain.live` (which calls :meth:`EnergyLive.load`
and :meth:`EnergyLive.attach` once per snapshot): per site, the stored quantities of
its meters for the local day and the month so far, through the same coefficients as
``GET /v1/energy`` (``core.energy.columns``): tce at equivalent and equal value,
on-site renewables apart, tce per unit of product. The month's closed days are
re-read at most every ``MONTH_CACHE_S``, like the hub's totals.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from carbonstream.config.plant import MeterKind
from carbonstream.core import energy as core
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import energy as q

MONTH_CACHE_S = 60.0


class LiveTce(BaseModel):
    total_tce: float = Field(description="Comprehensive energy, electricity at equivalent value.")
    total_equal_tce: float = Field(description="The same with electricity at equal value.")
    onsite_renewable_tce: float = Field(description="On-site generation, not in the totals.")
    production: float = Field(description="Production in production_unit.")
    tce_per_unit: float | None = Field(description="total_tce per unit; null: none made.")


class LiveEnergy(BaseModel):
    production_unit: str | None = Field(description="The site's production unit, if any.")
    today: LiveTce
    month: LiveTce


class EnergySite(Protocol):
    """What :meth:`EnergyLive.attach` fills in: a live site (``live.SiteLive``), named
    structurally so this module does not import the one that imports it."""

    id: str
    energy: LiveEnergy | None


@dataclass
class EnergyData:
    today: dict[int, float]  # dense meter index -> canonical quantity
    month: dict[int, float]  # closed days and today
    year: int  # local year of the day (the equal value's activity year)


class EnergyLive:
    def __init__(self, ep: core.EnergyParams) -> None:
        self.ep = ep
        self._keys: dict[int, int] | None = None  # store key -> dense meter index
        self._month: tuple[tuple[dt.datetime, dt.datetime], float, dict[int, float]] | None = None

    async def load(
        self, conn: AsyncConn, day: dt.datetime, next_day: dt.datetime, month: dt.datetime
    ) -> EnergyData:
        if self._keys is None:
            keys = await q.meter_keys(conn)
            self._keys = {keys[m]: i for i, m in enumerate(self.ep.ids) if m in keys}
        today = await self._sums(conn, day, next_day)
        key = (month, day)
        if (
            self._month is None
            or self._month[0] != key
            or time.monotonic() - self._month[1] > MONTH_CACHE_S
        ):
            self._month = (key, time.monotonic(), await self._sums(conn, month, day))
        closed = self._month[2]
        both = dict(closed)
        for i, v in today.items():
            both[i] = both.get(i, 0.0) + v
        return EnergyData(today, both, day.astimezone(self.ep.plant.zone).year)

    async def _sums(self, conn: AsyncConn, lo: dt.datetime, hi: dt.datetime) -> dict[int, float]:
        assert self._keys is not None
        rows = await q.meter_sums(conn, list(self._keys), lo, hi)
        return {self._keys[k]: qty for k, (qty, _) in rows.items()}

    def attach(self, sites: Sequence[EnergySite], data: EnergyData) -> None:
        plant = self.ep.plant
        index = {s.id: i for i, s in enumerate(plant.sites)}
        site_of = np.array([index[m.site] for m in plant.meters], dtype=np.intp)
        today = self._per_site(data.today, data.year, site_of)
        month = self._per_site(data.month, data.year, site_of)
        units = {
            m.site: m.scale().canonical for m in plant.meters if m.kind is MeterKind.PRODUCTION
        }
        for s in sites:
            i = index[s.id]
            s.energy = LiveEnergy(
                production_unit=units.get(s.id),
                today=_tce(today, i),
                month=_tce(month, i),
            )

    def _per_site(
        self, quantities: dict[int, float], year: int, site_of: NDArray[np.intp]
    ) -> dict[str, NDArray[np.float64]]:
        meter = np.array(sorted(quantities), dtype=np.intp)
        qty = np.array([quantities[i] for i in meter], dtype=np.float64)
        cols = core.columns(self.ep, meter, qty, np.full(len(meter), year, dtype=np.int64))
        return core.group_sums(cols, site_of[meter], len(self.ep.plant.sites))


def _r(x: float) -> float:
    return float(f"{x:.6g}")


def _tce(cols: dict[str, NDArray[np.float64]], i: int) -> LiveTce:
    total, production = float(cols["total_tce"][i]), float(cols["production"][i])
    per = core.intensity(total, production)
    return LiveTce(
        total_tce=_r(total),
        total_equal_tce=_r(float(cols["total_equal_tce"][i])),
        onsite_renewable_tce=_r(float(cols["onsite_renewable_tce"][i])),
        production=_r(production),
        tce_per_unit=None if per is None else _r(per),
    )
