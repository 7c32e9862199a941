"""What each rule watches, read from the database at a given instant ``now``.

Every signal is computed for an explicit ``now`` (unix seconds), never the
database's clock, so a replayed stream with a fake clock gives the same
answers as live data.

- **rate** (tCO2e/h): the rule's measure summed over ``site_minute`` in the
  trailing ``window_s`` of *complete* minutes, over the seconds of the window
  the site's data covers (from its first reading): the live page's rate, by the
  same function (:func:`carbonstream.core.rates.rolling_rates`), so a young
  site is not read low. The window ends at the last minute boundary at least
  ``settle_s`` before ``now``, so a minute ingest is still filling is not read
  as a drop. No ``site_minute`` row in the window: no value (the rule keeps its
  state; a silent meter is the meter_silence and coverage rules' business).
- **total** (tCO2e): the measure summed from the start of the day, month or
  year in the plant's time zone up to ``now`` (the current minute included).
- **projected_total** (tCO2e): total + max(rate, 0) × hours left to the end of
  the period (rate over the rule's ``window_s``; no rate: the total alone).
- **forecast_total** (tCO2e): the site's total from the start of the period to
  the last settled quarter-hour + its forecast from there to the end of the
  period (:mod:`carbonstream.forecast.service`: additive Holt-Winters with a
  weekly season, fitted on the site's last 8 weeks). Unlike projected_total it
  knows that nights and weekends are quiet, so it sees a month's budget breach
  days ahead without crying wolf at every busy hour. Under a week of history:
  no value (the rule keeps its state).
- **meter_silence** (s): ``now`` minus the meter's newest good reading
  (``meter_state.last_ts_ns``); a meter that never reported counts from the
  start of the alert service.
- **coverage** (%): over the same trailing window as rate, the seconds covered
  by counted intervals (``emission_lines.covered_s``, at most the window per
  meter) of the site's meters, over meters × window.
- **idle_load**, **drift** (tCO2e/yr): the meter's finding of that kind among the
  reduction opportunities of the window ending at the hour before ``now``
  (:mod:`carbonstream.energy.opportunities`), 0 when there is none. The
  detectors run once per hour of ``now`` (hourly data), not at every evaluation.

Measures: scope1, scope2_location, scope2_market (heat included in both Scope 2
columns), total_location = scope1 + scope2_location, total_market = scope1 +
scope2_market.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, assert_never
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from carbonstream.alerts.engine import projected_total
from carbonstream.alerts.rules import AlertRule, AlertsConfig, Measure, RuleKind
from carbonstream.config.plant import Plant
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.calendar import period_span
from carbonstream.core.energy import EnergyParams
from carbonstream.core.energy import for_plant as energy_params
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import build_params
from carbonstream.core.rates import rolling_rates
from carbonstream.energy.stored import stored_opportunities
from carbonstream.forecast.projection import NotEnoughHistoryError
from carbonstream.forecast.service import Forecaster
from carbonstream.store import live as live_queries

AsyncConn = psycopg.AsyncConnection[TupleRow]
# What a memo key computes: a name not listed here fails (assert_never), never coverage.
SignalKind = Literal["rate", "total", "forecast", "silence", "coverage"]

MEASURE_SQL: dict[Measure, str] = {
    Measure.SCOPE1: "scope1_t",
    Measure.SCOPE2_LOCATION: "scope2_location_t",
    Measure.SCOPE2_MARKET: "scope2_market_t",
    Measure.TOTAL_LOCATION: "scope1_t + scope2_location_t",
    Measure.TOTAL_MARKET: "scope1_t + scope2_market_t",
}

UNITS: dict[RuleKind, str] = {
    RuleKind.RATE: "tCO2e/h",
    RuleKind.TOTAL: "tCO2e",
    RuleKind.PROJECTED_TOTAL: "tCO2e",
    RuleKind.FORECAST_TOTAL: "tCO2e",
    RuleKind.METER_SILENCE: "s",
    RuleKind.COVERAGE: "%",
    RuleKind.IDLE_LOAD: "tCO2e/yr",
    RuleKind.DRIFT: "tCO2e/yr",
}


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def period_bounds(now: float, zone: ZoneInfo, period: str) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (exclusive) of the plant-local day, month or year holding ``now``."""
    start, end = period_span(now, zone, period)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def window_bounds(now: float, window_s: int, settle_s: float) -> tuple[dt.datetime, dt.datetime]:
    """The trailing window of complete minutes: [end - window, end)."""
    end = (now - settle_s) // 60 * 60
    return utc(end - window_s), utc(end)


def _site_filter(site: str | None) -> sql.Composable:
    if site is None:
        return sql.SQL("")
    return sql.SQL(" AND site = (SELECT key FROM sites WHERE id = {})").format(sql.Literal(site))


class Signals:
    """Computes every rule's value for one evaluation; identical queries run once."""

    def __init__(
        self,
        config: AlertsConfig,
        plant: Plant,
        started: float,
        forecaster: Forecaster | None = None,
    ) -> None:
        self.config = config
        self.zone = plant.zone
        self.started = started
        self.site_meters = {
            s.id: [m.id for m in plant.meters if m.site == s.id] for s in plant.sites
        }
        self.forecaster = forecaster if forecaster is not None else Forecaster(plant)
        self.plant = plant
        self._energy: EnergyParams | None = None
        self._findings: tuple[dt.datetime, dict[tuple[str, str], float]] | None = None
        self._data_start: dict[str, dt.datetime] = {}  # site -> its first reading

    async def values(self, conn: AsyncConn, now: float) -> dict[str, float | None]:
        cache: dict[tuple[Any, ...], float | None] = {}
        out: dict[str, float | None] = {}
        for rule in self.config.rules:
            out[rule.id] = await self.value(conn, rule, now, cache)
        return out

    async def value(
        self,
        conn: AsyncConn,
        rule: AlertRule,
        now: float,
        cache: dict[tuple[Any, ...], float | None] | None = None,
    ) -> float | None:
        memo = {} if cache is None else cache

        async def get(*key: Any) -> float | None:
            if key not in memo:
                memo[key] = await self._compute(conn, key, now)
            v: float | None = memo[key]
            return v

        match rule.kind:
            case RuleKind.RATE:
                return await get("rate", rule.site, rule.measure, rule.window_s)
            case RuleKind.TOTAL:
                return await get("total", rule.site, rule.measure, rule.period)
            case RuleKind.PROJECTED_TOTAL:
                total = await get("total", rule.site, rule.measure, rule.period)
                rate = await get("rate", rule.site, rule.measure, rule.window_s)
                if total is None:
                    return None
                _, end = period_bounds(now, self.zone, rule.period)
                return projected_total(total, rate or 0.0, now, end.timestamp())
            case RuleKind.FORECAST_TOTAL:
                return await get("forecast", rule.site, rule.measure, rule.period)
            case RuleKind.METER_SILENCE:
                return await get("silence", rule.meter)
            case RuleKind.COVERAGE:
                return await get("coverage", rule.site, rule.window_s)
            case RuleKind.IDLE_LOAD | RuleKind.DRIFT:
                assert rule.meter is not None  # checked by the model
                found = await self._opportunities(conn, now)
                return found.get((rule.kind.value, rule.meter), 0.0)
            case _:
                assert_never(rule.kind)

    async def _opportunities(self, conn: AsyncConn, now: float) -> dict[tuple[str, str], float]:
        """(kind, meter) -> tCO2e/yr of the window ending at the hour of ``now``."""
        end = utc(now // 3600 * 3600)
        if self._findings is None or self._findings[0] != end:
            if self._energy is None:
                lib = FactorLibrary.load(self.plant.factor_files)
                units = build_params(self.plant, lib).canonical_unit
                self._energy = energy_params(self.plant, units)
            found, _ = await stored_opportunities(conn, self._energy, end)
            self._findings = (
                end,
                {(o["kind"], o["meter"]): o["tco2e_per_year"] for o in found if o["meter"]},
            )
        return self._findings[1]

    async def _first_reading(self, conn: AsyncConn, site: str | None) -> dt.datetime | None:
        """When the site's data (the plant's, for None) begins: its meters' first reading."""
        wanted = list(self.site_meters) if site is None else [site]
        if any(s not in self._data_start for s in wanted):  # until every site has data
            for sid, t in await (await conn.execute(live_queries.DATA_START_SQL)).fetchall():
                if t is not None:
                    self._data_start[str(sid)] = t
        known = [self._data_start[s] for s in wanted if s in self._data_start]
        return min(known) if known else None

    async def _compute(self, conn: AsyncConn, key: tuple[Any, ...], now: float) -> float | None:
        what: SignalKind = key[0]
        match what:
            case "rate":
                _, site, measure, window_s = key
                start, end = window_bounds(now, window_s, self.config.settle_s)
                q = sql.SQL(
                    "SELECT bucket, coalesce(sum({m}), 0) FROM site_minute"
                    " WHERE bucket >= %s AND bucket < %s{site} GROUP BY bucket"
                ).format(m=sql.SQL(MEASURE_SQL[measure]), site=_site_filter(site))
                rows = await (await conn.execute(q, (start, end))).fetchall()
                if not rows:
                    return None
                first = await self._first_reading(conn, site)
                (rate,) = rolling_rates(
                    np.array([int(r[0].timestamp()) * NS_PER_S for r in rows], dtype=np.int64),
                    60,
                    np.array([float(r[1]) for r in rows]),
                    int(end.timestamp()) * NS_PER_S,
                    None if first is None else int(first.timestamp() * NS_PER_S),
                    (window_s,),
                )
                return None if rate.tco2e_per_h is None else rate.tco2e_per_h[0]
            case "total":
                _, site, measure, period = key
                start, _ = period_bounds(now, self.zone, period)
                q = sql.SQL(
                    "SELECT coalesce(sum({m}), 0) FROM site_minute"
                    " WHERE bucket >= %s AND bucket < %s{site}"
                ).format(m=sql.SQL(MEASURE_SQL[measure]), site=_site_filter(site))
                row = await (await conn.execute(q, (start, utc(now)))).fetchone()
                assert row is not None
                return float(row[0])
            case "forecast":
                _, site, measure, period = key
                try:
                    p = await self.forecaster.project(
                        conn, site, measure.value, now, horizon=1, periods=(period,)
                    )
                except NotEnoughHistoryError:
                    return None
                return p.periods[period].projected_t
            case "silence":
                row = await (
                    await conn.execute(
                        "SELECT s.last_ts_ns FROM meter_state s JOIN meters m ON m.key = s.meter"
                        " WHERE m.id = %s",
                        (key[1],),
                    )
                ).fetchone()
                last = self.started if row is None or row[0] is None else int(row[0]) / 1e9
                return max(0.0, now - last)
            case "coverage":
                _, site, window_s = key
                meters = self.site_meters.get(site, [])
                if not meters:
                    return None
                start, end = window_bounds(now, window_s, self.config.settle_s)
                row = await (
                    await conn.execute(
                        "SELECT coalesce(sum(least(c, %s)), 0) FROM ("
                        " SELECT sum(e.covered_s) AS c FROM emission_lines e"
                        " WHERE e.meter IN (SELECT key FROM meters WHERE id = ANY(%s))"
                        " AND e.bucket >= %s AND e.bucket < %s GROUP BY e.meter) AS per_meter",
                        (float(window_s), meters, start, end),
                    )
                ).fetchone()
                assert row is not None
                return 100.0 * float(row[0]) / (len(meters) * float(window_s))
            case _:
                assert_never(what)
