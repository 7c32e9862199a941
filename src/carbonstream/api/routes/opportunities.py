"""Ranked reduction opportunities found in the stored meter data."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import MetricsDep, PlantDep, local, timed
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.api.schemas.energy import FlexibleSlot, Opportunity, OpportunityList
from carbonstream.api.schemas.values import Instant
from carbonstream.core import opportunities as det
from carbonstream.core.energy import EnergyParams
from carbonstream.energy.flexible import tomorrow
from carbonstream.energy.stored import stored_opportunities
from carbonstream.i18n import Msg

router = APIRouter(prefix="/v1", tags=["energy"], responses=PROBLEM_RESPONSES)
MAX_LIMIT = 200


@router.get(
    "/opportunities",
    summary="Reduction opportunities (idle load, drift, demand peaks), ranked by tCO2e/yr",
    response_model=OpportunityList,
)
async def opportunities(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    metrics: MetricsDep,
    end: Annotated[
        Instant | None,
        Query(description="End of the window (default: now), rounded down to the hour."),
    ] = None,
    site: Annotated[str | None, Query(max_length=64, description="Only this site.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> OpportunityList:
    ep: EnergyParams = request.app.state.energy
    if site is not None and site not in {s.id for s in plant.sites}:
        raise Problem(
            404,
            "Not found",
            Msg("problems.detail.no-such", {"what": Msg("problems.noun.site"), "name": site}),
            "not-found",
        )
    e = local(end, plant.zone) if end is not None else dt.datetime.now(dt.UTC)
    if not dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= e <= dt.datetime(2100, 1, 1, tzinfo=dt.UTC):
        raise Problem(422, "Invalid range", Msg("problems.detail.end-year-range"), "invalid-range")
    e = e.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    async with timed(metrics, "opportunities"):
        found, start = await stored_opportunities(conn, ep, e)
    if site is not None:
        found = [o for o in found if o["site"] == site]
    cal = plant.energy.calendar
    return OpportunityList(
        start=start.astimezone(plant.zone).isoformat(),
        end=e.astimezone(plant.zone).isoformat(),
        timezone=plant.timezone,
        calendar="configured" if cal else "default: Mon-Fri 08:00-24:00 (no energy.calendar)",
        method=det.__doc__ or "",
        opportunities=[Opportunity.model_validate(o) for o in found[:limit]],
    )


@router.get(
    "/flexible-loads",
    summary="Lowest-emission hours tomorrow for the flexible loads (PV and PPA surplus)",
    response_model=list[FlexibleSlot],
)
async def flexible_loads(
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    metrics: MetricsDep,
    at: Annotated[
        dt.datetime | None, Query(description="Plan as of this time (default: now).")
    ] = None,
) -> list[FlexibleSlot]:
    now = local(at, plant.zone) if at is not None else dt.datetime.now(dt.UTC)
    if not dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= now <= dt.datetime(2100, 1, 1, tzinfo=dt.UTC):
        raise Problem(422, "Invalid range", Msg("problems.detail.at-year-range"), "invalid-range")
    async with timed(metrics, "flexible_loads"):
        slots = await tomorrow(conn, plant, now.astimezone(dt.UTC))
    return [FlexibleSlot.model_validate(s) for s in slots]
