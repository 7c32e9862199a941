"""The live view's zero-carbon status and emission intensity, today and this month.

Kept apart from :mod:`carbonstream.domain.live` (which calls :meth:`GreenLive.load`
and :meth:`GreenLive.attach` once per snapshot): per site, net = Scope 1 +
Scope 2 (the plant's zero-carbon basis) - CCER retired for that site with an
offset period inside today or this month; intensity = the same emissions per
unit of product, for the site and each production line. The month's closed
days are re-read at most every ``MONTH_CACHE_S``, like the hub's totals.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from carbonstream.config.plant import Plant
from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.domain import green
from carbonstream.domain.green_model import ZeroCarbonStatus
from carbonstream.store import green as q
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries.series import site_keys

MONTH_CACHE_S = 60.0
Basis = Literal["market", "location"]


class LiveNet(BaseModel):
    scope1_t: float
    scope2_t: float = Field(description="On the zero-carbon basis.")
    offsets_t: float = Field(description="CCER retired for this site for the period.")
    net_t: float
    zero_carbon: bool = Field(description="net_t <= 0.")
    remaining_t: float = Field(description="Left to reduce or offset; 0 when zero-carbon.")


class LiveZeroCarbon(BaseModel):
    basis: Basis
    today: LiveNet
    month: LiveNet


class LiveIntensityFigure(BaseModel):
    production: float
    emissions_t: float
    t_per_unit: float | None = Field(description="tCO2e per unit of product; null: none made.")


class LiveLineIntensity(BaseModel):
    line: str
    unit: str | None
    today: LiveIntensityFigure
    month: LiveIntensityFigure


class LiveIntensity(BaseModel):
    basis: Basis
    unit: str | None = Field(description="The site's production unit (null: no production).")
    today: LiveIntensityFigure
    month: LiveIntensityFigure
    lines: list[LiveLineIntensity]


class GreenSite(Protocol):
    """What :meth:`GreenLive.attach` fills in: a live site (``live.SiteLive``), named
    structurally so this module does not import the one that imports it."""

    id: str
    zero_carbon: LiveZeroCarbon | None
    intensity: LiveIntensity | None


@dataclass
class GreenData:
    today: dict[str, dict[str, float]]
    month: dict[str, dict[str, float]]  # closed days and today
    today_lines: list[q.LineRole]
    month_lines: list[q.LineRole]
    today_retired: list[q.Retired]
    month_retired: list[q.Retired]


def _add(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    out = {s: dict(v) for s, v in a.items()}
    for s, v in b.items():
        acc = out.setdefault(s, dict.fromkeys(SITE_COLUMNS, 0.0))
        for c, x in v.items():
            acc[c] = acc.get(c, 0.0) + x
    return out


class GreenLive:
    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self._meters: list[int] | None = None
        self._sites: list[int] | None = None
        self._month: tuple[tuple[dt.datetime, dt.datetime], float, GreenData] | None = None

    async def load(
        self, conn: AsyncConn, day: dt.datetime, next_day: dt.datetime, month: dt.datetime
    ) -> GreenData:
        if self._sites is None or self._meters is None:
            self._sites = list((await site_keys(conn, None)).values())
            self._meters = await q.line_meter_keys(conn)
        keys = self._sites
        today = await q.live_sums(conn, keys, day, next_day)
        today_lines = await q.line_sums(conn, self._meters, day, next_day)
        key = (month, day)
        if (
            self._month is None
            or self._month[0] != key
            or time.monotonic() - self._month[1] > MONTH_CACHE_S
        ):
            closed = GreenData(
                today={},
                month=await q.live_sums(conn, keys, month, day),
                today_lines=[],
                month_lines=await q.line_sums(conn, self._meters, month, day),
                today_retired=[],
                month_retired=[],
            )
            self._month = (key, time.monotonic(), closed)
        closed = self._month[2]
        local_day = day.astimezone(self.plant.zone).date()
        first = month.astimezone(self.plant.zone).date()
        last = (next_month(month, self.plant) - dt.timedelta(days=1)).date()
        return GreenData(
            today=today,
            month=_add(closed.month, today),
            today_lines=today_lines,
            month_lines=closed.month_lines + today_lines,
            today_retired=await q.retirements_inside(conn, local_day, local_day),
            month_retired=await q.retirements_inside(conn, first, last),
        )

    def attach(self, sites: Sequence[GreenSite], data: GreenData) -> None:
        basis: Basis = self.plant.zero_carbon.scope2_basis
        ids = [s.id for s in sites]
        zc_today = green.zero_carbon_status(data.today, ids, data.today_retired, basis, False)[1]
        zc_month = green.zero_carbon_status(data.month, ids, data.month_retired, basis, False)[1]
        it_today = {x.site: x for x in green.site_intensity(self.plant, data.today, ids, basis)}
        it_month = {x.site: x for x in green.site_intensity(self.plant, data.month, ids, basis)}
        ln_today = green.line_intensity(self.plant, data.today_lines, data.today, ids, basis)
        ln_month = {
            (x.site, x.line): x
            for x in green.line_intensity(self.plant, data.month_lines, data.month, ids, basis)
        }
        for s, t, m in zip(sites, zc_today, zc_month, strict=True):
            s.zero_carbon = LiveZeroCarbon(basis=basis, today=_net(t), month=_net(m))
            lines = []
            for lt in ln_today:
                if lt.site != s.id:
                    continue
                lm = ln_month[(lt.site, lt.line)]
                lines.append(
                    LiveLineIntensity(
                        line=lt.line,
                        unit=lt.unit,
                        today=_figure(lt.production, lt.emissions_t, lt.t_per_unit),
                        month=_figure(lm.production, lm.emissions_t, lm.t_per_unit),
                    )
                )
            a, b = it_today[s.id], it_month[s.id]
            s.intensity = LiveIntensity(
                basis=basis,
                unit=a.unit,
                today=_figure(a.production, a.emissions_t, a.t_per_unit),
                month=_figure(b.production, b.emissions_t, b.t_per_unit),
                lines=lines,
            )


def next_month(month: dt.datetime, plant: Plant) -> dt.datetime:
    local = month.astimezone(plant.zone)
    y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return dt.datetime(y, m, 1, tzinfo=plant.zone)


def _r(x: float) -> float:
    return float(f"{x:.6g}")


def _net(z: ZeroCarbonStatus) -> LiveNet:
    return LiveNet(
        scope1_t=_r(z.scope1_t),
        scope2_t=_r(z.scope2_t),
        offsets_t=_r(z.offsets_t),
        net_t=_r(z.net_t),
        zero_carbon=z.zero_carbon,
        remaining_t=_r(z.remaining_t),
    )


def _figure(production: float, emissions: float, value: float | None) -> LiveIntensityFigure:
    return LiveIntensityFigure(
        production=_r(production),
        emissions_t=_r(emissions),
        t_per_unit=None if value is None else _r(value),
    )
