"""Ranked reduction opportunities found in the stored meter data."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import MetricsDep, PlantDep, local, timed
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.api.schemas.energy import Opportunity, OpportunityList
from carbonstream.api.schemas.values import Instant
from carbonstream.core import opportunities as det
from carbonstream.core.energy import EnergyParams
from carbonstream.energy.stored import stored_opportunities

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
        raise Problem(404, "Not found", f"no site {site!r}", "not-found")
    e = local(end, plant.zone) if end is not None else dt.datetime.now(dt.UTC)
    if not dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= e <= dt.datetime(2100, 1, 1, tzinfo=dt.UTC):
        raise Problem(422, "Invalid range", "end must be between 2000 and 2100", "invalid-range")
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
