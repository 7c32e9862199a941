"""Comprehensive energy consumption in tce (GB/T 2589) per meter, line, site and plant."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    MetricsDep,
    PlantDep,
    SettingsDep,
    check_range,
    local,
    timed,
)
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.api.schemas.energy import BaselineReport, EnergyReport
from carbonstream.api.schemas.values import Instant
from carbonstream.api.selection import BucketQuery, MonthQuery
from carbonstream.core.energy import EnergyParams
from carbonstream.energy.baselines import METHOD as BASELINE_METHOD
from carbonstream.energy.stored import energy_account, stored_baselines
from carbonstream.energy.tce import Grouping, group_of
from carbonstream.i18n import Msg
from carbonstream.store.queries.series import Bucket, estimate_buckets

router = APIRouter(prefix="/v1", tags=["energy"], responses=PROBLEM_RESPONSES)


def energy_params(request: Request) -> EnergyParams:
    ep: EnergyParams = request.app.state.energy
    return ep


def period(
    start: dt.datetime | None, end: dt.datetime | None, month: str | None, zone: Any
) -> tuple[dt.datetime, dt.datetime]:
    """start..end, or a month, or (neither) the month to date."""
    if month is not None:
        if start is not None or end is not None:
            raise Problem(
                422,
                "Invalid period",
                Msg("problems.detail.start-end-or-month"),
                "invalid-period",
            )
        y, m = (int(x) for x in month.split("-"))
        return dt.datetime(y, m, 1, tzinfo=zone), dt.datetime(
            y + (m == 12), m % 12 + 1, 1, tzinfo=zone
        )
    now = dt.datetime.now(zone)
    e = local(end, zone) if end is not None else now
    s = local(start, zone) if start is not None else e.replace(day=1, hour=0, minute=0, second=0)
    if s == e:  # the first instant of a month: the month before
        s = (s - dt.timedelta(days=1)).replace(day=1)
    return s, e


@router.get(
    "/energy",
    summary="Comprehensive energy consumption in tce (GB/T 2589), both ways for electricity",
    response_model=EnergyReport,
)
async def energy(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    start: Annotated[
        Instant | None, Query(description="Start (plant-local without offset).")
    ] = None,
    end: Annotated[Instant | None, Query(description="End, exclusive (default now).")] = None,
    month: MonthQuery = None,
    bucket: BucketQuery = Bucket.DAY,
    by: Annotated[Grouping, Query(description="Rows per meter, line, site or plant.")] = (
        Grouping.SITE
    ),
) -> Any:
    ep = energy_params(request)
    s, e = period(start, end, month, plant.zone)
    check_range(s, e, settings, "period")
    names = group_of(ep, by)[0]
    n = estimate_buckets(s, e, bucket) * max(len(names), 1)
    if n > settings.max_points:
        raise Problem(
            422,
            "Too many points",
            Msg(
                "problems.detail.too-many-energy-points",
                {"n": n, "by": by.value, "bucket": bucket.value, "max": settings.max_points},
            ),
            "too-many-points",
            max_points=settings.max_points,
        )
    async with timed(metrics, "energy"):
        return await energy_account(conn, ep, s, e, bucket, by)


@router.get(
    "/baselines",
    summary="Energy baselines (ISO 50006) and savings per site and significant energy use",
    response_model=BaselineReport,
)
async def baselines(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    start: Annotated[
        Instant | None,
        Query(description="Reporting period start (default: the day after the baseline)."),
    ] = None,
    end: Annotated[Instant | None, Query(description="End, exclusive (default now).")] = None,
) -> BaselineReport:
    ep = energy_params(request)
    zone = plant.zone
    cfg = plant.energy.baseline
    e = local(end, zone) if end is not None else dt.datetime.now(zone)
    if start is not None:
        s = local(start, zone)
    elif cfg is not None:
        after = cfg.end + dt.timedelta(days=1)
        s = dt.datetime(after.year, after.month, after.day, tzinfo=zone)
    else:
        s = e - dt.timedelta(days=30)
    check_range(s, e, settings, "reporting-period")
    if cfg is not None:
        span = dt.datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=zone)
        check_range(span, e, settings, "baseline-span")
    async with timed(metrics, "baselines"):
        uses = await stored_baselines(conn, ep, s, e)
    return BaselineReport(
        start=s.isoformat(),
        end=e.isoformat(),
        timezone=plant.timezone,
        configured=cfg is not None,
        method=BASELINE_METHOD,
        uses=uses,
    )
