"""Carbon offsets held (CCER, international credits), and their retirement against a period.

The qualification rules are :mod:`carbonstream.ledger.offsets` (the plant file and
``carbonstream compute`` apply the same): credits surrendered for national ETS
compliance, and international credits without a corresponding adjustment, are
refused with the rule and its source.

A credit is retired once: the ledger rule names the earlier retirement, and an
exclusion constraint refuses an overlapping retirement in the database even
between concurrent requests. Offsets never change Scope 1 or Scope 2; they
reduce the net figure of the inventory whose period contains theirs.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from fastapi import APIRouter

from carbonstream.api.auth import Operator, Viewer
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
    DateRange,
    OffsetCreate,
    OffsetPublic,
    RetirementCreate,
    RetirementPublic,
)
from carbonstream.i18n import Msg
from carbonstream.ledger import LedgerError, Offset, Retirement, check_retirement
from carbonstream.ledger.offsets import CorrespondingAdjustment, Standard, check_credit, kind
from carbonstream.store import ledger

router = APIRouter(prefix="/v1", tags=["offsets"], responses=PROBLEM_RESPONSES)


def _retirement(r: ledger.RetirementRow) -> RetirementPublic:
    return RetirementPublic(
        id=r.id,
        offset=r.offset,
        serials=str(r.serials),
        tco2e=float(r.serials.count),
        retired_on=r.retired_on,
        purpose=r.purpose,
        site=r.site,
        period=DateRange(start=r.period_start, end=r.period_end),
        created_at=r.created_at,
        created_by=r.created_by,
    )


def _refusal(o: ledger.OffsetRow) -> str | None:
    try:
        check_credit(
            o.id,
            Standard(o.standard),
            CorrespondingAdjustment(o.corresponding_adjustment),
            o.ets_surrendered,
        )
    except LedgerError as e:
        return str(e)
    return None


def _public(o: ledger.OffsetRow, rets: list[ledger.RetirementRow]) -> OffsetPublic:
    mine = [r for r in rets if r.offset == o.id]
    retired = float(sum(r.serials.count for r in mine))
    refusal = _refusal(o)
    return OffsetPublic(
        id=o.id,
        project=o.project,
        kind=kind(Standard(o.standard)),
        standard=Standard(o.standard),
        registry=o.registry,
        serials=str(o.serials),
        vintage=o.vintage,
        corresponding_adjustment=CorrespondingAdjustment(o.corresponding_adjustment),
        ets_surrendered=o.ets_surrendered,
        usable=refusal is None,
        refusal=refusal,
        tco2e=float(o.serials.count),
        site=o.site,
        note=o.note,
        retired_t=retired,
        available_t=o.serials.count - retired,
        retirements=[_retirement(r) for r in mine],
        created_at=o.created_at,
        created_by=o.created_by,
    )


@router.get(
    "/offsets",
    summary="Offsets held (CCER, international credits), with retirements",
    response_model=list[OffsetPublic],
)
async def list_offsets(_: Viewer, conn: Connection) -> list[OffsetPublic]:
    rets = await ledger.retirements(conn)
    return [_public(o, rets) for o in await ledger.offsets(conn)]


@router.get("/offsets/{offset_id}", summary="One offset holding", response_model=OffsetPublic)
async def get_offset(offset_id: str, _: Viewer, conn: Connection) -> OffsetPublic:
    found = await ledger.offsets(conn, offset_id)
    if not found:
        raise not_found("offset", offset_id)
    return _public(found[0], await ledger.retirements(conn, offset_id))


@router.post(
    "/offsets",
    summary="Register offset credits held (operator)",
    response_model=OffsetPublic,
    status_code=201,
    responses=CONFLICT,
)
async def create_offset(
    body: OffsetCreate, who: Operator, conn: Connection, bounds: BoundsDep
) -> OffsetPublic:
    serials = parse_serials(body.serials)
    if serials.count > bounds.max_offset_t:
        raise implausible(
            Msg(
                "problems.detail.implausible-offset",
                {"t": serials.count, "bound": bounds.max_offset_t},
            ),
            bounds.max_offset_t,
        )
    site = None
    if body.site is not None:
        site = await ledger.site_key(conn, body.site)
        if site is None:
            raise not_found("site", body.site)
    assert body.registry is not None and body.corresponding_adjustment is not None
    row = ledger.OffsetRow(
        id=body.id,
        project=body.project,
        registry=body.registry,
        serials=serials,
        vintage=body.vintage,
        site=body.site,
        note=body.note,
        created_at=dt.datetime.now(dt.UTC),
        created_by=who.label,
        standard=body.standard.value,
        corresponding_adjustment=body.corresponding_adjustment.value,
        ets_surrendered=body.ets_surrendered,
    )
    try:
        async with conn.transaction():
            held = await ledger.holding_overlap(conn, "offsets", serials)
            if held is not None:
                raise conflict(
                    Msg("problems.detail.credits-overlap", {"serials": serials, "held": held})
                )
            await ledger.insert_offset(conn, row, site)
    except psycopg.errors.UniqueViolation:
        raise conflict(Msg("problems.detail.offset-exists", {"id": body.id})) from None
    except psycopg.errors.ExclusionViolation:
        raise conflict(Msg("problems.detail.credits-held", {"serials": serials})) from None
    found = await ledger.offsets(conn, body.id)
    return _public(found[0], [])


@router.post(
    "/offsets/{offset_id}/retirements",
    summary="Retire credits against a period's emissions (operator)",
    response_model=RetirementPublic,
    status_code=201,
    responses=CONFLICT,
)
async def retire(
    offset_id: str, body: RetirementCreate, who: Operator, conn: Connection, plant: PlantDep
) -> RetirementPublic:
    try:
        async with conn.transaction():
            found = await ledger.offsets(conn, offset_id, lock=True)
            if not found:
                raise not_found("offset", offset_id)
            o = found[0]
            refusal = _refusal(o)
            if refusal is not None:
                raise Problem(422, "Refused by the ledger", refusal, "ledger-rule")
            site = None
            if body.site is not None:
                site = await ledger.site_key(conn, body.site)
                if site is None:
                    raise not_found("site", body.site)
            existing = await ledger.retirements(conn, offset_id)
            if body.serials is not None:
                serials = parse_serials(body.serials)
            else:
                assert body.tco2e is not None
                block = ledger.free_block(o.serials, [r.serials for r in existing], body.tco2e)
                if block is None:
                    raise conflict(
                        Msg(
                            "problems.detail.no-unretired-run",
                            {
                                "id": o.id,
                                "t": body.tco2e,
                                "left": o.serials.count - sum(r.serials.count for r in existing),
                            },
                        )
                    )
                serials = block
            on = body.retired_on or today(plant)
            new = Retirement(o.id, serials, on, body.purpose, body.site)
            old = [Retirement(o.id, r.serials, r.retired_on, r.purpose, r.site) for r in existing]
            try:
                check_retirement(Offset(o.id, o.serials, o.project, o.vintage), new, old)
            except LedgerError as e:
                if any(r.serials.overlaps(serials) for r in old):
                    raise conflict(e.detail) from None
                raise Problem(422, "Refused by the ledger", e.detail, "ledger-rule") from None
            rid = await ledger.insert_retirement(
                conn,
                o.id,
                serials,
                on,
                body.purpose,
                site,
                (body.period.start, body.period.end),
                who.label,
            )
    except psycopg.errors.ExclusionViolation:
        raise conflict(Msg("problems.detail.credits-concurrent")) from None
    row = next(r for r in await ledger.retirements(conn, offset_id) if r.id == rid)
    return _retirement(row)
