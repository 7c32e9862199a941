"""Forecasts: a site's next hours and its projected day, month and year against budget."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from carbonstream.alerts.rules import Measure
from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import MetricsDep, PlantDep, ReaderLocale, timed
from carbonstream.api.problems import PROBLEM_RESPONSES, not_found
from carbonstream.api.schemas.forecast import (
    ForecastMethod,
    ForecastPoint,
    PeriodForecast,
    SiteForecast,
)
from carbonstream.forecast.model import NS, SLOTS_PER_WEEK, STEP_S
from carbonstream.forecast.projection import NotEnoughHistoryError, Projection
from carbonstream.forecast.service import Forecaster

router = APIRouter(prefix="/v1", tags=["forecast"], responses=PROBLEM_RESPONSES)

MAX_HORIZON_H = 168
NEEDED_DAYS = SLOTS_PER_WEEK * STEP_S / 86400


def _forecaster(request: Request) -> Forecaster:
    f: Forecaster = request.app.state.forecaster
    return f


def _r(x: float) -> float:
    return float(f"{x:.6g}")


def _at(ns: int, zone: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / NS, zone)


def public(
    p: Projection, site: str, scope: str, horizon_h: int, zone: Any, now: float
) -> SiteForecast:
    m, h = p.model, p.history
    periods = []
    for x in p.periods.values():
        pct = 100 * x.projected_t / x.budget_t if x.budget_t else None
        periods.append(
            PeriodForecast(
                period=x.period,
                start=_at(x.start_ns, zone),
                end=_at(x.end_ns, zone),
                actual_t=_r(x.actual_t),
                forecast_t=_r(x.forecast_t),
                projected_t=_r(x.projected_t),
                budget_t=x.budget_t,
                projected_pct=_r(pct) if pct is not None else None,
                budget_reached_at=_at(x.reached_ns, zone) if x.reached_ns is not None else None,
            )
        )
    return SiteForecast(
        site=site,
        scope=scope,
        timezone=str(zone),
        generated_at=dt.datetime.fromtimestamp(now, zone),
        status="ok",
        history_days=round(h.span_s / 86400, 2),
        needed_days=NEEDED_DAYS,
        actual_until=_at(p.cut_ns, zone),
        horizon_h=horizon_h,
        method=ForecastMethod(
            name=m.method,
            model=m.name,
            season=f"weekly: {SLOTS_PER_WEEK} quarter-hours of the plant-local week",
            alpha=m.alpha,
            gamma=m.gamma,
            chosen_by=m.chosen_by,
            day_ahead_mape_pct=_r(m.history_mape_pct) if m.history_mape_pct is not None else None,
            history_start=_at(h.start_ns, zone),
            history_end=_at(h.end_ns, zone),
            history_days=round(h.span_s / 86400, 2),
            history_quarters=h.with_data,
            history_missing=len(h.y) - h.with_data,
        ),
        next_t=_r(float(p.next.values.sum())),
        points=[
            ForecastPoint(start=_at(int(t), zone), t=_r(float(v)))
            for t, v in zip(p.next.ts_ns, p.next.values, strict=True)
        ],
        periods=periods,
    )


@router.get(
    "/forecast",
    summary="A site's forecast: the next hours (15 min) and projected day, month, year totals",
    description=(
        "Holt-Winters exponential smoothing with a weekly season of 672 plant-local "
        "quarter-hours (additive or multiplicative), fitted on the site's last 8 weeks of "
        "stored data with the form and smoothing constants that forecast that history's days "
        "best. Each period's projected total is "
        "what is stored up to `actual_until` plus the forecast from there to the period's end, "
        "against the site's budget when the scope is the budget's basis. Needs a week of "
        "history (before: status insufficient_history, no figures). See docs/forecast.md."
    ),
    response_model=SiteForecast,
)
async def site_forecast(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    metrics: MetricsDep,
    locale: ReaderLocale,
    site: Annotated[str, Query(description="Site id.", max_length=64)],
    scope: Annotated[
        Measure | None,
        Query(description="What to forecast (default: Scope 1 + 2 on the budget's basis)."),
    ] = None,
    horizon: Annotated[
        int, Query(ge=1, le=MAX_HORIZON_H, description="Hours ahead at 15-minute resolution.")
    ] = 24,
) -> SiteForecast:
    f = _forecaster(request)
    if site not in f.sites:
        raise not_found("site", site)
    measure = scope.value if scope is not None else f.budget_measure(site)
    now = f.clock()
    try:
        async with timed(metrics, "forecast"):
            p = await f.project(conn, site, measure, now, horizon=horizon * 3600 // STEP_S)
    except NotEnoughHistoryError as e:
        zone = plant.zone
        return SiteForecast(
            site=site,
            scope=measure,
            timezone=str(zone),
            generated_at=dt.datetime.fromtimestamp(now, zone),
            status="insufficient_history",
            detail=e.detail.render(locale),  # read by people: their language
            history_days=round(e.have_s / 86400, 2),
            needed_days=NEEDED_DAYS,
            actual_until=_at(f.cut(now), zone),
            horizon_h=horizon,
            method=None,
            next_t=None,
            points=[],
            periods=[],
        )
    return public(p, site, measure, horizon, plant.zone, now)
