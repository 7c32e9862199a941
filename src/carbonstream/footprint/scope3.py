"""Scope 3 categories 1, 3 and 4 for a period: a block beside Scope 1 and 2.

Category 1 and 4 come from the lots finished in the period times their bills of
materials (materials consumed in production, a proxy for goods purchased: said in the
block). Category 3 is plant-wide: well-to-tank of every fuel metered (3A), upstream of
purchased electricity where a factor is given (3B), and generation of the grid's T&D
losses (3C). The block is never in the zero-carbon net unless the plant file says
``footprint.scope3_in_net: true``.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core.upstream import Kind, UpstreamFactor, UpstreamLibrary
from carbonstream.footprint.compute import ref, upstream_parts
from carbonstream.footprint.model import FactorRef, MaterialPart, TransportPart
from carbonstream.footprint.service import library, lots_ending
from carbonstream.localtime import LocalTime
from carbonstream.store import footprint as q
from carbonstream.store.db import AsyncConn


class Category(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: int = Field(description="GHG Protocol Scope 3 category (1, 3 or 4).")
    name: str
    tco2e: float
    method: str
    factors: list[FactorRef]
    exclusions: list[str]


class Scope3Block(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: LocalTime
    end: LocalTime
    categories: list[Category]
    total_t: float
    in_net: bool = Field(description="Whether the zero-carbon net counts this block.")
    note: str
    net_with_scope3_t: float | None = Field(
        default=None,
        description="Only with footprint.scope3_in_net: the inventory's net plus this block.",
    )
    zero_carbon_with_scope3: bool | None = None


def with_net(block: Scope3Block, net_t: float) -> Scope3Block:
    """The block with the net that counts it, when the plant file says Scope 3 is in the net;
    unchanged (no such figure) otherwise."""
    if not block.in_net:
        return block
    total = net_t + block.total_t
    return block.model_copy(
        update={"net_with_scope3_t": total, "zero_carbon_with_scope3": total <= 0}
    )


def _regional(lib: UpstreamLibrary, kind: Kind, region: str, day: dt.date) -> UpstreamFactor | None:
    return lib.find(kind, region, day) or lib.find(kind, region.split("-")[0], day)


async def scope3(
    conn: AsyncConn, plant: Plant, start: dt.datetime, end: dt.datetime
) -> Scope3Block:
    lib = await library(conn, plant)
    day = end.astimezone(plant.zone).date() - dt.timedelta(days=1)
    # Categories 1 and 4 from the lots finished in the period and their bills of materials
    # (no energy allocation needed: quantity x BOM x factor).
    products = {p.id: p for p in plant.footprint.products}
    lots = await lots_ending(conn, plant, list(products), start, end)
    boms = await q.boms(conn, list(products))
    mats: list[MaterialPart] = []
    legs: list[TransportPart] = []
    no_bom: set[str] = set()
    for lot in lots:
        lot_day = lot.start.astimezone(plant.zone).date()
        lot_mats, lot_legs, bom = upstream_parts(lib, lot, products[lot.product], boms, lot_day, [])
        mats += lot_mats
        legs += lot_legs
        if bom is None:
            no_bom.add(lot.product)
    c1_factors = {(x.factor.id, x.factor.version): x.factor for x in mats}
    c4_factors = {(x.factor.id, x.factor.version): x.factor for x in legs}
    c1 = Category(
        category=1,
        name="Purchased goods (materials of the lots finished in the period)",
        tco2e=sum(x.tco2e for x in mats),
        method="lot quantity x bill of materials x cradle-to-gate material factor "
        "(supplier-specific where given, else average data); materials consumed, not bought",
        factors=list(c1_factors.values()),
        exclusions=[f"product {p}: no bill of materials" for p in sorted(no_bom)]
        + (["no lot finished in the period"] if not lots else []),
    )
    c4 = Category(
        category=4,
        name="Upstream transport (inbound, distance-based)",
        tco2e=sum(x.tco2e for x in legs),
        method="material t x km x mode factor per t·km",
        factors=list(c4_factors.values()),
        exclusions=["bill-of-materials lines without a transport leg"],
    )
    # Category 3, plant-wide.
    sums = await q.meter_sums(conn, start, end)
    used: dict[tuple[str, int], FactorRef] = {}
    excl: set[str] = set()
    c3 = 0.0
    for m in plant.meters:
        qty, co2e = sums.get(m.id, (0.0, 0.0))
        if qty <= 0:
            continue
        region = plant.site_region(m.site)
        if m.kind is MeterKind.FUEL and m.fuel is not None:
            f = lib.find(Kind.FUEL_UPSTREAM, m.fuel, day)
            if f is None:
                excl.add(f"3A upstream of {m.fuel}: no factor")
                continue
            used[(f.id, f.version)] = ref(f)
            c3 += qty * f.per_canonical
        elif m.kind is MeterKind.GRID_IMPORT:
            loss = _regional(lib, Kind.TD_LOSS, region, day)
            if loss is None:
                excl.add(f"3C T&D losses: no loss rate for {region}")
            else:
                used[(loss.id, loss.version)] = ref(loss)
                c3 += co2e * loss.per_canonical
            up = _regional(lib, Kind.ELECTRICITY_UPSTREAM, region, day)
            if up is None:
                excl.add("3B upstream of purchased electricity: no factor given")
            else:
                used[(up.id, up.version)] = ref(up)
                c3 += qty * up.per_canonical
    c3_cat = Category(
        category=3,
        name="Fuel- and energy-related activities (not in Scope 1 or 2)",
        tco2e=c3,
        method="3A fuel x well-to-tank factor; 3B grid MWh x upstream factor; "
        "3C location-based grid tCO2 x T&D loss rate",
        factors=list(used.values()),
        exclusions=sorted(excl),
    )
    cats = [c1, c3_cat, c4]
    return Scope3Block(
        start=start,
        end=end,
        categories=cats,
        total_t=sum(c.tco2e for c in cats),
        in_net=plant.footprint.scope3_in_net,
        note="Scope 3 is reported beside Scope 1 and 2, "
        + (
            "and counted in the zero-carbon net (footprint.scope3_in_net: true)."
            if plant.footprint.scope3_in_net
            else "never in the zero-carbon net (footprint.scope3_in_net is false)."
        ),
    )
