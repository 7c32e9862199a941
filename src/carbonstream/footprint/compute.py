"""Lot footprints from a line's minute series, its lots, bills of materials and factors.

Energy: the line's minute figures (Scope 1, Scope 2 both ways, grid MWh, fuels) are shared
among the lots it made (``core.allocation``). Materials (category 1) and inbound transport
(category 4): the bill of materials valid when the lot started, times the lot's quantity.
Upstream of energy (category 3): well-to-tank of the allocated fuels, upstream of the
allocated grid electricity where a factor is given, and the generation of the grid's T&D
losses (allocated location-based grid tCO2e x loss rate). Nothing is silently left out:
each part that could not be counted is written in ``exclusions``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.config.products import Product
from carbonstream.core.allocation import FUEL_PREFIX, LineSeries, allocate
from carbonstream.core.lots import Lot, key_unit
from carbonstream.core.upstream import Bom, Kind, UpstreamFactor, UpstreamLibrary
from carbonstream.footprint.model import (
    AllocationTrace,
    EnergyPart,
    FactorRef,
    LineBalance,
    LotFootprint,
    MaterialPart,
    ProductFootprint,
    Totals,
    TransportPart,
)


@dataclass
class LineResult:
    lots: list[LotFootprint]
    balance: LineBalance
    exclusions: list[str] = field(default_factory=list)


def ref(f: UpstreamFactor) -> FactorRef:
    return FactorRef(
        id=f.id,
        version=f.version,
        value=f.value,
        unit=f.unit,
        data_type=f.data_type.value,
        supplier=f.supplier,
        database=f.database,
        source=f.source,
        verified=f.verified.value,
    )


def footprint_line(
    plant: Plant,
    library: UpstreamLibrary,
    series: LineSeries,
    lots: Sequence[Lot],
    boms: Mapping[str, Sequence[Bom]],
) -> LineResult:
    """Every lot of one line in the series' window, and the line's balance."""
    for lot in lots:
        if lot.line != series.line:
            raise ValueError(f"lot {lot.id} is on line {lot.line}, not {series.line}")
    rule = plant.footprint.line(series.line)
    products = {p.id: p for p in plant.footprint.products}
    names = series.names
    values = series.matrix()
    keys = np.array([lot.key(products[lot.product], rule.allocation) for lot in lots])
    start_s = np.array([int(lot.start.timestamp()) for lot in lots], dtype=np.int64)
    end_s = np.array([int(lot.end.timestamp()) for lot in lots], dtype=np.int64)
    a = allocate(series.bucket_s, values, start_s, end_s, keys.astype(np.float64))
    region = plant.site_region(series.site)
    out = []
    for i, lot in enumerate(lots):
        product = products[lot.product]
        col = dict(zip(names, a.lots[i].tolist(), strict=True))
        trace = AllocationTrace(
            method=rule.allocation.value,
            key=float(keys[i]),
            key_unit=key_unit(product, rule.allocation),
            justification=rule.justification,
            minutes=int(a.minutes[i]),
            mean_share=float(a.mean_share[i]),
        )
        out.append(_lot(plant, library, series, lot, product, col, trace, boms, region))
    window_end = int(series.bucket_s[-1]) + 60 if series.bucket_s.size else 0
    window_start = int(series.bucket_s[0]) if series.bucket_s.size else 0
    balance = LineBalance(
        line=series.line,
        start=dt.datetime.fromtimestamp(window_start, dt.UTC),
        end=dt.datetime.fromtimestamp(window_end, dt.UTC),
        total=dict(zip(names, values.sum(axis=0).tolist(), strict=True)),
        allocated=dict(zip(names, a.lots.sum(axis=0).tolist(), strict=True)),
        unallocated=dict(zip(names, a.unallocated.tolist(), strict=True)),
    )
    return LineResult(out, balance)


def _local_day(plant: Plant, when: dt.datetime) -> dt.date:
    return when.astimezone(plant.zone).date()


def bom_for(boms: Sequence[Bom], day: dt.date) -> Bom | None:
    valid = [b for b in boms if b.valid_from <= day]
    return max(valid, key=lambda b: (b.valid_from, b.version)) if valid else None


def _lot(
    plant: Plant,
    library: UpstreamLibrary,
    series: LineSeries,
    lot: Lot,
    product: Product,
    col: dict[str, float],
    trace: AllocationTrace,
    boms: Mapping[str, Sequence[Bom]],
    region: str,
) -> LotFootprint:
    day = _local_day(plant, lot.start)
    exclusions: list[str] = []
    used: list[FactorRef] = []
    # Category 3A: well-to-tank of each fuel the line burnt in the lot's share.
    fuels = {k.removeprefix(FUEL_PREFIX): v for k, v in col.items() if k.startswith(FUEL_PREFIX)}
    upstream_fuels = 0.0
    for fuel, qty in sorted(fuels.items()):
        f = library.find(Kind.FUEL_UPSTREAM, fuel, day)
        if f is None:
            if qty > 0:
                exclusions.append(f"upstream of {fuel} (category 3A): no factor valid on {day}")
            continue
        used.append(ref(f))
        upstream_fuels += qty * f.per_canonical
    # Category 3B and 3C: upstream of grid electricity, and the generation of T&D losses.
    upstream_elec = 0.0
    td = 0.0
    if col["grid_mwh"] > 0:
        e = _regional(library, Kind.ELECTRICITY_UPSTREAM, region, day)
        if e is None:
            exclusions.append(
                "upstream of purchased electricity (category 3B): no factor given; the "
                "national life-cycle electricity factor includes combustion already in Scope 2"
            )
        else:
            used.append(ref(e))
            upstream_elec = col["grid_mwh"] * e.per_canonical
        loss = _regional(library, Kind.TD_LOSS, region, day)
        if loss is None:
            exclusions.append(f"grid T&D losses (category 3C): no loss rate for {region}")
        else:
            used.append(ref(loss))
            td = col["grid_location_t"] * loss.per_canonical
    energy = EnergyPart(
        scope1_t=col["scope1_t"],
        scope2_location_t=col["grid_location_t"] + col["heat_t"],
        scope2_market_t=col["grid_market_t"] + col["heat_t"],
        grid_mwh=col["grid_mwh"],
        heat_t=col["heat_t"],
        fuels=fuels,
        upstream_fuels_t=upstream_fuels,
        upstream_electricity_t=upstream_elec,
        td_losses_t=td,
        factors=used,
        meters=list(series.meters),
        lineage_ids=list(series.lineage_ids),
    )
    materials, transport, bom = upstream_parts(library, lot, product, boms, day, exclusions)
    exclusions.append(
        "other (process emissions, refrigerants, waste treatment): none metered on the line"
    )
    totals = make_totals(
        materials_t=sum(m.tco2e for m in materials),
        energy=energy,
        transport_t=sum(t.tco2e for t in transport),
        other_t=0.0,
        quantity=lot.quantity,
    )
    return LotFootprint(
        lot=lot.id,
        product=lot.product,
        line=lot.line,
        site=series.site,
        start=lot.start,
        end=lot.end,
        quantity=lot.quantity,
        declared_unit=lot.declared_unit,
        allocation=trace,
        energy=energy,
        materials=materials,
        transport=transport,
        bom_version=bom.version if bom else None,
        totals=totals,
        exclusions=exclusions,
    )


def upstream_parts(
    library: UpstreamLibrary,
    lot: Lot,
    product: Product,
    boms: Mapping[str, Sequence[Bom]],
    day: dt.date,
    exclusions: list[str],
) -> tuple[list[MaterialPart], list[TransportPart], Bom | None]:
    """Materials (category 1) and inbound transport (category 4) of a lot from the bill of
    materials valid on ``day``; what cannot be counted is appended to ``exclusions``."""
    materials: list[MaterialPart] = []
    transport: list[TransportPart] = []
    bom = bom_for(boms.get(product.id, ()), day)
    if bom is None:
        exclusions.append(
            f"materials (category 1) and inbound transport (category 4): no bill of materials "
            f"for {product.id} valid on {day}"
        )
    else:
        for ln in bom.lines:
            f = library.get(ln.factor, day)
            unit, per_unit = ln.canonical_quantity()
            qty = lot.quantity * per_unit
            materials.append(
                MaterialPart(
                    material=ln.material,
                    quantity=qty,
                    unit=unit,
                    tco2e=qty * f.per_canonical,
                    factor=ref(f),
                    cbam_see_direct=ln.cbam_see_direct,
                    cbam_see_indirect=ln.cbam_see_indirect,
                )
            )
            if ln.transport_mode is not None and ln.transport_km is not None:
                tf = library.find(Kind.TRANSPORT, ln.transport_mode, day)
                if tf is None:
                    exclusions.append(f"transport of {ln.material}: no {ln.transport_mode} factor")
                    continue
                t_km = qty * ln.transport_km
                transport.append(
                    TransportPart(
                        material=ln.material,
                        mode=ln.transport_mode,
                        t_km=t_km,
                        tco2e=t_km * tf.per_canonical,
                        factor=ref(tf),
                    )
                )
    return materials, transport, bom


def _regional(
    library: UpstreamLibrary, kind: Kind, region: str, day: dt.date
) -> UpstreamFactor | None:
    """The region's own factor, else its market's national one (CN-JS -> CN)."""
    return library.find(kind, region, day) or library.find(kind, region.split("-")[0], day)


def make_totals(
    materials_t: float, energy: EnergyPart, transport_t: float, other_t: float, quantity: float
) -> Totals:
    up = energy.upstream_t
    e_market = energy.scope1_t + energy.scope2_market_t + up
    e_location = energy.scope1_t + energy.scope2_location_t + up
    market = materials_t + e_market + transport_t + other_t
    location = materials_t + e_location + transport_t + other_t
    return Totals(
        materials_t=materials_t,
        energy_market_t=e_market,
        energy_location_t=e_location,
        transport_t=transport_t,
        other_t=other_t,
        total_market_t=market,
        total_location_t=location,
        kgco2e_per_unit_market=market * 1000.0 / quantity if quantity > 0 else 0.0,
        kgco2e_per_unit_location=location * 1000.0 / quantity if quantity > 0 else 0.0,
    )


def product_footprint(
    product: Product, start: dt.datetime, end: dt.datetime, lots: Sequence[LotFootprint]
) -> ProductFootprint:
    """A product over a period: the lots that ended in it, summed (per declared unit)."""
    mine = [x for x in lots if x.product == product.id and start < x.end <= end]
    qty = sum(x.quantity for x in mine)
    mat = sum(x.totals.materials_t for x in mine)
    tr = sum(x.totals.transport_t for x in mine)
    s1 = sum(x.energy.scope1_t for x in mine)
    s2l = sum(x.energy.scope2_location_t for x in mine)
    s2m = sum(x.energy.scope2_market_t for x in mine)
    up = sum(x.energy.upstream_t for x in mine)
    energy = EnergyPart(
        scope1_t=s1,
        scope2_location_t=s2l,
        scope2_market_t=s2m,
        grid_mwh=sum(x.energy.grid_mwh for x in mine),
        heat_t=sum(x.energy.heat_t for x in mine),
        fuels={},
        upstream_fuels_t=sum(x.energy.upstream_fuels_t for x in mine),
        upstream_electricity_t=sum(x.energy.upstream_electricity_t for x in mine),
        td_losses_t=sum(x.energy.td_losses_t for x in mine),
        factors=[],
        meters=[],
        lineage_ids=[],
    )
    totals = make_totals(mat, energy, tr, 0.0, qty)
    supplier = sum(
        m.tco2e for x in mine for m in x.materials if m.factor.data_type == "supplier_specific"
    )
    marks: Counter[str] = Counter()
    seen: set[tuple[str, int]] = set()
    for x in mine:
        for f in [
            *x.energy.factors,
            *(m.factor for m in x.materials),
            *(t.factor for t in x.transport),
        ]:
            if (f.id, f.version) not in seen:
                seen.add((f.id, f.version))
                marks[f.verified] += 1
    exclusions = sorted({e for x in mine for e in x.exclusions})
    return ProductFootprint(
        product=product.id,
        name_zh=product.name.zh,
        name_en=product.name.en,
        start=start,
        end=end,
        declared_unit=product.declared_unit,
        lots=len(mine),
        quantity=qty,
        parts=totals,
        scope1_t=s1,
        scope2_location_t=s2l,
        scope2_market_t=s2m,
        upstream_energy_t=up,
        electricity_mwh=energy.grid_mwh,
        lot_ids=[x.lot for x in mine],
        exclusions=exclusions,
        supplier_specific_share=supplier / mat if mat > 0 else 0.0,
        verification_marks=dict(sorted(marks.items())),
        note="" if mine else "no lot of this product ended in the period: nothing to declare",
    )
