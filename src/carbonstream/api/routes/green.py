"""Zero-carbon status, emission intensity and restated versions of the account."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import MetricsDep, PlantDep, timed
from carbonstream.api.problems import PROBLEM_RESPONSES, not_found
from carbonstream.api.selection import LiveSelectionDep, SelectionDep
from carbonstream.domain import green
from carbonstream.domain.green_model import IntensityReport, RestatementPublic, ZeroCarbonReport
from carbonstream.store import green as q

router = APIRouter(
    prefix="/v1", tags=["zero carbon, intensity, restatements"], responses=PROBLEM_RESPONSES
)


@router.get(
    "/zero-carbon",
    summary="Zero-carbon status per site and period: net = Scope 1 + Scope 2 - offsets",
    response_model=ZeroCarbonReport,
)
async def zero_carbon(
    _: Viewer, conn: Connection, plant: PlantDep, metrics: MetricsDep, sel: SelectionDep
) -> ZeroCarbonReport:
    return await green.zero_carbon_report(conn, plant, sel, partial(timed, metrics))


@router.get(
    "/intensity",
    summary="Emission intensity (tCO2e per unit of product) per site and production line",
    response_model=IntensityReport,
)
async def intensity(
    _: Viewer, conn: Connection, plant: PlantDep, metrics: MetricsDep, sel: LiveSelectionDep
) -> IntensityReport:
    return await green.intensity_report(conn, plant, sel, partial(timed, metrics))


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
