"""Contracts (certificates, green-power trades, PPAs) and their allocations to consumption.

The allocation itself (the ledger rules, the claim, the restatement of the minutes
it covers) is :mod:`carbonstream.domain.allocation`; here a claim is parsed, a
deadlock retried, and a concurrent double claim answered with 409.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from fastapi import APIRouter, Response

from carbonstream.api.auth import Admin, Operator, Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import BoundsDep, PlantDep, parse_serials, today
from carbonstream.api.problems import (
    CONFLICT,
    PROBLEM_RESPONSES,
    Problem,
    conflict,
    implausible,
    not_found,
)
from carbonstream.api.schemas.ledger import (
    AllocationCreate,
    AllocationPublic,
    AllocationResult,
    ContractCreate,
    ContractPublic,
    ContractType,
    DateRange,
    Restatement,
)
from carbonstream.config.plant import Plant
from carbonstream.domain import allocation
from carbonstream.domain.allocation import Claim
from carbonstream.i18n import Msg
from carbonstream.ledger import Certificate
from carbonstream.store import ledger

router = APIRouter(prefix="/v1", tags=["contracts"], responses=PROBLEM_RESPONSES)
_RETRY = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def plant_market(plant: Plant) -> str:
    return plant.grid_region.split("-")[0]


def _allocation(a: ledger.AllocationRow) -> AllocationPublic:
    return AllocationPublic(
        instrument=a.instrument,
        contract=a.contract,
        serials=str(a.serials),
        mwh=float(a.serials.count),
        site=a.site,
        period=DateRange(start=a.period_start, end=a.period_end),
        allocated_on=a.allocated_on,
        used_mwh=a.used_mwh,
        created_at=a.created_at,
        created_by=a.created_by,
    )


def _public(c: ledger.ContractRow, allocs: list[ledger.AllocationRow]) -> ContractPublic:
    mine = [a for a in allocs if a.contract == c.id]
    allocated = float(sum(a.serials.count for a in mine))
    return ContractPublic(
        id=c.id,
        type=ContractType(c.type),
        serials=str(c.serials),
        mwh=float(c.serials.count),
        generation=DateRange(start=c.generation_start, end=c.generation_end),
        valid_until=allocation.certificate(c).valid_until,
        market=c.market,
        emission_factor_t_per_mwh=c.ef_t_per_mwh,
        project=c.project,
        source=c.source,
        allocated_mwh=allocated,
        unallocated_mwh=c.serials.count - allocated,
        allocations=[_allocation(a) for a in mine],
        created_at=c.created_at,
        created_by=c.created_by,
    )


@router.get(
    "/contracts",
    summary="Certificates, green-power trades and PPAs held",
    response_model=list[ContractPublic],
)
async def list_contracts(_: Viewer, conn: Connection) -> list[ContractPublic]:
    allocs = await ledger.allocations(conn)
    return [_public(c, allocs) for c in await ledger.contracts(conn)]


@router.get(
    "/contracts/{contract_id}",
    summary="One contract and its allocations",
    response_model=ContractPublic,
)
async def get_contract(contract_id: str, _: Viewer, conn: Connection) -> ContractPublic:
    found = await ledger.contracts(conn, contract_id)
    if not found:
        raise not_found("contract", contract_id)
    return _public(found[0], await ledger.allocations(conn, contract_id))


@router.post(
    "/contracts",
    summary="Register a contract held (operator)",
    response_model=ContractPublic,
    status_code=201,
    responses=CONFLICT,
)
async def create_contract(
    body: ContractCreate, who: Operator, conn: Connection, plant: PlantDep, bounds: BoundsDep
) -> ContractPublic:
    serials = parse_serials(body.serials)
    if body.mwh is not None and body.mwh != serials.count:
        raise Problem(
            422,
            "Invalid contract",
            Msg("problems.detail.mwh-serials", {"mwh": body.mwh, "count": serials.count}),
            "invalid-contract",
        )
    if body.generation.end < body.generation.start:
        raise Problem(
            422,
            "Invalid contract",
            Msg("problems.detail.generation-order"),
            "invalid-contract",
        )
    valid_until = Certificate(
        body.id, serials, body.generation.start, body.generation.end
    ).valid_until
    most = bounds.contract_mwh(body.generation.start, valid_until)
    if serials.count > most:
        raise implausible(
            Msg(
                "problems.detail.implausible-contract",
                {
                    "mwh": serials.count,
                    "bound": f"{most:.6g}",
                    "grid_mw": f"{bounds.grid_mw:.6g}",
                    "start": body.generation.start,
                    "until": valid_until,
                },
            ),
            most,
        )
    market_ = body.market or plant_market(plant)
    if market_ != plant_market(plant):
        raise Problem(
            422,
            "Invalid contract",
            Msg(
                "problems.detail.market-mismatch",
                {"market": market_, "plant": plant_market(plant)},
            ),
            "invalid-contract",
        )
    row = ledger.ContractRow(
        id=body.id,
        type=body.type.value,
        serials=serials,
        generation_start=body.generation.start,
        generation_end=body.generation.end,
        market=market_,
        ef_t_per_mwh=body.emission_factor_t_per_mwh,
        project=body.project,
        source=body.source,
        created_at=dt.datetime.now(dt.UTC),
        created_by=who.label,
    )
    try:
        async with conn.transaction():
            held = await ledger.holding_overlap(conn, "contracts", serials)
            if held is not None:
                raise conflict(
                    Msg(
                        "problems.detail.serials-overlap-contract",
                        {"serials": serials, "held": held},
                    )
                )
            await ledger.insert_contract(conn, row)
    except psycopg.errors.UniqueViolation:
        raise conflict(Msg("problems.detail.contract-exists", {"id": body.id})) from None
    except psycopg.errors.ExclusionViolation:
        raise conflict(Msg("problems.detail.serials-held", {"serials": serials})) from None
    found = await ledger.contracts(conn, body.id)
    return _public(found[0], [])


@router.delete(
    "/contracts/{contract_id}",
    summary="Remove a contract registered by mistake (admin; only without allocations)",
    status_code=204,
    responses=CONFLICT,
)
async def delete_contract(contract_id: str, _: Admin, conn: Connection) -> Response:
    async with conn.transaction():
        found = await ledger.contracts(conn, contract_id, lock=True)
        if not found:
            raise not_found("contract", contract_id)
        if await ledger.allocations(conn, contract_id):
            raise conflict(Msg("problems.detail.contract-final", {"id": contract_id}))
        await ledger.delete_contract(conn, contract_id)
    return Response(status_code=204)


@router.post(
    "/contracts/{contract_id}/allocations",
    summary="Allocate serials to a site's consumption (operator); restates market-based Scope 2",
    response_model=AllocationResult,
    status_code=201,
    responses=CONFLICT,
)
async def allocate(
    contract_id: str, body: AllocationCreate, who: Operator, conn: Connection, plant: PlantDep
) -> AllocationResult:
    claim = Claim(
        site=body.site,
        first_day=body.period.start,
        last_day=body.period.end,
        serials=None if body.serials is None else parse_serials(body.serials),
        mwh=body.mwh,
        allocated_on=body.allocated_on or today(plant),
    )
    for attempt in range(3):
        try:
            row, restated = await allocation.allocate(conn, plant, contract_id, claim, who.label)
            break
        except _RETRY:
            if attempt == 2:
                raise Problem(
                    503,
                    "Busy",
                    Msg("problems.detail.ledger-busy"),
                    "busy",
                    headers={"Retry-After": "1"},
                ) from None
        except psycopg.errors.ExclusionViolation:
            raise conflict(Msg("problems.detail.serials-concurrent")) from None
    else:
        raise AssertionError("unreachable: the last attempt returns or raises")
    zone = plant.zone
    return AllocationResult(
        **_allocation(row).model_dump(),
        restated=Restatement(
            start=restated.start.astimezone(zone),
            end=restated.end.astimezone(zone),
            minutes=restated.minutes,
            covered_mwh=restated.covered_mwh,
        ),
    )
