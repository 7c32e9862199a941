"""Hourly instrument data of contracts, and annual vs hourly matching side by side.

The 2015 GHG Protocol Scope 2 Guidance matches instruments to consumption by
volume over the period; the 2025-27 revision proposes hourly matching. Both are
computed here from the same data: the site's consumption per local hour (grid
import of the stored minutes) and, per instrument counted, its MWh (annual) and
its share of its contract's hourly generation (hourly). A contract without
hourly data counts in annual matching only, and the report says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import Annotated, Any

import numpy as np
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
    MatchedInstrument,
    MatchingHour,
    MatchingReport,
    MatchingResult,
    PeriodOut,
    StoredAccount,
)
from carbonstream.api.schemas.ledger import DateRange
from carbonstream.api.schemas.values import Instant
from carbonstream.config.plant import Plant
from carbonstream.core.resolve import Resolver
from carbonstream.i18n import Msg
from carbonstream.ledger.matching import (
    InstrumentHours,
    Matching,
    claim_inside,
    match_site,
    profile_hours,
)
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


def _result(m: Matching) -> MatchingResult:
    return MatchingResult(
        consumption_mwh=m.consumption_mwh,
        instruments_mwh=m.instruments_mwh,
        covered_mwh=m.covered_mwh,
        uncovered_mwh=m.uncovered_mwh,
        surplus_mwh=m.surplus_mwh,
        coverage_pct=m.coverage_pct,
        market_t=m.market_t,
    )


def _midnight(d: dt.date, plant: Plant) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=plant.zone)


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
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, plant time.")
    ] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year.")] = None,
    hours: Annotated[bool, Query(description="Include the figures of every hour.")] = False,
) -> MatchingReport:
    zone = plant.zone
    s, e = period_of(start, end, month, year, zone)
    check_range(s, e, settings, "period")
    for t in (s, e):
        lt = t.astimezone(zone)
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
    n = round((e - s).total_seconds() / 3600)
    first_day = s.astimezone(zone).date()
    last_day = (e - dt.timedelta(microseconds=1)).astimezone(zone).date()

    use = await q.hourly_consumption(conn, keys[site], s, e, plant.timezone)
    cons = np.zeros(n)
    ef = np.full(n, np.nan)
    stored = np.zeros(3)
    for u in use:
        i = round((u.hour - s).total_seconds() / 3600)
        if 0 <= i < n:
            cons[i] += u.mwh
            if u.residual_ef is not None:
                ef[i] = u.residual_ef
        stored += (u.covered_mwh, u.market_t, u.location_t)
    notes: list[str] = []
    missing = np.isnan(ef) & (cons > 0)
    if missing.any():
        resolver = Resolver(plant, request.app.state.library, request.app.state.params)
        site_index = [x.id for x in plant.sites].index(site)
        for k in np.flatnonzero(missing):
            local = (s + dt.timedelta(hours=int(k))).astimezone(zone)
            ef[k] = resolver.month(local.year, local.month).residual_ef[site_index]
        notes.append(
            f"{int(missing.sum())} hours had no stored residual factor: the plant's factor "
            "library gave it"
        )
    ef = np.nan_to_num(ef)
    residual_mean = float((cons * ef).sum() / cons.sum()) if cons.sum() > 0 else 0.0

    instruments = await q.site_instruments(conn, keys[site], first_day, last_day)
    contracts = sorted({i.contract for i in instruments if i.contract is not None})
    profiles = await q.hourly_rows(conn, contracts)
    listed: list[MatchedInstrument] = []
    counted: list[InstrumentHours] = []
    annual_only: list[str] = []
    in_file = {i.id: i for i in plant.instruments}
    for ins in instruments:
        lo, hi = (
            _midnight(ins.claim_start, plant),
            _midnight(ins.claim_end + dt.timedelta(days=1), plant),
        )
        inside = claim_inside(lo, hi, s, e)
        rows = profiles.get(ins.contract or "", [])
        profile: np.ndarray | None = None
        note = ""
        mine = in_file.get(ins.id) if ins.contract is None else None
        if mine is not None and mine.hourly is not None:
            profile = profile_hours(((x.hour, x.kwh / 1000.0) for x in mine.hourly), s, n, lo, hi)
            note = "the hourly profile of the plant file, inside its claim period"
        elif ins.contract is None:
            note = "an instrument of the plant file: no hourly data (annual matching only)"
        elif not rows:
            note = "no hourly data loaded for its contract: counts in annual matching only"
        else:
            share = ins.mwh / ins.contract_mwh if ins.contract_mwh else 0.0
            profile = profile_hours(rows, s, n, lo, hi, share)
            note = (
                f"its share ({ins.mwh:g} of {ins.contract_mwh:g} certificates) of contract "
                f"{ins.contract}'s hourly generation in its claim period"
            )
        if not inside:
            note = (
                f"claim period {ins.claim_start}..{ins.claim_end} is not inside the period: "
                "not counted (ask for a period that holds it)"
            )
        elif profile is None:
            annual_only.append(ins.id)
        if inside:
            counted.append(InstrumentHours(ins.mwh, ins.ef_t_per_mwh, profile))
        listed.append(
            MatchedInstrument(
                instrument=ins.id,
                contract=ins.contract,
                type=ins.type,
                serials=ins.serials,
                claim=DateRange(start=ins.claim_start, end=ins.claim_end),
                mwh=ins.mwh,
                emission_factor_t_per_mwh=ins.ef_t_per_mwh,
                counted=inside,
                hourly=profile is not None,
                hourly_mwh=float(profile.sum()) if profile is not None else 0.0,
                note=note,
            )
        )
    annual, hourly = match_site(cons, ef, counted)
    if annual_only:
        notes.append(
            "without hourly data, counted in annual matching only: " + ", ".join(annual_only)
        )
    notes += [
        "Annual matching is the GHG Protocol Scope 2 Guidance (2015) method; hourly matching "
        "is the revision's proposal (consultation 2025, final standard expected 2027).",
        "An instrument covers only its own hour's consumption in hourly matching; a surplus "
        "never makes emissions negative and does not carry to another hour.",
        "The residual factor is the one the stored minutes used (China: MEE/NBS national "
        "factor excluding market-traded non-fossil power, a proxy for a residual mix).",
    ]
    gen = np.zeros(n)
    for c in counted:
        if c.hourly is not None:
            gen += c.hourly
    return MatchingReport(
        site=site,
        period=PeriodOut(start=s.astimezone(zone), end=e.astimezone(zone), hours=float(n)),
        residual_factor_t_per_mwh=residual_mean,
        instruments=listed,
        annual=_result(annual),
        hourly=_result(hourly),
        difference_t=hourly.market_t - annual.market_t,
        stored=StoredAccount(
            covered_mwh=float(stored[0]), market_t=float(stored[1]), location_t=float(stored[2])
        ),
        hours=[
            MatchingHour(
                hour=(s + dt.timedelta(hours=i)).astimezone(zone),
                consumption_mwh=float(cons[i]),
                instruments_mwh=float(gen[i]),
                covered_mwh=float(min(cons[i], gen[i])),
            )
            for i in range(n)
        ]
        if hours
        else None,
        notes=notes,
    )
