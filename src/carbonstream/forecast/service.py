"""Forecasts from the database: fit on a site's stored history, project its periods.

Shared by the API (``GET /v1/forecast``, read by the live page) and the alert
service (``forecast_total`` rules). For an instant ``now``:

- the **cut** is the last quarter-hour boundary at least :data:`SETTLE_S`
  before ``now`` (readings reach the database a few seconds after their source
  time: a quarter still filling is not history yet);
- the **history** is the site's stored quarter-hours in the
  :data:`HISTORY_WEEKS` weeks before the cut (``site_minute``), from its first
  quarter with data; at least one week is needed;
- the model is :func:`carbonstream.forecast.model.fit_auto` on that history,
  cached per (site, measure, cut) for :data:`REFIT_S` (late data into the last
  quarter-hours is picked up by the next refit); the fit runs in a worker
  thread, off the event loop;
- each period's **actual** is the stored total from its plant-local start to
  the cut, its **forecast** the model's sum from the cut to its end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Sequence

from carbonstream.config.plant import Plant
from carbonstream.forecast.model import NS, HoltWintersWeekly
from carbonstream.forecast.projection import (
    PERIODS,
    History,
    Projection,
    fit,
    period_bounds,
    project,
    quarter_floor,
)
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import forecast as q

HISTORY_WEEKS = 8
SETTLE_S = 60
REFIT_S = 60.0
_BUDGET_FIELD = {"day": "daily_t", "month": "monthly_t", "year": "yearly_t"}


def utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC)


class Forecaster:
    def __init__(
        self,
        plant: Plant,
        history_weeks: int = HISTORY_WEEKS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zone = plant.zone
        self.sites = {s.id: s for s in plant.sites}
        self.history_weeks = history_weeks
        self.clock = clock
        self._fits: dict[tuple[str, str], tuple[int, float, HoltWintersWeekly, History]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def cut(self, now: float) -> int:
        return quarter_floor(now - SETTLE_S)

    def budget_measure(self, site: str) -> str:
        """The measure a site's budget is on: Scope 1 + Scope 2 of its basis."""
        budget = self.sites[site].budget
        return (
            "total_location"
            if budget is not None and budget.basis == "location"
            else ("total_market")
        )

    def budget(self, site: str, measure: str, period: str) -> float | None:
        """The site's budget for the period, if it is on this measure's basis."""
        budget = self.sites[site].budget
        if budget is None or measure != self.budget_measure(site):
            return None
        amount: float | None = getattr(budget, _BUDGET_FIELD[period])
        return amount

    async def model(
        self, conn: AsyncConn, site: str, measure: str, cut_ns: int
    ) -> tuple[HoltWintersWeekly, History]:
        key = (site, measure)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._fits.get(key)
            if hit is not None and hit[0] == cut_ns and time.monotonic() - hit[1] < REFIT_S:
                return hit[2], hit[3]
            lo = cut_ns - self.history_weeks * 7 * 86_400 * NS
            rows = await q.quarters(conn, site, measure, utc(lo), utc(cut_ns))
            history = History.from_rows(rows, cut_ns)
            model = await asyncio.to_thread(fit, history, self.zone)
            self._fits[key] = (cut_ns, time.monotonic(), model, history)
            return model, history

    async def project(
        self,
        conn: AsyncConn,
        site: str,
        measure: str,
        now: float | None = None,
        horizon: int = 96,
        periods: Sequence[str] = PERIODS,
    ) -> Projection:
        """Raises NotEnoughHistoryError when the site has under a week of stored quarter-hours."""
        if site not in self.sites:
            raise KeyError(site)
        cut = self.cut(self.clock() if now is None else now)
        model, history = await self.model(conn, site, measure, cut)
        actuals = {}
        for p in periods:
            start, _ = period_bounds(cut, self.zone, p)
            actuals[p] = await q.total(conn, site, measure, utc(start), utc(cut))
        budgets = {p: self.budget(site, measure, p) for p in periods}
        return project(model, history, self.zone, cut, horizon, actuals, budgets)
