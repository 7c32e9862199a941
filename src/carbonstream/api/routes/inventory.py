"""The inventory of any period as JSON, CSV or XLSX."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from carbonstream.api.auth import Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    XLSX_MEDIA,
    CatalogDep,
    Format,
    FormatQuery,
    MetricsDep,
    PlantDep,
    SettingsDep,
    check_range,
    period_of,
    timed,
    wanted_format,
)
from carbonstream.api.problems import PROBLEM_RESPONSES, not_found
from carbonstream.api.schemas.inventory import Inventory
from carbonstream.api.schemas.values import Instant
from carbonstream.domain import green
from carbonstream.domain import inventory as build
from carbonstream.footprint import scope3
from carbonstream.ledger.offsets import whole_days
from carbonstream.store import green as gq
from carbonstream.store.queries import inventory as q

router = APIRouter(prefix="/v1", tags=["inventory"], responses=PROBLEM_RESPONSES)

_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


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
    settings: SettingsDep,
    metrics: MetricsDep,
    catalog: CatalogDep,
    start: Annotated[
        Instant | None, Query(description="Period start (plant-local without an offset).")
    ] = None,
    end: Annotated[Instant | None, Query(description="Period end, exclusive.")] = None,
    month: Annotated[str | None, Query(pattern=_MONTH, description="YYYY-MM, plant time.")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year.")] = None,
    site: Annotated[list[str] | None, Query(description="Site ids (default: all).")] = None,
    scope2_basis: Annotated[
        Literal["market", "location"] | None,
        Query(
            description="Scope 2 basis of the net, zero-carbon status and intensity "
            "(default: the plant's zero_carbon rule, market-based unless configured)."
        ),
    ] = None,
    version: Annotated[
        str,
        Query(
            pattern=green.VERSION_PATTERN,
            description="'live' (default: the account ingest keeps) or a restatement id "
            "(GET /v1/restatements): its site totals for whole local days inside it.",
        ),
    ] = "live",
    format: FormatQuery = None,
) -> Any:
    fmt = wanted_format(request, format, (Format.JSON, Format.CSV, Format.XLSX))
    zone = plant.zone
    s, e = period_of(start, end, month, year, zone)
    check_range(s, e, settings, "period")
    keys = await catalog.site_keys(conn, site)
    if site is not None:
        missing = sorted(set(site) - set(keys))
        if missing:
            raise not_found("site", ", ".join(missing))
    sites = [x.id for x in plant.sites if x.id in keys]
    first_day = s.astimezone(zone).date()
    last_day = (e - dt.timedelta(microseconds=1)).astimezone(zone).date()
    basis: Literal["market", "location"] = scope2_basis or plant.zero_carbon.scope2_basis
    restatement = await green.resolve_version(conn, version)
    async with timed(metrics, "inventory"):
        # Retirements offset whole days: those of the days wholly inside the period count.
        stored = await q.load(
            conn, [keys[x] for x in sites], site is None, s, e, *whole_days(s, e, zone)
        )
        if restatement is not None:
            green.restated_days(restatement, s, e, zone)
            stored.site_sums = await gq.restated_sums(
                conn, restatement.id, [keys[x] for x in sites], first_day, last_day
            )
    inv = build.build(
        stored,
        plant,
        request.app.state.params,
        s,
        e,
        sites,
        basis,
        restatement,
        request.app.state.library,
        site is None,
    )
    if restatement is None and site is None:  # Scope 3 is plant-wide, of the live account
        block = await scope3.scope3(conn, plant, s, e)
        inv = inv.model_copy(update={"scope3": scope3.with_net(block, inv.net.net_t)})
    name = f"inventory-{first_day.isoformat()}-{last_day.isoformat()}"
    if restatement is not None:
        name += f"-restatement-{restatement.id}"
    if fmt is Format.CSV:
        return build.to_csv(inv, name + ".csv")
    if fmt is Format.XLSX:
        return build.to_xlsx(inv, name + ".xlsx")
    return inv
