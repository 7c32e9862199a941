"""Assembly of zero-carbon status, intensity and versions from stored figures.

Shared by their own endpoints, the inventory and the live view. The arithmetic
is the ledger's (net, zero-carbon) and the core's (intensity); this module
groups stored sums by site and production line and says which account (live,
or a restatement) the figures come from.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core.intensity import intensity, line_emissions
from carbonstream.domain.errors import NotFoundError, RefusalError
from carbonstream.domain.green_model import (
    Basis,
    IntensityReport,
    LineIntensity,
    RestatementPublic,
    SiteIntensity,
    VersionPublic,
    ZeroCarbonReport,
    ZeroCarbonStatus,
)
from carbonstream.domain.selection import Selection, Timer, untimed
from carbonstream.i18n import Msg
from carbonstream.ledger.offsets import whole_days
from carbonstream.ledger.rules import NetEmissions
from carbonstream.ledger.status import Status, zero_carbon
from carbonstream.store import green as q
from carbonstream.store.db import AsyncConn

VERSION_PATTERN = r"^(live|[1-9][0-9]{0,8})$"
ZERO_CARBON_RULE = (
    "zero-carbon when net = Scope 1 + Scope 2 ({basis}-based) - CCER retired for the period "
    "<= 0; remaining_t is what is left to reduce or offset"
)
LIVE_LABEL = "live account (as ingest stored it)"

M = TypeVar("M", bound=BaseModel)

# --- versions --------------------------------------------------------------------------------


def restatement_public(r: q.RestatementRow) -> RestatementPublic:
    return RestatementPublic(
        id=r.id,
        label=r.label,
        first_day=r.first_day,
        last_day=r.last_day,
        created_at=r.created_at,
        code_version=r.code_version,
        factor_files=[{str(k): str(v) for k, v in f.items()} for f in r.factor_files],
        factors=r.factors,
        note=r.note,
        site_days=r.site_days,
    )


async def resolve_version(conn: AsyncConn, version: str) -> q.RestatementRow | None:
    """None for the live account; the restatement for an id (404 when there is none)."""
    if version == "live":
        return None
    if not re.match(VERSION_PATTERN, version):
        raise RefusalError(
            "invalid-request", Msg("problems.detail.version-unknown", {"version": version})
        )
    found = await q.restatements(conn, int(version))
    if not found:
        raise NotFoundError("restatement", version)
    return found[0]


def version_public(r: q.RestatementRow | None) -> VersionPublic:
    if r is None:
        return VersionPublic(version="live", label=LIVE_LABEL, restatement=None)
    return VersionPublic(
        version=str(r.id), label=f"restatement {r.id}: {r.label}", restatement=restatement_public(r)
    )


def restated_days(
    r: q.RestatementRow, start: dt.datetime, end: dt.datetime, zone: ZoneInfo
) -> tuple[dt.date, dt.date]:
    """A restatement holds whole local days: the period must be such days inside it."""
    s, e = start.astimezone(zone), end.astimezone(zone)
    first = s.date()
    last = (e - dt.timedelta(microseconds=1)).date()
    whole = s == dt.datetime(s.year, s.month, s.day, tzinfo=zone) and e == dt.datetime(
        e.year, e.month, e.day, tzinfo=zone
    )
    if not whole or first < r.first_day or last > r.last_day:
        raise RefusalError(
            "invalid-period",
            Msg(
                "problems.detail.restatement-days",
                {"id": r.id, "label": r.label, "first": r.first_day, "last": r.last_day},
            ),
        )
    return first, last


async def site_sums(
    conn: AsyncConn,
    r: q.RestatementRow | None,
    site_keys: list[int],
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
) -> dict[str, dict[str, float]]:
    if r is None:
        return await q.live_sums(conn, site_keys, start, end)
    first, last = restated_days(r, start, end, zone)
    return await q.restated_sums(conn, r.id, site_keys, first, last)


# --- zero-carbon -------------------------------------------------------------------------------


def from_net(model: type[M], n: NetEmissions, **more: object) -> M:
    """A public model of the ledger's net: the fields it shares with ``n``, and ``more``."""
    return model.model_validate(
        {k: v for k, v in asdict(n).items() if k in model.model_fields} | more
    )


def _status(s: Status) -> ZeroCarbonStatus:
    return from_net(
        ZeroCarbonStatus,
        s.net,
        site=s.site,
        gross_t=s.net.scope1_t + s.net.scope2_t,
        retirements=s.retirements,
    )


def zero_carbon_status(
    sums: Mapping[str, Mapping[str, float]],
    sites: list[str],
    retirements: Iterable[q.Retired],
    basis: Basis,
    plant_wide: bool,
) -> tuple[ZeroCarbonStatus, list[ZeroCarbonStatus]]:
    col = "scope2_market_t" if basis == "market" else "scope2_location_t"
    gross = {
        s: (sums.get(s, {}).get("scope1_t", 0.0), sums.get(s, {}).get(col, 0.0)) for s in sites
    }
    total, per_site = zero_carbon(
        gross, ((r.id, r.site, r.tco2e) for r in retirements), basis, plant_wide
    )
    return _status(total), [_status(x) for x in per_site]


async def zero_carbon_report(
    conn: AsyncConn, plant: Plant, sel: Selection, timer: Timer = untimed
) -> ZeroCarbonReport:
    """Net and zero-carbon status of the selection, per site and together."""
    zone = plant.zone
    r = await resolve_version(conn, sel.version)
    async with timer("zero_carbon"):
        sums = await site_sums(conn, r, sel.site_keys, sel.start, sel.end, zone)
        # Retirements offset whole days: those of the days wholly inside the period count.
        rets = await q.retirements_inside(conn, *whole_days(sel.start, sel.end, zone))
    total, per_site = zero_carbon_status(sums, sel.sites, rets, sel.basis, sel.plant_wide)
    return ZeroCarbonReport(
        period=sel.period(zone),
        version=sel.version,
        scope2_basis=sel.basis,
        rule=ZERO_CARBON_RULE.format(basis=sel.basis),
        total=total,
        sites=per_site,
    )


# --- intensity ---------------------------------------------------------------------------------


def production_unit(plant: Plant, site: str) -> str | None:
    """The site's production unit (one per site, checked when the plant file loads)."""
    for m in plant.meters:
        if m.site == site and m.kind is MeterKind.PRODUCTION:
            return m.scale().canonical
    return None


def site_intensity(
    plant: Plant,
    sums: Mapping[str, Mapping[str, float]],
    sites: list[str],
    basis: Basis,
) -> list[SiteIntensity]:
    col = "scope2_market_t" if basis == "market" else "scope2_location_t"
    out = []
    for s in sites:
        t = sums.get(s, {})
        unit = production_unit(plant, s)
        i = intensity(
            t.get("scope1_t", 0.0), t.get(col, 0.0), t.get("production", 0.0), unit or "", basis
        )
        out.append(
            SiteIntensity(
                site=s,
                unit=unit,
                production=i.production,
                scope1_t=t.get("scope1_t", 0.0),
                scope2_t=t.get(col, 0.0),
                emissions_t=i.emissions_t,
                t_per_unit=i.value,
            )
        )
    return out


# Meter kinds whose emission lines make up a production line's figures.
_KIND_ROLE = {
    MeterKind.FUEL: 0,
    MeterKind.GRID_IMPORT: 1,
    MeterKind.HEAT_IMPORT: 2,
    MeterKind.PRODUCTION: 6,
}


def line_intensity(
    plant: Plant,
    rows: Iterable[q.LineRole],
    sums: Mapping[str, Mapping[str, float]],
    sites: list[str],
    basis: Basis,
) -> list[LineIntensity]:
    """Per production line (meters sharing ``line``), from its meters' stored lines."""
    acc: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0])
    )
    for r in rows:
        cell = acc[(r.site, r.line)][r.role]
        cell[0] += r.quantity
        cell[1] += r.co2e_t
    meters: dict[tuple[str, str], list[tuple[str, MeterKind]]] = defaultdict(list)
    for m in plant.meters:
        if m.line is not None and m.site in sites and m.kind in _KIND_ROLE:
            meters[(m.site, m.line)].append((m.id, m.kind))
    out = []
    for (site, line), ms in sorted(meters.items()):
        a = acc.get((site, line), {})
        t = sums.get(site, {})
        grid_mwh = t.get("grid_import_mwh", 0.0)
        elec_market = t.get("scope2_market_t", 0.0) - t.get("scope2_heat_t", 0.0)
        per_mwh = elec_market / grid_mwh if grid_mwh > 0 else 0.0
        e = line_emissions(
            fuel_t=a.get(0, [0.0, 0.0])[1],
            grid_mwh=a.get(1, [0.0, 0.0])[0],
            grid_location_t=a.get(1, [0.0, 0.0])[1],
            heat_t=a.get(2, [0.0, 0.0])[1],
            site_market_t_per_mwh=per_mwh,
        )
        prod = a.get(6, [0.0, 0.0])[0]
        has_prod = any(k is MeterKind.PRODUCTION for _, k in ms)
        unit = production_unit(plant, site) if has_prod else None
        i = intensity(e.scope1_t, e.total(basis) - e.scope1_t, prod, unit or "", basis)
        out.append(
            LineIntensity(
                line=line,
                site=site,
                unit=unit,
                production=prod,
                production_meters=[m for m, k in ms if k is MeterKind.PRODUCTION],
                emission_meters=[m for m, k in ms if k is not MeterKind.PRODUCTION],
                scope1_t=e.scope1_t,
                scope2_location_t=e.scope2_location_t,
                scope2_market_t=e.scope2_market_t,
                emissions_t=i.emissions_t,
                t_per_unit=i.value,
            )
        )
    return out


INTENSITY_NOTES = [
    "Intensity = (Scope 1 + Scope 2 on the basis) / production, in tCO2e per unit of the "
    "site's production unit; null where nothing was produced.",
    "A production line is the meters sharing a `line`: its fuel meters (Scope 1), import "
    "meters (Scope 2) and production meters. Its market-based Scope 2 takes the site's "
    "market-based tCO2e per grid MWh of the period (instruments cover a site, not a meter).",
]


async def intensity_report(
    conn: AsyncConn, plant: Plant, sel: Selection, timer: Timer = untimed
) -> IntensityReport:
    """Intensity of the live account per site and production line (``sel.version`` is not
    read: restatements hold site totals, not the per-line figures)."""
    async with timer("intensity"):
        sums = await q.live_sums(conn, sel.site_keys, sel.start, sel.end)
        meters = await q.line_meter_keys(conn, sel.site_keys)
        rows = await q.line_sums(conn, meters, sel.start, sel.end)
    return IntensityReport(
        period=sel.period(plant.zone),
        scope2_basis=sel.basis,
        sites=site_intensity(plant, sums, sel.sites, sel.basis),
        lines=line_intensity(plant, rows, sums, sel.sites, sel.basis),
        notes=INTENSITY_NOTES,
    )
