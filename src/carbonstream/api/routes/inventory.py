"""The inventory of any period as JSON, CSV or XLSX."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    XLSX_MEDIA,
    Format,
    FormatQuery,
    MetricsDep,
    PlantDep,
    timed,
    wanted_format,
)
from carbonstream.api.problems import PROBLEM_RESPONSES
from carbonstream.api.render import sections_csv, xlsx_response
from carbonstream.api.selection import SelectionDep
from carbonstream.domain import inventory
from carbonstream.domain.inventory_model import Inventory
from carbonstream.domain.inventory_tables import sections

router = APIRouter(prefix="/v1", tags=["inventory"], responses=PROBLEM_RESPONSES)


@router.get(
    "/inventory",
    summary="Inventory of a period: scopes, exports, activity, factors, instruments, net",
    response_model=Inventory,
    responses={
        200: {
            "description": "The inventory",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def get_inventory(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    metrics: MetricsDep,
    sel: SelectionDep,
    format: FormatQuery = None,
) -> Any:
    fmt = wanted_format(request, format, (Format.JSON, Format.CSV, Format.XLSX))
    state = request.app.state
    inv = await inventory.assemble(
        conn, plant, state.params, state.library, sel, partial(timed, metrics)
    )
    zone = plant.zone
    first_day = sel.start.astimezone(zone).date()
    last_day = (sel.end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    name = f"inventory-{first_day.isoformat()}-{last_day.isoformat()}"
    if inv.version.restatement is not None:
        name += f"-restatement-{inv.version.restatement.id}"
    if fmt is Format.CSV:
        return sections_csv(sections(inv), name + ".csv")
    if fmt is Format.XLSX:
        return xlsx_response(sections(inv), name + ".xlsx")
    return inv
