"""Products, lots, bills of materials, upstream factors and footprints (ISO 14067 partial,
cradle-to-gate). Routes parse, call the footprint domain, render."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from carbonstream.api.auth import Admin, Operator, Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import PlantDep
from carbonstream.api.footprint_common import (
    CONFLICT_RESPONSE,
    TOO_LARGE_RESPONSE,
    PeriodDep,
    bounded_body,
    refused,
)
from carbonstream.api.guards import UPLOAD
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem
from carbonstream.api.schemas.values import LocalTime
from carbonstream.config.products import Product
from carbonstream.core.lots import (
    MAX_LOT_CSV_BYTES,
    MAX_LOTS_PER_REQUEST,
    Lot,
    LotIn,
    check_lots,
    parse_lot_csv,
)
from carbonstream.core.upstream import (
    MAX_BOM_CSV_BYTES,
    MAX_FACTOR_CSV_BYTES,
    MAX_ROWS,
    BomLine,
    UpstreamFactor,
    UpstreamLibrary,
    check_bom,
    parse_bom_csv,
    parse_factor_csv,
)
from carbonstream.footprint import scope3 as s3
from carbonstream.footprint import selfeval, service
from carbonstream.footprint.model import LineBalance, LotFootprint, ProductFootprint
from carbonstream.i18n import Msg, catalogue
from carbonstream.refusals import FootprintInputError
from carbonstream.store import footprint as q

router = APIRouter(prefix="/v1", tags=["footprints"], responses=PROBLEM_RESPONSES)
CSV_BODY = {
    "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
}


def _not_found(what: str, name: str) -> Problem:
    noun = f"problems.noun.{what}"
    thing: str | Msg = Msg(noun) if noun in catalogue().entries else what
    return Problem(
        404, "Not found", Msg("problems.detail.no-such", {"what": thing, "name": name}), "not-found"
    )


def _product(plant: PlantDep, product_id: str) -> Product:
    p = plant.footprint.product(product_id)
    if p is None:
        raise _not_found("product", product_id)
    return p


class ProductPublic(BaseModel):
    product: Product
    allocation: dict[str, str] = Field(description="Allocation rule of each line it is made on.")


class LotPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    product: str
    line: str
    start: LocalTime
    end: LocalTime
    quantity: float
    declared_unit: str
    given_quantity: float
    given_unit: str
    source: str


def _lot(x: Lot) -> LotPublic:
    return LotPublic(**{k: getattr(x, k) for k in LotPublic.model_fields})


class LotsCreated(BaseModel):
    created: int
    lots: list[LotPublic]


class LineAllocation(BaseModel):
    balance: LineBalance
    lots: list[LotFootprint]


class ProductPeriodPublic(BaseModel):
    footprint: ProductFootprint
    lots: list[LotFootprint]


class BomCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    valid_from: dt.date
    lines: list[BomLine] = Field(min_length=1, max_length=MAX_ROWS)


class BomPublic(BaseModel):
    product: str
    version: int
    valid_from: dt.date
    lines: list[BomLine]


class FactorsCreated(BaseModel):
    created: int
    factors: list[UpstreamFactor]


@router.get("/products", summary="Products, their lines and allocation rules")
async def list_products(_: Viewer, plant: PlantDep) -> list[ProductPublic]:
    fp = plant.footprint
    return [
        ProductPublic(product=p, allocation={ln: fp.line(ln).allocation.value for ln in p.lines})
        for p in fp.products
    ]


async def _store_lots(conn: Connection, lots: list[Lot], who: str) -> LotsCreated:
    try:
        async with conn.transaction():
            await q.insert_lots(conn, lots, who)
    except psycopg.errors.UniqueViolation:
        known = await q.known_lot_ids(conn, [x.id for x in lots])
        raise Problem(
            409,
            "Lot exists",
            Msg("problems.detail.lots-exist", {"known": known}),
            "lot-exists",
            lots=known,
        ) from None
    return LotsCreated(created=len(lots), lots=[_lot(x) for x in lots])


@router.post(
    "/lots",
    summary="Record production lots (operator)",
    status_code=201,
    response_model=LotsCreated,
    openapi_extra=UPLOAD,  # up to MAX_LOTS_PER_REQUEST lots: more than ApiLimits.body_bytes
)
async def create_lots(
    body: Annotated[list[LotIn], Body(max_length=MAX_LOTS_PER_REQUEST)],
    who: Operator,
    conn: Connection,
    plant: PlantDep,
) -> LotsCreated:
    try:
        lots = check_lots(plant, body, "api")
    except FootprintInputError as e:
        raise refused(e) from None
    return await _store_lots(conn, lots, who.label)


@router.post(
    "/lots/import",
    summary="Record production lots from a lot CSV (operator)",
    status_code=201,
    response_model=LotsCreated,
    openapi_extra={**CSV_BODY, **UPLOAD},  # bounded_body below sets the size
    responses={**CONFLICT_RESPONSE, **TOO_LARGE_RESPONSE},
)
async def import_lots(
    request: Request, who: Operator, conn: Connection, plant: PlantDep
) -> LotsCreated:
    data = await bounded_body(request, MAX_LOT_CSV_BYTES)
    try:
        lots = check_lots(plant, parse_lot_csv(data), "csv")
    except FootprintInputError as e:
        raise refused(e) from None
    return await _store_lots(conn, lots, who.label)


@router.get("/lots", summary="Lots overlapping a period")
async def list_lots(
    _: Viewer,
    conn: Connection,
    period: PeriodDep,
    product: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LOTS_PER_REQUEST)] = 1000,
) -> list[LotPublic]:
    return [_lot(x) for x in await q.list_lots(conn, product, period[0], period[1], limit)]


@router.get("/lots/{lot_id}/footprint", summary="One lot's footprint with its lineage")
async def get_lot_footprint(
    lot_id: str, _: Viewer, conn: Connection, plant: PlantDep
) -> LotFootprint:
    fp = await service.lot_footprint(conn, plant, lot_id)
    if fp is None:
        raise _not_found("lot", lot_id)
    return fp


@router.get(
    "/lines/{line}/allocation",
    summary="A line's emissions over a period, allocated to its lots (and idle minutes)",
)
async def get_line_allocation(
    line: str, _: Viewer, conn: Connection, plant: PlantDep, period: PeriodDep
) -> LineAllocation:
    if not any(m.line == line for m in plant.meters):
        raise _not_found("line", line)
    r = await service.line_balance(conn, plant, line, period[0], period[1])
    return LineAllocation(balance=r.balance, lots=r.lots)


@router.get(
    "/products/{product_id}/footprint",
    summary="A product's footprint per declared unit over a period (lots finished in it)",
)
async def get_product_footprint(
    product_id: str,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    period: PeriodDep,
    open: Annotated[
        bool,
        Query(description="Include the running shift so far (lots from a meter; provisional)."),
    ] = False,
) -> ProductPeriodPublic:
    _product(plant, product_id)
    r = await service.product_period(conn, plant, product_id, period[0], period[1], open)
    return ProductPeriodPublic(footprint=r.footprint, lots=r.lots)


@router.get("/scope3", summary="Scope 3 categories 1, 3 and 4 of a period (separate block)")
async def get_scope3(
    _: Viewer, conn: Connection, plant: PlantDep, period: PeriodDep
) -> s3.Scope3Block:
    return await s3.scope3(conn, plant, period[0], period[1])


# --- bills of materials ---------------------------------------------------------------------


async def _save_bom(
    conn: Connection,
    plant: PlantDep,
    product: str,
    valid_from: dt.date,
    lines: list[BomLine],
    who: str,
) -> BomPublic:
    _product(plant, product)
    lib = await service.library(conn, plant)
    try:
        check_bom(lines, lib, valid_from)
    except FootprintInputError as e:
        raise refused(e) from None
    async with conn.transaction():
        version = await q.insert_bom(conn, product, valid_from, lines, who)
    return BomPublic(product=product, version=version, valid_from=valid_from, lines=lines)


@router.post(
    "/products/{product_id}/bom",
    summary="A new version of a product's bill of materials (operator)",
    status_code=201,
    openapi_extra=UPLOAD,  # up to MAX_ROWS lines: more than ApiLimits.body_bytes
)
async def create_bom(
    product_id: str, body: BomCreate, who: Operator, conn: Connection, plant: PlantDep
) -> BomPublic:
    return await _save_bom(conn, plant, product_id, body.valid_from, body.lines, who.label)


@router.post(
    "/products/{product_id}/bom/import",
    summary="A new version of a product's bill of materials from CSV (operator)",
    status_code=201,
    openapi_extra={**CSV_BODY, **UPLOAD},  # bounded_body below sets the size
    responses=TOO_LARGE_RESPONSE,
)
async def import_bom(
    product_id: str,
    request: Request,
    who: Operator,
    conn: Connection,
    plant: PlantDep,
    valid_from: Annotated[dt.date, Query(description="First local day it applies to.")],
) -> BomPublic:
    data = await bounded_body(request, MAX_BOM_CSV_BYTES)
    try:
        lines = parse_bom_csv(data)
    except FootprintInputError as e:
        raise refused(e) from None
    return await _save_bom(conn, plant, product_id, valid_from, lines, who.label)


@router.get("/products/{product_id}/bom", summary="Every version of a bill of materials")
async def get_bom(product_id: str, _: Viewer, conn: Connection, plant: PlantDep) -> list[BomPublic]:
    _product(plant, product_id)
    found = (await q.boms(conn, [product_id])).get(product_id, [])
    return [
        BomPublic(
            product=b.product, version=b.version, valid_from=b.valid_from, lines=list(b.lines)
        )
        for b in found
    ]


# --- upstream factors -----------------------------------------------------------------------


async def _save_factors(
    conn: Connection, plant: PlantDep, rows: list[UpstreamFactor], who: str
) -> FactorsCreated:
    try:
        known = {(f.id, f.version) for f in (await service.library(conn, plant)).factors}
        UpstreamLibrary.of(rows)  # no two different rows with one id and version
    except FootprintInputError as e:
        raise refused(e) from None
    clash = sorted(f.ref for f in rows if (f.id, f.version) in known)
    if clash:
        raise Problem(
            409,
            "Version exists",
            Msg("problems.detail.factor-version-clash", {"clash": clash}),
            "factor-version-exists",
        )
    try:
        async with conn.transaction():
            await q.insert_factors(conn, rows, who)
    except psycopg.errors.UniqueViolation:
        raise Problem(
            409, "Version exists", Msg("problems.detail.added-meanwhile"), "factor-version-exists"
        ) from None
    return FactorsCreated(created=len(rows), factors=rows)


@router.post(
    "/upstream-factors",
    summary="Add upstream factor versions: materials, fuels, grid losses, transport (admin)",
    status_code=201,
    responses=CONFLICT_RESPONSE,
    openapi_extra=UPLOAD,  # up to MAX_ROWS factors: more than ApiLimits.body_bytes
)
async def create_factors(
    body: Annotated[list[UpstreamFactor], Body(max_length=MAX_ROWS)],
    who: Admin,
    conn: Connection,
    plant: PlantDep,
) -> FactorsCreated:
    return await _save_factors(conn, plant, body, who.label)


@router.post(
    "/upstream-factors/import",
    summary="Add upstream factor versions from CSV (admin)",
    status_code=201,
    openapi_extra={**CSV_BODY, **UPLOAD},  # bounded_body below sets the size
    responses={**CONFLICT_RESPONSE, **TOO_LARGE_RESPONSE},
)
async def import_factors(
    request: Request, who: Admin, conn: Connection, plant: PlantDep
) -> FactorsCreated:
    data = await bounded_body(request, MAX_FACTOR_CSV_BYTES)
    try:
        rows = parse_factor_csv(data)
    except FootprintInputError as e:
        raise refused(e) from None
    return await _save_factors(conn, plant, rows, who.label)


@router.get("/upstream-factors", summary="Every upstream factor version, with provenance")
async def list_factors(_: Viewer, conn: Connection, plant: PlantDep) -> list[UpstreamFactor]:
    return list((await service.library(conn, plant)).factors)


@router.get(
    "/self-evaluation",
    summary="Annual zero-carbon factory self-evaluation (indicators, criteria, marks)",
)
async def get_self_evaluation(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    year: Annotated[int, Query(ge=2000, le=2100, description="Calendar year, plant time.")],
) -> dict[str, Any]:
    return await selfeval.self_evaluation(conn, plant, year, request.app.state.energy)
