"""Sites and meters with live status: newest reading, quality, silence, live emission rates."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import CatalogDep, MetricsDep, PlantDep, SettingsDep, meter_config, timed
from carbonstream.api.problems import PROBLEM_RESPONSES, not_found
from carbonstream.api.schemas.sites import (
    BudgetPublic,
    ConflictPublic,
    MeterPublic,
    MeterState,
    MeterStatus,
    Rates,
    SiteDetail,
    SitePublic,
)
from carbonstream.config.plant import Plant
from carbonstream.core import plausible
from carbonstream.store.queries import status
from carbonstream.transport.payload import Quality

router = APIRouter(prefix="/v1", tags=["sites and meters"], responses=PROBLEM_RESPONSES)
_QUALITIES = list(Quality)


def meter_public(
    row: status.MeterRow, plant: Plant, now: dt.datetime, silent_after_s: float
) -> MeterPublic:
    zone = plant.zone
    conf = meter_config(plant).get(row.id)
    last = row.last_reading_at
    silent_s = None if last is None else max(0.0, (now - last).total_seconds())
    if last is None:
        state = MeterState.NO_DATA
    elif silent_s is not None and silent_s > silent_after_s:
        state = MeterState.SILENT
    elif row.last_quality:
        state = MeterState.BAD_QUALITY
    else:
        state = MeterState.OK
    quality = None
    if row.last_quality is not None:
        q = row.last_quality
        quality = (
            _QUALITIES[q].value
            if 0 <= q < len(_QUALITIES)
            else plausible.QUALITY_NAMES.get(q, str(q))
        )
    return MeterPublic(
        id=row.id,
        site=row.site,
        kind=row.kind,
        measures=row.measures,
        unit=row.unit,
        scope=conf.effective_scope if conf else None,
        fuel=conf.fuel if conf and conf.fuel else None,
        description=conf.description if conf else "",
        status=MeterStatus(
            state=state,
            last_reading_at=last.astimezone(zone) if last else None,
            last_value=row.last_value,
            last_quality=quality,
            last_good_at=row.last_good_at.astimezone(zone) if row.last_good_at else None,
            seconds_silent=silent_s,
            silent_since=last.astimezone(zone) if state is MeterState.SILENT and last else None,
            conflicts=row.conflicts,
            last_conflict=_conflict(row.last_conflict, plant),
            implausible_readings=row.implausible,
        ),
    )


def _conflict(c: status.Conflict | None, plant: Plant) -> ConflictPublic | None:
    if c is None:
        return None
    zone = plant.zone
    return ConflictPublic(
        at=c.ts.astimezone(zone),
        stored_value=c.stored_value,
        value=c.value,
        seen_at=c.seen_at.astimezone(zone),
    )


def _site(
    row: status.SiteRow,
    meters: list[MeterPublic],
    rates: tuple[float, float, float],
    plant: Plant,
    now: dt.datetime,
) -> SitePublic:
    conf = next((s for s in plant.sites if s.id == row.id), None)
    budget = conf.budget if conf else None
    start, end = status.rate_window(now)
    lasts = [m.status.last_reading_at for m in meters if m.status.last_reading_at]
    return SitePublic(
        id=row.id,
        name=row.name,
        grid_region=row.grid_region,
        budget=BudgetPublic(**budget.model_dump()) if budget else None,
        meters=len(meters),
        meters_silent=sum(m.status.state is MeterState.SILENT for m in meters),
        meters_bad_quality=sum(m.status.state is MeterState.BAD_QUALITY for m in meters),
        last_reading_at=max(lasts) if lasts else None,
        rates=Rates(
            scope1_t_per_h=rates[0],
            scope2_location_t_per_h=rates[1],
            scope2_market_t_per_h=rates[2],
            window_start=start.astimezone(plant.zone),
            window_end=end.astimezone(plant.zone),
        ),
    )


@router.get(
    "/sites", summary="Sites with live rates and meter health", response_model=list[SitePublic]
)
async def list_sites(
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    catalog: CatalogDep,
) -> list[SitePublic]:
    now = dt.datetime.now(dt.UTC)
    async with timed(metrics, "sites"):
        site_rows = await catalog.sites(conn)
        meter_rows = await status.meters(conn)
        rates = await status.rates(conn, now)
    out = []
    for s in site_rows:
        ms = [
            meter_public(m, plant, now, settings.silent_after_s)
            for m in meter_rows
            if m.site == s.id
        ]
        out.append(_site(s, ms, rates.get(s.id, (0.0, 0.0, 0.0)), plant, now))
    return out


@router.get(
    "/sites/{site_id}", summary="One site with its meters' live status", response_model=SiteDetail
)
async def get_site(
    site_id: str,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    catalog: CatalogDep,
) -> SiteDetail:
    now = dt.datetime.now(dt.UTC)
    async with timed(metrics, "site"):
        if not await catalog.site_keys(conn, [site_id]):
            raise not_found("site", site_id)
        row = next(s for s in await catalog.sites(conn) if s.id == site_id)
        meter_rows = await status.meters(conn, site=site_id)
        rates = await status.rates(conn, now)
    ms = [meter_public(m, plant, now, settings.silent_after_s) for m in meter_rows]
    base = _site(row, ms, rates.get(site_id, (0.0, 0.0, 0.0)), plant, now)
    return SiteDetail(**base.model_dump(), meter_status=ms)


@router.get("/meters", summary="Meters with live status", response_model=list[MeterPublic])
async def list_meters(
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    site: str | None = None,
) -> list[MeterPublic]:
    now = dt.datetime.now(dt.UTC)
    async with timed(metrics, "meters"):
        rows = await status.meters(conn, site=site)
    return [meter_public(m, plant, now, settings.silent_after_s) for m in rows]


@router.get("/meters/{meter_id}", summary="One meter's live status", response_model=MeterPublic)
async def get_meter(
    meter_id: str,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> MeterPublic:
    now = dt.datetime.now(dt.UTC)
    async with timed(metrics, "meter"):
        rows = await status.meters(conn, meter=meter_id)
    if not rows:
        raise not_found("meter", meter_id)
    return meter_public(rows[0], plant, now, settings.silent_after_s)
