"""Hourly instrument data of contracts, and annual vs hourly matching side by side.

Loading, reading and deleting a contract's hourly generation; the matching itself
(annual by volume, hourly per local hour) is assembled by
:mod:`carbonstream.domain.matching`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from carbonstream.api.auth import Admin, Operator, Viewer
from carbonstream.api.db import Connection
from carbonstream.api.deps import (
    BoundsDep,
    CatalogDep,
    PlantDep,
    SettingsDep,
    check_range,
    period_of,
)
from carbonstream.api.guards import UPLOAD
from carbonstream.api.problems import CONFLICT, PROBLEM_RESPONSES, Problem, implausible, not_found
from carbonstream.api.schemas.green import (
    HourlyLoad,
    HourlyLoaded,
    HourlyPublic,
    HourPublic,
)
from carbonstream.api.schemas.ledger import DateRange
from carbonstream.api.schemas.values import Instant
from carbonstream.api.selection import MonthQuery, YearQuery
from carbonstream.config.plant import Plant
from carbonstream.domain.green_model import MatchingReport
from carbonstream.domain.matching import matching_report as assemble
from carbonstream.i18n import Msg
from carbonstream.store import green as q
from carbonstream.store import ledger

router = APIRouter(prefix="/v1", tags=["green electricity"], responses=PROBLEM_RESPONSES)

_MAX_ROWS = 20_000
_ROWS = TypeAdapter(HourlyLoad)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its $defs put in place (for a hand-declared request body)."""
    defs = schema.pop("$defs", {})

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            ref = x.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    out: dict[str, Any] = walk(schema)
    return out


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline(HourlyLoad.model_json_schema())},
            "text/csv": {
                "schema": {"type": "string"},
                "example": "hour,mwh\n2026-11-02T11:00,3\n2026-11-02T12:00,5\n",
            },
        },
    }
}


def _invalid(detail: str | Msg) -> Problem:
    return Problem(422, "Invalid request", detail, "invalid-request")


def _parse_csv(text: str) -> list[tuple[str, str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["hour", "mwh"]:
        raise _invalid(Msg("problems.detail.csv-header"))
    rows = []
    for n, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise _invalid(Msg("problems.detail.csv-fields", {"n": n, "got": len(row)}))
        rows.append((row[0].strip(), row[1].strip()))
        if len(rows) > _MAX_ROWS:
            raise _invalid(Msg("problems.detail.too-many-hours", {"max": _MAX_ROWS}))
    if not rows:
        raise _invalid(Msg("problems.detail.no-hours"))
    return rows


async def _rows(request: Request) -> HourlyLoad:
    body = await request.body()  # bounded by ApiLimits.upload_bytes before it is read (UPLOAD)
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    try:
        if ctype == "text/csv":
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise _invalid(Msg("problems.detail.csv-not-utf8")) from None
            data: Any = {"rows": [{"hour": h, "mwh": m} for h, m in _parse_csv(text)]}
            return _ROWS.validate_python(data)
        if ctype not in ("application/json", ""):
            raise Problem(
                415,
                "Unsupported media type",
                Msg("problems.detail.media-type", {"ctype": ctype}),
                "unsupported-media-type",
            )
        try:
            data = json.loads(body or b"null")
        except (ValueError, RecursionError):
            raise _invalid(Msg("problems.detail.body-not-json")) from None
        return _ROWS.validate_python(data)
    except ValidationError as e:
        errors = [
            {"field": ".".join(str(x) for x in err.get("loc", ())), "reason": err.get("msg", "")}
            for err in e.errors()[:20]
        ]
        detail = "; ".join(f"{x['field']}: {x['reason']}" for x in errors)
        raise Problem(422, "Invalid request", detail, "invalid-request", errors=errors) from None


def _local_hour(t: dt.datetime, plant: Plant) -> dt.datetime:
    zone = plant.zone
    aware = t.replace(tzinfo=zone) if t.tzinfo is None else t
    local = aware.astimezone(zone)
    if (local.minute, local.second, local.microsecond) != (0, 0, 0):
        raise _invalid(
            Msg(
                "problems.detail.not-hour-start-zone",
                {"time": t.isoformat(), "zone": plant.timezone},
            )
        )
    return aware.astimezone(dt.UTC)


def _hour_public(h: dt.datetime, plant: Plant) -> dt.datetime:
    return h.astimezone(plant.zone)


@router.post(
    "/contracts/{contract_id}/hourly",
    summary="Load a contract's hourly generation (operator): JSON rows or CSV hour,mwh",
    response_model=HourlyLoaded,
    status_code=201,
    responses={
        **CONFLICT,
        415: {"description": "Not JSON or CSV", "content": {"application/problem+json": {}}},
    },
    openapi_extra={**_BODY, **UPLOAD},
)
async def load_hourly(
    contract_id: str,
    request: Request,
    who: Operator,
    conn: Connection,
    plant: PlantDep,
    bounds: BoundsDep,
) -> HourlyLoaded:
    body = await _rows(request)
    zone = plant.zone
    hours: dict[dt.datetime, float] = {}
    for r in body.rows:
        h = _local_hour(r.hour, plant)
        if h in hours:
            raise _invalid(
                Msg("problems.detail.hour-twice", {"hour": h.astimezone(zone).isoformat()})
            )
        if not math.isfinite(r.mwh):
            raise _invalid(Msg("problems.detail.mwh-finite"))
        if r.mwh > bounds.hour_mwh:
            raise implausible(
                Msg(
                    "problems.detail.implausible-hour",
                    {
                        "hour": h.astimezone(zone).isoformat(),
                        "mwh": f"{r.mwh:.6g}",
                        "bound": f"{bounds.hour_mwh:.6g}",
                    },
                ),
                bounds.hour_mwh,
            )
        hours[h] = r.mwh
    async with conn.transaction():
        found = await ledger.contracts(conn, contract_id, lock=True)
        if not found:
            raise not_found("contract", contract_id)
        c = found[0]
        outside = sorted(
            h
            for h in hours
            if not c.generation_start <= h.astimezone(zone).date() <= c.generation_end
        )
        if outside:
            raise Problem(
                422,
                "Refused by the ledger",
                Msg(
                    "problems.detail.hour-outside-generation",
                    {
                        "hour": outside[0].astimezone(zone).isoformat(),
                        "more": len(outside) - 1,
                        "id": c.id,
                        "start": c.generation_start,
                        "end": c.generation_end,
                    },
                ),
                "ledger-rule",
            )
        stored = await q.hourly_existing(conn, c.id, sorted(hours))
        changed = sorted(h for h, v in stored.items() if abs(v - hours[h]) > 1e-9)
        if changed:
            h = changed[0]
            raise Problem(
                409,
                "Already loaded",
                Msg(
                    "problems.detail.hourly-differs",
                    {
                        "hour": h.astimezone(zone).isoformat(),
                        "id": c.id,
                        "stored": stored[h],
                        "given": hours[h],
                        "more": len(changed) - 1,
                    },
                ),
                "already-loaded",
            )
        new = [(h, v) for h, v in sorted(hours.items()) if h not in stored]
        total = await q.hourly_total(conn, c.id) + sum(v for _, v in new)
        if total > c.serials.count + 1e-6:
            raise Problem(
                422,
                "Refused by the ledger",
                Msg(
                    "problems.detail.hourly-exceeds-certificates",
                    {"id": c.id, "count": c.serials.count, "total": f"{total:.6g}"},
                ),
                "ledger-rule",
            )
        await q.hourly_insert(conn, c.id, new, who.label)
        summary = await q.hourly_summary(conn, c.id)
    return HourlyLoaded(
        contract=c.id,
        added=len(new),
        unchanged=len(hours) - len(new),
        hours=summary.hours,
        hourly_mwh=summary.mwh,
        contract_mwh=float(c.serials.count),
    )


@router.get(
    "/contracts/{contract_id}/hourly",
    summary="A contract's hourly generation",
    response_model=HourlyPublic,
)
async def get_hourly(
    contract_id: str, _: Viewer, conn: Connection, plant: PlantDep
) -> HourlyPublic:
    found = await ledger.contracts(conn, contract_id)
    if not found:
        raise not_found("contract", contract_id)
    c = found[0]
    summary = await q.hourly_summary(conn, c.id)
    rows = (await q.hourly_rows(conn, [c.id])).get(c.id, [])
    return HourlyPublic(
        contract=c.id,
        contract_mwh=float(c.serials.count),
        generation=DateRange(start=c.generation_start, end=c.generation_end),
        hours=summary.hours,
        hourly_mwh=summary.mwh,
        hourly_pct=100.0 * summary.mwh / c.serials.count,
        first=None if summary.first is None else _hour_public(summary.first, plant),
        last=None if summary.last is None else _hour_public(summary.last, plant),
        rows=[HourPublic(hour=_hour_public(h, plant), mwh=m) for h, m in rows],
    )


@router.delete(
    "/contracts/{contract_id}/hourly",
    summary="Remove a contract's hourly data loaded by mistake (admin)",
    status_code=204,
)
async def delete_hourly(contract_id: str, _: Admin, conn: Connection) -> Response:
    async with conn.transaction():
        found = await ledger.contracts(conn, contract_id, lock=True)
        if not found:
            raise not_found("contract", contract_id)
        await q.hourly_delete(conn, contract_id)
    return Response(status_code=204)


# --- matching -----------------------------------------------------------------------------------


@router.get(
    "/matching",
    summary="Annual (volume) and hourly matching of a site's instruments, side by side",
    response_model=MatchingReport,
)
async def matching(
    request: Request,
    _: Viewer,
    conn: Connection,
    plant: PlantDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    site: Annotated[str, Query(description="Site id.", max_length=64)],
    start: Annotated[
        Instant | None,
        Query(description="Period start, a local hour (no offset: plant-local)."),
    ] = None,
    end: Annotated[Instant | None, Query(description="Period end, exclusive.")] = None,
    month: MonthQuery = None,
    year: YearQuery = None,
    hours: Annotated[bool, Query(description="Include the figures of every hour.")] = False,
) -> MatchingReport:
    s, e = period_of(start, end, month, year, plant.zone)
    check_range(s, e, settings, "period")
    for t in (s, e):
        lt = t.astimezone(plant.zone)
        if (lt.minute, lt.second, lt.microsecond) != (0, 0, 0):
            raise Problem(
                422,
                "Invalid period",
                Msg("problems.detail.not-hour-start", {"time": t.isoformat()}),
                "invalid-period",
            )
    keys = await catalog.site_keys(conn, [site])
    if site not in keys:
        raise not_found("site", site)
    state = request.app.state
    return await assemble(conn, plant, state.library, state.params, site, keys[site], s, e, hours)
