"""Sites and meters with live status: newest reading, quality, silence, live emission rates."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection, borrow
from carbonstream.api.deps import (
    CatalogDep,
    LiveDep,
    MetricsDep,
    PlantDep,
    SettingsDep,
    live_snapshot,
    meter_config,
    timed,
)
from carbonstream.api.problems import PROBLEM_RESPONSES, not_found
from carbonstream.api.schemas.sites import (
    BudgetPublic,
    ConflictPublic,
    MeterPublic,
    MeterStatus,
    SiteDetail,
    SitePublic,
)
from carbonstream.config.plant import Plant
from carbonstream.core.health import MeterState, meter_health, quality_name
from carbonstream.domain.live import LiveSnapshot
from carbonstream.store.queries import status

router = APIRouter(prefix="/v1", tags=["sites and meters"], responses=PROBLEM_RESPONSES)


def meter_public(
    row: status.MeterRow, plant: Plant, now: dt.datetime, silent_after_s: float
) -> MeterPublic:
    zone = plant.zone
    conf = meter_config(plant).get(row.id)
    last = row.last_reading_at
    health = meter_health(last, row.last_quality, now, silent_after_s)
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
            state=health.state,
            quality=health.quality,
            last_reading_at=last.astimezone(zone) if last else None,
            last_value=row.last_value,
            last_quality=None if row.last_quality is None else quality_name(row.last_quality),
            last_good_at=row.last_good_at.astimezone(zone) if row.last_good_at else None,
            seconds_silent=health.silent_s,
            silent_since=last.astimezone(zone)
            if health.state is MeterState.SILENT and last
            else None,
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
    row: status.SiteRow, meters: list[MeterPublic], snap: LiveSnapshot, plant: Plant
) -> SitePublic:
    conf = next((s for s in plant.sites if s.id == row.id), None)
    budget = conf.budget if conf else None
    live = next((s for s in snap.sites if s.id == row.id), None)
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
        rates_until=snap.rates_until.astimezone(plant.zone),
        rates=live.rates if live else [],
    )


@router.get(
    "/sites", summary="Sites with live rates and meter health", response_model=list[SitePublic]
)
async def list_sites(
    request: Request,
    _: Viewer,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    catalog: CatalogDep,
    live: LiveDep,
) -> list[SitePublic]:
    snap = await live_snapshot(live)  # before borrowing: the build needs a connection
    now = dt.datetime.now(dt.UTC)
    async with borrow(request) as conn, timed(metrics, "sites"):
        site_rows = await catalog.sites(conn)
        meter_rows = await status.meters(conn)
    out = []
    for s in site_rows:
        ms = [
            meter_public(m, plant, now, settings.silent_after_s)
            for m in meter_rows
            if m.site == s.id
        ]
        out.append(_site(s, ms, snap, plant))
    return out


@router.get(
    "/sites/{site_id}", summary="One site with its meters' live status", response_model=SiteDetail
)
async def get_site(
    site_id: str,
    request: Request,
    _: Viewer,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    catalog: CatalogDep,
    live: LiveDep,
) -> SiteDetail:
    snap = await live_snapshot(live)  # before borrowing: the build needs a connection
    now = dt.datetime.now(dt.UTC)
    async with borrow(request) as conn, timed(metrics, "site"):
        if not await catalog.site_keys(conn, [site_id]):
            raise not_found("site", site_id)
        row = next(s for s in await catalog.sites(conn) if s.id == site_id)
        meter_rows = await status.meters(conn, site=site_id)
    ms = [meter_public(m, plant, now, settings.silent_after_s) for m in meter_rows]
    base = _site(row, ms, snap, plant)
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
