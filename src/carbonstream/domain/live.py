"""The live view of the plant: rates by scope, running totals against budget, meter status.

One :class:`LiveHub` per app builds snapshots from the store's rollups and
shares them: concurrent requests and every open stream within ``max_age_s``
get the same snapshot from one round of queries, so fifty watchers cost what
one does. ``/v1/sites`` and ``/metrics`` read their rates from the same
snapshot, so every live rate a person or a scraper sees is one figure.

Rates are tCO2e per hour over the trailing 1, 15 and 60 minutes of complete
minutes, over the seconds of each window the site's data covers
(:mod:`carbonstream.core.rates`): a fresh plant shows a true rate after its
first complete minute instead of a diluted one, and ``covered_s`` says how
much data it rests on. Projections to the end of the day and month hold the
60-minute rate and are *warming up* until it covers the whole hour
(:mod:`carbonstream.core.budget`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from carbonstream.config.plant import Plant, Site
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.budget import (
    PROJECTION_MIN_COVERED_S,
    BudgetState,
    budget_state,
    projection_ready,
)
from carbonstream.core.energy import EnergyParams
from carbonstream.core.health import MeterState, meter_health
from carbonstream.core.rates import SETTLE_S, rates_until, rolling_rates
from carbonstream.domain.live_energy import EnergyLive, LiveEnergy
from carbonstream.domain.live_green import GreenLive, LiveIntensity, LiveZeroCarbon
from carbonstream.localtime import LocalTime
from carbonstream.store import live as q
from carbonstream.store.db import AsyncConn

__all__ = ["SETTLE_S", "LiveHub", "LiveSnapshot", "Rate", "SiteLive"]

TREND_MINUTES = 60
MONTH_CACHE_S = 60.0  # closed days of the month are re-read at most this often
_UTC = dt.UTC


class Rate(BaseModel):
    """tCO2e per hour over the ``covered_s`` seconds of the window that have data."""

    window_s: int = Field(description="Trailing window: 60, 900 or 3600 s.")
    covered_s: int = Field(
        description="Seconds of the window the site's data covers (less than window_s while "
        "the data is younger than the window); the rates are over these seconds."
    )
    scope1_tco2e_per_h: float | None = Field(description="Scope 1 (null: no data yet).")
    scope2_location_tco2e_per_h: float | None = Field(description="Scope 2 location-based.")
    scope2_market_tco2e_per_h: float | None = Field(description="Scope 2 market-based.")
    total_tco2e_per_h: float | None = Field(description="Scope 1 + Scope 2 on the budget's basis.")


class Period(BaseModel):
    start: LocalTime = Field(description="Local day or month start.")
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float
    total_t: float = Field(description="Scope 1 + Scope 2 on the budget's basis.")
    budget_t: float | None
    used_pct: float | None = Field(description="total_t as % of budget_t.")
    projected_t: float | None = Field(
        description="Total at the end of the period if the 60-min rate holds (see "
        "projection_warming_up)."
    )
    projected_pct: float | None
    projection_covered_s: int = Field(
        description="Seconds of data under the 60-min rate the projection holds."
    )
    projection_min_covered_s: int = Field(
        default=PROJECTION_MIN_COVERED_S,
        description="Seconds of data the projection needs before it is judged (docs/forecast.md).",
    )
    projection_warming_up: bool = Field(
        description="True while projection_covered_s < projection_min_covered_s: the projection "
        "is shown as warming up, not judged against the budget."
    )
    budget_state: BudgetState | None = Field(
        description="ok; warning (used >= 80 %, or projected >= 100 % once warmed up); over "
        "(used >= 100 %); warming_up (the projection rests on too little data); null: no budget."
    )


class MeterStatus(BaseModel):
    id: str
    name: str = Field(default="", description="The meter's name in the plant file (en).")
    name_zh: str = Field(default="", description="Its Chinese name (zh-CN), if configured.")
    kind: str
    unit: str
    last_reading_at: LocalTime | None = Field(description="Newest reading, any quality.")
    quality: str | None = Field(
        description="Quality of the meter's data now: good when ok, stale when silent, the "
        "newest reading's quality when it is unusable, null when never read."
    )
    last_good_at: LocalTime | None = Field(description="Newest good reading in the account.")
    silent_s: float | None = Field(description="Seconds since the newest reading.")
    status: MeterState = Field(
        description="ok; silent (no reading for the API's silent_after_s); bad_quality (the "
        "newest reading is unusable: the gateway hears the device, the meter gives no value); "
        "no_data (never read)"
    )


class Trend(BaseModel):
    start: LocalTime
    step_s: int = 60
    total_t_per_h: list[float | None] = Field(
        description="Per complete minute, the budget-basis total as a rate (null: no data)."
    )


class SiteLive(BaseModel):
    id: str
    name: str
    name_zh: str = Field(default="", description="The site's Chinese name (zh-CN), if any.")
    basis: Literal["market", "location"] = Field(description="Scope 2 basis of the budget.")
    rates: list[Rate]
    today: Period
    month: Period
    trend: Trend
    meters: list[MeterStatus]
    zero_carbon: LiveZeroCarbon | None = Field(
        default=None, description="Net and zero-carbon status today and this month."
    )
    intensity: LiveIntensity | None = Field(
        default=None, description="tCO2e per unit of product today and this month."
    )
    energy: LiveEnergy | None = Field(
        default=None, description="Comprehensive energy in tce (GB/T 2589) today and this month."
    )


class LiveSnapshot(BaseModel):
    generated_at: LocalTime
    plant: str
    plant_zh: str = Field(default="", description="The plant's Chinese name (zh-CN), if any.")
    timezone: str
    rates_until: LocalTime = Field(description="End of the last complete minute in the rates.")
    sites: list[SiteLive]

    def change_key(self) -> str:
        """The snapshot without what changes every second by itself (for the stream)."""
        exclude: Any = {
            "generated_at": True,
            "sites": {"__all__": {"meters": {"__all__": {"silent_s"}}}},
        }
        return self.model_dump_json(exclude=exclude)


def _r(x: float) -> float:
    return float(f"{x:.6g}")


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.astimezone(_UTC)


class LiveHub:
    """Builds and shares live snapshots; closing it ends every open stream."""

    def __init__(
        self,
        plant: Plant,
        pool: Callable[[], AsyncConnectionPool[AsyncConn]],
        silent_after_s: float,
        energy: EnergyParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plant = plant
        self.silent_after_s = silent_after_s
        # The instant a snapshot is of (rates' end minute, today, ages): injected so a test
        # pins it instead of racing the minute boundary on a busy machine.
        self.clock = clock
        self._pool = pool
        self._lock = asyncio.Lock()
        self._cached: tuple[float, LiveSnapshot] | None = None
        self._month: tuple[tuple[dt.datetime, dt.datetime], float, dict[str, np.ndarray]] | None
        self._month = None
        self._data_start: dict[str, dt.datetime] = {}
        self._green = GreenLive(plant)
        self._energy = EnergyLive(energy) if energy is not None else None
        self._closing = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.streams = 0  # open streams, for tests and metrics

    # --- shutdown -----------------------------------------------------------------

    @property
    def closing(self) -> asyncio.Event:
        return self._closing

    def bind(self) -> None:
        """Remember the serving loop, so close() works from a signal handler or thread."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()

    def close(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._closing.set)
        else:
            self._closing.set()

    # --- snapshots ----------------------------------------------------------------

    async def snapshot(self, max_age_s: float = 1.0) -> LiveSnapshot:
        self.bind()
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < max_age_s:
                return self._cached[1]
            snap = await self._build(dt.datetime.fromtimestamp(self.clock(), _UTC))
            self._cached = (time.monotonic(), snap)
            return snap

    async def _build(self, now: dt.datetime) -> LiveSnapshot:
        zone = self.plant.zone
        end = rates_until(now)
        lo = end - dt.timedelta(minutes=TREND_MINUTES)
        local = now.astimezone(zone)
        day = dt.datetime(local.year, local.month, local.day, tzinfo=zone)
        next_day = day + dt.timedelta(days=1)  # wall-clock arithmetic: local midnight
        month = dt.datetime(local.year, local.month, 1, tzinfo=zone)
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        async with self._pool().connection(timeout=10) as conn:
            minutes = await (await conn.execute(q.MINUTES_SQL, {"lo": lo, "hi": end})).fetchall()
            today = await self._totals(conn, day, next_day)
            before = await self._month_before(conn, month, day)
            meters = await (await conn.execute(q.METERS_SQL)).fetchall()
            green = await self._green.load(conn, day, next_day, month)
            tce = (
                await self._energy.load(conn, day, next_day, month)
                if self._energy is not None
                else None
            )
            if any(s.id not in self._data_start for s in self.plant.sites):
                for sid, t in await (await conn.execute(q.DATA_START_SQL)).fetchall():
                    if t is not None:
                        self._data_start[sid] = t.astimezone(_UTC)
        by_site: dict[str, list[tuple[Any, ...]]] = {}
        for row in minutes:
            by_site.setdefault(row[0], []).append(row)
        meters_by_site: dict[str, dict[str, tuple[Any, ...]]] = {}
        for row in meters:
            meters_by_site.setdefault(row[1], {})[row[0]] = row
        sites = [
            self._site(
                s,
                now,
                end,
                lo,
                by_site.get(s.id, []),
                today.get(s.id, np.zeros(3)),
                before.get(s.id, np.zeros(3)),
                (day, next_day, month, next_month),
                meters_by_site.get(s.id, {}),
            )
            for s in self.plant.sites
        ]
        self._green.attach(sites, green)
        if self._energy is not None and tce is not None:
            self._energy.attach(sites, tce)
        return LiveSnapshot(
            generated_at=now,
            plant=self.plant.name,
            plant_zh=self.plant.name_zh,
            timezone=self.plant.timezone,
            rates_until=end,
            sites=sites,
        )

    async def _totals(
        self, conn: AsyncConn, lo: dt.datetime, hi: dt.datetime
    ) -> dict[str, np.ndarray]:
        rows = await (await conn.execute(q.TOTALS_SQL, {"lo": lo, "hi": hi})).fetchall()
        return {r[0]: np.array([r[1] or 0.0, r[2] or 0.0, r[3] or 0.0]) for r in rows}

    async def _month_before(
        self, conn: AsyncConn, month: dt.datetime, day: dt.datetime
    ) -> dict[str, np.ndarray]:
        """The month's closed days (cached: late data shows within MONTH_CACHE_S)."""
        key = (month, day)
        if (
            self._month is None
            or self._month[0] != key
            or (time.monotonic() - self._month[1] > MONTH_CACHE_S)
        ):
            self._month = (key, time.monotonic(), await self._totals(conn, month, day))
        return self._month[2]

    def _site(
        self,
        site: Site,
        now: dt.datetime,
        end: dt.datetime,
        lo: dt.datetime,
        rows: list[tuple[Any, ...]],
        today: np.ndarray,
        before: np.ndarray,
        bounds: tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime],
        meters: dict[str, tuple[Any, ...]],
    ) -> SiteLive:
        budget = site.budget
        basis: Literal["market", "location"] = budget.basis if budget else "market"
        col = 2 if basis == "market" else 1
        ns = np.array([int(r[1].timestamp()) * NS_PER_S for r in rows], dtype=np.int64)
        vals = np.array([[r[2], r[3], r[4]] for r in rows], dtype=np.float64).reshape(-1, 3)
        total = vals[:, 0] + vals[:, col]
        end_ns = int(end.timestamp()) * NS_PER_S
        data_start = self._data_start.get(site.id)
        start_ns = None if data_start is None else int(data_start.timestamp() * NS_PER_S)
        cols = np.column_stack([vals, total])
        rates = [
            _rate(r.window_s, r.covered_s, r.tco2e_per_h)
            for r in rolling_rates(ns, 60, cols, end_ns, start_ns)
        ]
        held = max(rates, key=lambda r: r.window_s)  # the projections hold the longest
        day, next_day, month, next_month = bounds
        trend: list[float | None] = [None] * TREND_MINUTES
        lo_ns = int(lo.timestamp()) * NS_PER_S
        for t, v in zip(ns, total, strict=True):
            i = int((t - lo_ns) // (60 * NS_PER_S))
            if 0 <= i < TREND_MINUTES:
                trend[i] = _r(float(v) * 60)
        return SiteLive(
            id=site.id,
            name=site.name,
            name_zh=site.name_zh,
            basis=basis,
            rates=rates,
            today=_period(
                (day, next_day), now, today, col, budget.daily_t if budget else None, held
            ),
            month=_period(
                (month, next_month),
                now,
                before + today,
                col,
                budget.monthly_t if budget else None,
                held,
            ),
            trend=Trend(start=lo, total_t_per_h=trend),
            meters=[
                _meter(
                    m.id, m.kind.value, m.unit, meters.get(m.id), now, self.silent_after_s
                ).model_copy(update={"name": m.name, "name_zh": m.name_zh})
                for m in self.plant.meters
                if m.site == site.id
            ],
        )


def _rate(window_s: int, covered_s: int, per_h: tuple[float, ...] | None) -> Rate:
    r = (None,) * 4 if per_h is None else tuple(_r(x) for x in per_h)
    return Rate(
        window_s=window_s,
        covered_s=covered_s,
        scope1_tco2e_per_h=r[0],
        scope2_location_tco2e_per_h=r[1],
        scope2_market_tco2e_per_h=r[2],
        total_tco2e_per_h=r[3],
    )


def _period(
    span: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    sums: np.ndarray,
    col: int,
    budget: float | None,
    held: Rate,
) -> Period:
    start, end = span
    total = float(sums[0] + sums[col])
    rate = held.total_tco2e_per_h
    projected = None
    if rate is not None:
        projected = total + rate * max(0.0, (end - now).total_seconds()) / 3600
    used_pct = 100 * total / budget if budget else None
    projected_pct = 100 * projected / budget if budget and projected is not None else None
    return Period(
        start=start,
        scope1_t=_r(float(sums[0])),
        scope2_location_t=_r(float(sums[1])),
        scope2_market_t=_r(float(sums[2])),
        total_t=_r(total),
        budget_t=budget,
        used_pct=_r(used_pct) if used_pct is not None else None,
        projected_t=_r(projected) if projected is not None else None,
        projected_pct=_r(projected_pct) if projected_pct is not None else None,
        projection_covered_s=held.covered_s,
        projection_warming_up=not projection_ready(held.covered_s),
        budget_state=None
        if used_pct is None
        else budget_state(used_pct, projected_pct, held.covered_s),
    )


def _meter(
    meter_id: str,
    kind: str,
    unit: str,
    row: tuple[Any, ...] | None,
    now: dt.datetime,
    silent_after_s: float,
) -> MeterStatus:
    last, code, good = (_utc(row[2]), row[3], _utc(row[4])) if row else (None, None, None)
    health = meter_health(last, code, now, silent_after_s)
    return MeterStatus(
        id=meter_id,
        kind=kind,
        unit=unit,
        last_reading_at=last,
        quality=health.quality,
        last_good_at=good,
        silent_s=None if health.silent_s is None else round(health.silent_s, 1),
        status=health.state,
    )
