"""Assemble an inventory from stored figures.

No accounting happens here: every tonne was computed by the core when ingest
committed it. This module groups the stored sums (by fuel, by source, by
site), derives the reporting totals with the same formulas as
``carbonstream compute`` (report.with_derived) and the net with the ledger's
``net_emissions``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict
from typing import Any, Literal

from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.core.flags import describe
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import MeterParams
from carbonstream.domain import green
from carbonstream.domain.inventory_model import (
    GASES,
    ActivityLine,
    ActivityTotal,
    CertificateAllocated,
    Exports,
    FactorUsed,
    FuelLine,
    IntensityPart,
    Inventory,
    LineagePublic,
    Net,
    OffsetRetired,
    OffsettingPart,
    PeriodPublic,
    Scope1,
    Scope2,
    SiteTotals,
    SourceLine,
    Totals,
    ZeroCarbonPart,
)
from carbonstream.domain.selection import Selection, Timer, untimed
from carbonstream.errors import FactorError
from carbonstream.footprint import scope3
from carbonstream.ledger import net_emissions
from carbonstream.ledger.offsets import (
    Retired,
    SiteGross,
    Standard,
    kind,
    net_inventory,
    whole_days,
)
from carbonstream.report import gwp_pair, with_derived
from carbonstream.store import green as gq
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries import inventory as q
from carbonstream.store.queries.inventory import Stored

_IMPORTS = (MeterKind.GRID_IMPORT, MeterKind.HEAT_IMPORT)


async def assemble(
    conn: AsyncConn,
    plant: Plant,
    params: MeterParams,
    library: FactorLibrary,
    sel: Selection,
    timer: Timer = untimed,
) -> Inventory:
    """The inventory of the selection: the live account or the restatement ``sel.version``
    names; with Scope 3 (plant-wide, live account only) when no site filter was given."""
    zone = plant.zone
    restatement = await green.resolve_version(conn, sel.version)
    async with timer("inventory"):
        # Retirements offset whole days: those of the days wholly inside the period count.
        stored = await q.load(
            conn,
            sel.site_keys,
            sel.plant_wide,
            sel.start,
            sel.end,
            *whole_days(sel.start, sel.end, zone),
        )
        if restatement is not None:
            first, last = green.restated_days(restatement, sel.start, sel.end, zone)
            stored.site_sums = await gq.restated_sums(
                conn, restatement.id, sel.site_keys, first, last
            )
    inv = build(
        stored,
        plant,
        params,
        sel.start,
        sel.end,
        sel.sites,
        sel.basis,
        restatement,
        library,
        sel.plant_wide,
    )
    if restatement is None and sel.plant_wide:
        block = await scope3.scope3(conn, plant, sel.start, sel.end)
        inv = inv.model_copy(update={"scope3": scope3.with_net(block, inv.net.net_t)})
    return inv


def build(
    stored: Stored,
    plant: Plant,
    params: MeterParams,
    start: dt.datetime,
    end: dt.datetime,
    sites: list[str],
    basis: Literal["market", "location"],
    restatement: gq.RestatementRow | None = None,
    library: FactorLibrary | None = None,
    plant_wide: bool = True,
) -> Inventory:
    """The inventory of the live account, or of a restatement when one is given (the
    caller put its site totals in ``stored.site_sums``)."""
    zone = plant.zone
    library = library or FactorLibrary.load(plant.factor_files)
    gwp = gwp_pair(library, plant.gwp.value)
    own_per = {i: float(params.own_per_canonical[k]) for k, i in enumerate(params.ids)}
    own_unit = {i: params.conversions[k].own_unit for k, i in enumerate(params.ids)}
    restated = restatement is not None
    seconds = (end - start).total_seconds()
    meters = [m for m in plant.meters if m.site in sites]
    unit_of = {i: params.canonical_unit[k] for k, i in enumerate(params.ids)}

    # --- per meter, over its lineages (a lineage is one meter-month) --------------
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    flags: dict[str, int] = defaultdict(int)
    for ln in stored.meter_lines:
        a = acc[ln.meter]
        a["quantity"] += ln.quantity
        a["co2_t"] += ln.co2_t
        a["ch4_t"] += ln.ch4_t
        a["n2o_t"] += ln.n2o_t
        a["co2e_t"] += ln.co2e_t
        a["covered_s"] += ln.covered_s
        flags[ln.meter] |= ln.flags
        lin = stored.lineages.get(ln.lineage)
        ncv = next((f for f in lin.factors if f.role == "ncv"), None) if lin else None
        if ncv is not None:
            a["energy_gj"] += ln.quantity * ncv.value

    def source(m: Any) -> SourceLine:
        a = acc.get(m.id, {})
        return SourceLine(
            meter=m.id,
            site=m.site,
            kind=m.kind.value,
            fuel=m.fuel,
            quantity=a.get("quantity", 0.0),
            unit=unit_of[m.id],
            energy_gj=a.get("energy_gj", 0.0) if m.kind is MeterKind.FUEL else None,
            co2_t=a.get("co2_t", 0.0),
            ch4_t=a.get("ch4_t", 0.0),
            ch4_co2e_t=a.get("ch4_t", 0.0) * gwp[0],
            n2o_t=a.get("n2o_t", 0.0),
            n2o_co2e_t=a.get("n2o_t", 0.0) * gwp[1],
            co2e_t=a.get("co2e_t", 0.0),
        )

    fuel_sources = [source(m) for m in meters if m.kind is MeterKind.FUEL]
    by_fuel: dict[str, FuelLine] = {}
    for s in fuel_sources:
        assert s.fuel is not None
        f = by_fuel.get(s.fuel)
        if f is None:
            f = by_fuel[s.fuel] = FuelLine(
                fuel=s.fuel,
                quantity=0,
                unit=s.unit,
                energy_gj=0,
                co2e_t=0,
                meters=[],
                **dict.fromkeys(GASES, 0.0),
            )
        f.quantity += s.quantity
        f.energy_gj += s.energy_gj or 0.0
        for g in (*GASES, "co2e_t"):
            setattr(f, g, getattr(f, g) + getattr(s, g))
        f.meters.append(s.meter)

    # --- sites and the plant ------------------------------------------------------
    zero = dict.fromkeys(SITE_COLUMNS, 0.0)
    site_totals = []
    plant_sum = dict(zero)
    for site in sites:
        sums = stored.site_sums.get(site, zero)
        for c in SITE_COLUMNS:
            plant_sum[c] += sums[c]
        site_totals.append(
            SiteTotals(
                site=site,
                minutes_with_data=stored.site_minutes.get(site, 0),
                production_unit=green.production_unit(plant, site),
                **with_derived(dict(sums), gwp),
            )
        )
    # The plant's production has a unit only when every producing site counts in the same.
    units = {s.production_unit for s in site_totals if s.production_unit is not None}
    totals = Totals(
        production_unit=units.pop() if len(units) == 1 else None,
        **with_derived(plant_sum, gwp),
    )

    activity = []
    act_totals: dict[tuple[str, str], float] = defaultdict(float)
    for m in meters:
        a = acc.get(m.id, {})
        q = a.get("quantity", 0.0)
        activity.append(
            ActivityLine(
                meter=m.id,
                site=m.site,
                kind=m.kind.value,
                quantity=q,
                unit=unit_of[m.id],
                quantity_meter_unit=q * own_per[m.id],
                meter_unit=own_unit[m.id],
                energy_gj=a.get("energy_gj", 0.0)
                if m.kind is MeterKind.FUEL and not restated
                else None,
                coverage_pct=min(100.0, 100.0 * a.get("covered_s", 0.0) / seconds),
                flags=describe(flags.get(m.id, 0)),
                **_signed_counts(stored.reading_counts.get(m.id, (0, 0, 0))),
            )
        )
        act_totals[(m.kind.value, unit_of[m.id])] += q
    coverage = sum(x.coverage_pct for x in activity) / len(activity) if activity else 0.0

    # --- factors and lineage ----------------------------------------------------------
    used: dict[tuple[str, int, str], FactorUsed] = {}
    lineage = []
    for lin in sorted(stored.lineages.values(), key=lambda x: (x.subject, x.month)):
        for ref in lin.factors:
            key = (ref.factor_id, ref.version, ref.role)
            u = used.get(key)
            if u is None:
                u = used[key] = FactorUsed(
                    **asdict(ref),
                    used_by=[],
                    months=[],
                    **_as_published(library, ref.factor_id, ref.version),
                )
            if lin.subject not in u.used_by:
                u.used_by.append(lin.subject)
            if lin.month not in u.months:
                u.months.append(lin.month)
        lineage.append(
            LineagePublic(
                id=lin.id,
                subject=lin.subject,
                month=lin.month,
                method=lin.method,
                gwp=lin.gwp,
                quantity_unit=lin.quantity_unit,
                ef_co2e_t_per_unit=lin.ef_co2e,
                factors=[f"{f.factor_id}@v{f.version}" for f in lin.factors],
                basis=lin.basis,
                notes=lin.notes,
            )
        )

    certificates = [
        CertificateAllocated(
            instrument=a.instrument,
            contract=a.contract,
            type=a.type,
            site=a.site,
            serials=a.serials,
            claim_start=a.claim_start,
            claim_end=a.claim_end,
            instrument_mwh=a.instrument_mwh,
            allocated_mwh=a.allocated_mwh,
            emission_factor_t_per_mwh=a.ef_t_per_mwh,
            source=a.source,
        )
        for a in stored.allocations
    ]
    offsets = [
        OffsetRetired(
            retirement=r.id,
            offset=r.offset,
            project=r.project,
            kind=kind(Standard(r.standard)),
            standard=r.standard,
            corresponding_adjustment=r.corresponding_adjustment,
            registry=r.registry,
            vintage=r.vintage,
            serials=f"{r.serial_prefix}{r.serial_start}-{r.serial_prefix}{r.serial_end}",
            tco2e=r.tco2e,
            retired_on=r.retired_on,
            purpose=r.purpose,
            site=r.site,
            period_start=r.period_start,
            period_end=r.period_end,
        )
        for r in stored.retirements
    ]
    offsets_t = sum(o.tco2e for o in offsets)
    scope2_t = totals.scope2_market_t if basis == "market" else totals.scope2_location_t
    n = net_emissions(totals.scope1_t, scope2_t, offsets_t, basis)
    zc_total, zc_sites = green.zero_carbon_status(
        stored.site_sums,
        sites,
        [gq.Retired(r.id, r.site, r.tco2e) for r in stored.retirements],
        basis,
        plant_wide,
    )
    offsetting = net_inventory(
        {
            x: SiteGross(
                stored.site_sums.get(x, zero)["scope1_t"],
                stored.site_sums.get(x, zero)["scope2_location_t"],
                stored.site_sums.get(x, zero)["scope2_market_t"],
            )
            for x in sites
        },
        [
            Retired(f"{r.offset}:{r.serials}", r.site, Standard(r.standard), r.tco2e)
            for r in stored.retirements
        ],
        basis,
        plant_wide,
    )
    line_rows = [] if restated else _line_rows(plant, params, stored)
    notes = [
        "Scope 1 and Scope 2 are gross; offsets change only the net figure.",
        "Exported electricity and heat are deducted in the China total (GB/T 32150) only.",
    ]
    notes += sorted({n for lin in stored.lineages.values() for n in lin.notes})
    factors = sorted(used.values(), key=lambda f: (f.factor_id, f.version, f.role))
    if restatement is not None:
        notes.insert(
            0,
            f"Restatement {restatement.id} ({restatement.label}), made "
            f"{restatement.created_at:%Y-%m-%d}: the totals per site are its recomputation of "
            f"the local days {restatement.first_day}..{restatement.last_day}; the live account "
            "is unchanged (version=live). Per-source breakdowns, lineage, certificate coverage "
            "and per-line intensity exist for the live account only; activity quantities and "
            "coverage come from the same stored readings.",
        )
        factors = _restated_factors(restatement, library)
        by_fuel = {}
        fuel_sources = []
        lineage = []
        certificates = []
    return Inventory(
        version=green.version_public(restatement),
        plant=plant.name,
        timezone=plant.timezone,
        gwp=plant.gwp.value,
        method=plant.method.value,
        period=PeriodPublic(
            start=start.astimezone(zone), end=end.astimezone(zone), hours=seconds / 3600
        ),
        sites=sites,
        totals=totals,
        by_site=site_totals,
        scope1=Scope1(
            total_t=totals.scope1_t,
            by_fuel=list(by_fuel.values()),
            by_source=fuel_sources,
            **{g: getattr(totals, f"scope1_{g}") for g in GASES},
        ),
        scope2=Scope2(
            location_t=totals.scope2_location_t,
            market_t=totals.scope2_market_t,
            heat_t=totals.scope2_heat_t,
            grid_import_mwh=totals.grid_import_mwh,
            covered_mwh=totals.covered_mwh,
            supplier_mwh=totals.supplier_mwh,
            residual_mwh=totals.residual_mwh,
            heat_import_gj=totals.heat_import_gj,
            by_source=[] if restated else [source(m) for m in meters if m.kind in _IMPORTS],
        ),
        exports=Exports(
            grid_export_mwh=totals.grid_export_mwh,
            heat_export_gj=totals.heat_export_gj,
            export_deduction_t=totals.export_deduction_t,
        ),
        activity=activity,
        activity_totals=[
            ActivityTotal(kind=k, unit=u, quantity=q) for (k, u), q in sorted(act_totals.items())
        ],
        coverage_pct=coverage,
        factors=factors,
        lineage=lineage,
        certificates=certificates,
        offsets=offsets,
        net=green.from_net(Net, n),
        offsetting=OffsettingPart.model_validate(asdict(offsetting)),
        zero_carbon=ZeroCarbonPart(
            scope2_basis=basis,
            rule=green.ZERO_CARBON_RULE.format(basis=basis),
            total=zc_total,
            sites=zc_sites,
        ),
        intensity=IntensityPart(
            scope2_basis=basis,
            sites=green.site_intensity(plant, stored.site_sums, sites, basis),
            lines=green.line_intensity(plant, line_rows, stored.site_sums, sites, basis),
        ),
        notes=notes,
    )


def _line_rows(plant: Plant, params: MeterParams, stored: Stored) -> list[gq.LineRole]:
    """Per meter of a production line: its stored quantity and CO2e, as line rows."""
    role_of = dict(zip(params.ids, (int(r) for r in params.role), strict=True))
    lines = {m.id: (m.line, m.site) for m in plant.meters if m.line is not None}
    out = []
    for ln in stored.meter_lines:
        where = lines.get(ln.meter)
        if where is not None and where[0] is not None:
            out.append(gq.LineRole(where[0], where[1], role_of[ln.meter], ln.quantity, ln.co2e_t))
    return out


def _restated_factors(r: gq.RestatementRow, library: FactorLibrary | None) -> list[FactorUsed]:
    out = []
    for f in r.factors:
        fid, version = str(f.get("factor_id", "")), int(f.get("version", 0))
        known = None
        if library is not None and fid in library:
            try:
                known = library.get(fid, version)
            except FactorError:  # a version only the restatement's extra files held
                known = None
        files = ", ".join(str(x.get("name", "")) for x in r.factor_files)
        out.append(
            FactorUsed(
                factor_id=fid,
                version=version,
                role="",
                value=float(f.get("value", 0.0)),
                unit=str(f.get("unit", "")),
                source=known.source if known else f"restatement {r.id} factor files: {files}",
                table=known.table if known else "",
                data_year=known.data_year if known else None,
                verified=known.verified if known else "",
                fallback=None,
                used_by=[],
                months=[],
            )
        )
    return out


def _as_published(library: FactorLibrary, factor_id: str, version: int) -> dict[str, Any]:
    """The factor's value and unit as its source document prints them (None for a
    factor the library no longer holds, e.g. one of a removed user file)."""
    try:
        f = library.get(factor_id, version)
    except FactorError:
        return {"source_value": None, "source_unit": None}
    return {"source_value": f.value, "source_unit": f.unit}


def _signed_counts(counts: tuple[int, int, int]) -> dict[str, int | float | None]:
    """A meter's stored readings, those unsigned and their share, and those implausible
    (data quality)."""
    n, unsigned, implausible = counts
    return {
        "readings": n,
        "unsigned_readings": unsigned,
        "unsigned_share_pct": 100.0 * unsigned / n if n else None,
        "implausible_readings": implausible,
    }
