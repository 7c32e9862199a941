"""Emission factors: list and read every version; admins add new versions (never edits)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query, Request

from carbonstream.api.auth import Admin, Viewer
from carbonstream.api.db import Connection
from carbonstream.api.problems import PROBLEM_RESPONSES, Problem, not_found
from carbonstream.api.schemas.factors import FactorCreate, FactorPublic
from carbonstream.core.library import Factor, FactorLibrary, canonical_unit, known_unit
from carbonstream.errors import FactorOverlapError
from carbonstream.i18n import Msg
from carbonstream.store import factors as store

router = APIRouter(prefix="/v1", tags=["factors"], responses=PROBLEM_RESPONSES)


def _public(
    f: Factor, used: set[tuple[str, int]], by: str | None = None, at: Any = None
) -> FactorPublic:
    origin = (
        f.origin if f.origin.startswith("builtin:") or f.origin == "api" else Path(f.origin).name
    )
    return FactorPublic(
        factor_id=f.id,
        version=f.version,
        series=f.series,
        region=f.region,
        value=f.value,
        unit=f.unit,
        gas=f.gas,
        valid_from=f.valid_from,
        valid_to=f.valid_to,
        data_year=f.data_year,
        source=f.source,
        table=f.table,
        verified=f.verified,
        description=f.description,
        origin=origin,
        used=(f.id, f.version) in used,
        created_by=by,
        created_at=at,
    )


async def _refuse_series_overlap(request: Request, conn: Connection, f: Factor) -> None:
    """A factor that shares a date with another of its series would make every library
    load (ingest, API, compute) fail: refuse it now, naming both ids."""
    library: FactorLibrary = request.app.state.library
    known = {(x.id, x.version) for x in library.factors()}
    added = [x for x, _, _ in await store.added(conn) if (x.id, x.version) not in known]
    try:
        library.extended([*added, f])
    except FactorOverlapError as e:
        detail = Msg(
            "problems.detail.factor-series-overlap",
            {"first": e.first, "second": e.second, "series": e.series, "region": e.region},
        )
        raise Problem(422, "Invalid factor", detail, "invalid-factor") from None


async def _all(request: Request, conn: Connection) -> list[FactorPublic]:
    library: FactorLibrary = request.app.state.library
    used = await store.used(conn)
    out = [_public(f, used) for f in library.factors()]
    out += [_public(f, used, by, at) for f, by, at in await store.added(conn)]
    out.sort(key=lambda f: (f.factor_id, f.version))
    return out


@router.get(
    "/factors", summary="Every factor version in the library", response_model=list[FactorPublic]
)
async def list_factors(
    request: Request,
    _: Viewer,
    conn: Connection,
    prefix: Annotated[str | None, Query(max_length=128, description="Id prefix.")] = None,
    series: Annotated[str | None, Query(max_length=128)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    used: Annotated[bool | None, Query(description="Only versions stored figures use.")] = None,
) -> list[FactorPublic]:
    return [
        f
        for f in await _all(request, conn)
        if (prefix is None or f.factor_id.startswith(prefix))
        and (series is None or f.series == series)
        and (region is None or f.region == region)
        and (used is None or f.used == used)
    ]


@router.get(
    "/factors/{factor_id}", summary="Every version of one factor", response_model=list[FactorPublic]
)
async def get_factor(
    factor_id: str, request: Request, _: Viewer, conn: Connection
) -> list[FactorPublic]:
    versions = [f for f in await _all(request, conn) if f.factor_id == factor_id]
    if not versions:
        raise not_found("factor", factor_id)
    return versions


@router.post(
    "/factors",
    summary="Add a factor version (admin); published versions are never edited",
    response_model=FactorPublic,
    status_code=201,
    responses={
        409: {"description": "That version exists", "content": {"application/problem+json": {}}}
    },
)
async def add_factor(
    body: FactorCreate, request: Request, who: Admin, conn: Connection
) -> FactorPublic:
    if not known_unit(body.unit):
        raise Problem(
            422,
            "Invalid factor",
            Msg("problems.detail.unit-unknown", {"unit": body.unit}),
            "invalid-factor",
        )
    existing = [f for f in await _all(request, conn) if f.factor_id == body.factor_id]
    top = max((f.version for f in existing), default=0)
    version = body.version if body.version is not None else top + 1
    if version <= top:
        raise Problem(
            409,
            "Version exists",
            Msg(
                "problems.detail.factor-versions",
                {"id": body.factor_id, "top": top, "next": top + 1},
            ),
            "factor-version-exists",
        )
    if existing:
        last = max(existing, key=lambda f: f.version)
        if canonical_unit(last.unit) != canonical_unit(body.unit):
            raise Problem(
                422,
                "Invalid factor",
                Msg(
                    "problems.detail.unit-not-convertible",
                    {"unit": body.unit, "version": last.version, "last": last.unit},
                ),
                "invalid-factor",
            )
    f = Factor(
        id=body.factor_id,
        version=version,
        series=body.series,
        region=body.region,
        value=body.value,
        unit=body.unit,
        gas=body.gas,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        data_year=body.data_year,
        source=body.source,
        table=body.table,
        verified=body.verified,
        description=body.description,
        origin=store.ORIGIN,
    )
    await _refuse_series_overlap(request, conn, f)
    try:
        async with conn.transaction():
            await store.add(conn, f, who.label)
    except psycopg.errors.UniqueViolation:
        raise Problem(
            409,
            "Version exists",
            Msg("problems.detail.factor-just-added", {"id": f.id, "version": version}),
            "factor-version-exists",
        ) from None
    return _public(f, set(), who.label)
