"""Zero-carbon status, emission intensity and restated versions of the account."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    CatalogDep,
    EndQuery,
    MetricsDep,
    PlantDep,
    SettingsDep,
    StartQuery,
    check_range,
    period_of,
    timed,
)
from carbonstream.api.problems import PROBLEM_RESPONSES, not_found
from carbonstream.api.schemas.green import (
    Basis,
    IntensityReport,
    PeriodOut,
    RestatementPublic,
    ZeroCarbonReport,
)
from carbonstream.config.plant import Plant
from carbonstream.domain import green
from carbonstream.ledger.offsets import whole_days
from carbonstream.store import green as q

router = APIRouter(
    prefix="/v1", tags=["zero carbon, intensity, restatements"], responses=PROBLEM_RESPONSES
)

MonthQuery = Annotated[
    str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, plant time.")
]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year.")]
SitesQuery = Annotated[list[str] | None, Query(description="Site ids (default: all).")]
BasisQuery = Annotated[
    Basis | None, Query(description="Scope 2 basis (default: the plant's zero_carbon rule).")
]
VersionQuery = Annotated[
    str,
    Query(
        pattern=green.VERSION_PATTERN,
        description="'live' (default) or a restatement id (GET /v1/restatements).",
    ),
]


async def _sites(
    conn: Connection, catalog: CatalogDep, plant: Plant, site: list[str] | None
) -> tuple[dict[str, int], list[str]]:
    keys = await catalog.site_keys(conn, site)
    if site is not None:
        missing = sorted(set(site) - set(keys))
        if missing:
            raise not_found("site", ", ".join(missing))
    return keys, [x.id for x in plant.sites if x.id in keys]


def _period(s: dt.datetime, e: dt.datetime, plant: Plant) -> PeriodOut:
    zone = plant.zone
    return PeriodOut(
        start=s.astimezone(zone), end=e.astimezone(zone), hours=(e - s).total_seconds() / 3600
    )


@router.get(
    "/zero-carbon",
    summary="Zero-carbon status per site and period: net = Scope 1 + Scope 2 - offsets",
    response_model=ZeroCarbonReport,
)
async def zero_carbon(
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    metrics: MetricsDep,
    start: StartQuery = None,
    end: EndQuery = None,
    month: MonthQuery = None,
    year: YearQuery = None,
    site: SitesQuery = None,
    scope2_basis: BasisQuery = None,
    version: VersionQuery = "live",
) -> ZeroCarbonReport:
    zone = plant.zone
    s, e = period_of(start, end, month, year, zone)
    check_range(s, e, settings, "period")
    keys, sites = await _sites(conn, catalog, plant, site)
    basis: Basis = scope2_basis or plant.zero_carbon.scope2_basis
    r = await green.resolve_version(conn, version)
    async with timed(metrics, "zero_carbon"):
        sums = await green.site_sums(conn, r, [keys[x] for x in sites], s, e, zone)
        # Retirements offset whole days: those of the days wholly inside the period count.
        rets = await q.retirements_inside(conn, *whole_days(s, e, zone))
    total, per_site = green.zero_carbon_status(sums, sites, rets, basis, site is None)
    return ZeroCarbonReport(
        period=_period(s, e, plant),
        version=version,
        scope2_basis=basis,
        rule=green.ZERO_CARBON_RULE.format(basis=basis),
        total=total,
        sites=per_site,
    )


@router.get(
    "/intensity",
    summary="Emission intensity (tCO2e per unit of product) per site and production line",
    response_model=IntensityReport,
)
async def intensity(
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    metrics: MetricsDep,
    start: StartQuery = None,
    end: EndQuery = None,
    month: MonthQuery = None,
    year: YearQuery = None,
    site: SitesQuery = None,
    scope2_basis: BasisQuery = None,
) -> IntensityReport:
    zone = plant.zone
    s, e = period_of(start, end, month, year, zone)
    check_range(s, e, settings, "period")
    keys, sites = await _sites(conn, catalog, plant, site)
    basis: Basis = scope2_basis or plant.zero_carbon.scope2_basis
    site_keys = [keys[x] for x in sites]
    async with timed(metrics, "intensity"):
        sums = await q.live_sums(conn, site_keys, s, e)
        meters = await q.line_meter_keys(conn, site_keys)
        rows = await q.line_sums(conn, meters, s, e)
    return IntensityReport(
        period=_period(s, e, plant),
        scope2_basis=basis,
        sites=green.site_intensity(plant, sums, sites, basis),
        lines=green.line_intensity(plant, rows, sums, sites, basis),
        notes=green.INTENSITY_NOTES,
    )


@router.get(
    "/restatements",
    summary="Restatements: past periods recomputed with another factor set, beside the live one",
    response_model=list[RestatementPublic],
)
async def restatements(_: Viewer, conn: Connection) -> list[RestatementPublic]:
    return [green.restatement_public(r) for r in await q.restatements(conn)]


@router.get(
    "/restatements/{restatement_id}",
    summary="One restatement",
    response_model=RestatementPublic,
)
async def restatement(
    restatement_id: Annotated[int, Path(ge=1, le=999_999_999)],
    _: Viewer,
    conn: Connection,
) -> RestatementPublic:
    found = await q.restatements(conn, restatement_id)
    if not found:
        raise not_found("restatement", str(restatement_id))
    return green.restatement_public(found[0])
