"""The public disclosure of a plant for a year: aggregates only, nothing per meter.

What it holds (issue 12): monthly and annual Scope 1 and 2 on both bases; energy in tce
(the energy module's GB/T 2589 account, equivalent value); the green electricity share; offsets
retired with their serials; zero-carbon status; the product footprints the plant
publishes; the methodology; the head of the readings evidence chain. It is built from
figures, never from a row of a meter, so nothing meter-level can reach it; the test
``tests/api/test_disclosure.py`` walks every field against an allow-list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from carbonstream.config.plant import Plant
from carbonstream.core.energy import EnergyParams
from carbonstream.energy.stored import energy_account
from carbonstream.energy.tce import Grouping
from carbonstream.footprint import service
from carbonstream.footprint.scope3 import scope3
from carbonstream.store import footprint as q
from carbonstream.store import ledger
from carbonstream.store.db import AsyncConn
from carbonstream.store.queries.series import Bucket

METHODOLOGY = [
    "Scope 1: metered fuel x GB/T 32150 / NDRC method (or IPCC 2006 where configured), "
    "CO2e by the plant's GWP set.",
    "Scope 2: reported both ways (GHG Protocol): location-based with the MEE/NBS grid "
    "factor; market-based after green certificates, green-power trades and PPAs allocated "
    "to the site, with the national factor excluding market-traded non-fossil power as the "
    "residual proxy for the rest.",
    "Green electricity share = (MWh covered by contractual instruments + on-site generation "
    "not exported) / (grid import + on-site generation - export).",
    "Zero-carbon status: net = Scope 1 + Scope 2 (configured basis) - offsets retired for "
    "the year; zero-carbon when net <= 0. Scope 3 is not in the net unless configured.",
    "Product footprints: partial (cradle-to-gate) per ISO 14067 / GB/T 24067, line "
    "emissions allocated to lots per minute by mass (or units, or value for joint "
    "products), plus materials, upstream energy and inbound transport.",
]


async def energy_tce(
    conn: AsyncConn, ep: EnergyParams | None, start: dt.datetime, end: dt.datetime
) -> tuple[dict[str, float], float | None, str]:
    """Comprehensive energy consumption per local month and for the period, in tce
    (GB/T 2589 equivalent value, the energy module's account of the stored quantities)."""
    if ep is None:
        return {}, None, "energy in tce: not available (no energy parameters)"
    acc = await energy_account(conn, ep, start, end, Bucket.MONTH, Grouping.PLANT)
    # The account has a row per month; one without data stays "not available", never 0.
    months = {
        str(r["start"])[:7]: float(r["total_tce"]) for r in acc["buckets"] if r["coverage_pct"] > 0
    }
    total = float(acc["totals"]["plant"]["total_tce"]) if months else None
    return months, total, "energy: " + acc["method"]


def _green_share(grid: float, covered: float, generation: float, export: float) -> float | None:
    consumption = grid + generation - export
    if consumption <= 0:
        return None
    return (covered + max(generation - export, 0.0)) / consumption


async def disclosure(
    conn: AsyncConn, plant: Plant, year: int, ep: EnergyParams | None = None
) -> dict[str, Any]:
    zone = plant.zone
    start = dt.datetime(year, 1, 1, tzinfo=zone)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
    sums = await q.monthly_sums(conn, plant.timezone, start, end)
    tce, tce_total, tce_note = await energy_tce(conn, ep, start, end)
    months = [
        {
            "month": m.month,
            "scope1_t": m.scope1_t,
            "scope2_location_t": m.scope2_location_t,
            "scope2_market_t": m.scope2_market_t,
            "energy_tce": tce.get(m.month),
            "green_electricity_share": _green_share(
                m.grid_import_mwh, m.covered_mwh, m.generation_mwh, m.grid_export_mwh
            ),
        }
        for m in sums
    ]
    s1 = sum(m.scope1_t for m in sums)
    s2l = sum(m.scope2_location_t for m in sums)
    s2m = sum(m.scope2_market_t for m in sums)
    green = _green_share(
        sum(m.grid_import_mwh for m in sums),
        sum(m.covered_mwh for m in sums),
        sum(m.generation_mwh for m in sums),
        sum(m.grid_export_mwh for m in sums),
    )
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    held = {o.id: o for o in await ledger.offsets(conn)}
    # Retirements against this year's emissions (their period inside the year).
    rets = [
        r
        for r in await ledger.retirements(conn)
        if r.period_start >= first and r.period_end <= last
    ]
    retired = []
    for r in rets:
        o = held.get(r.offset)
        retired.append(
            {
                "project": o.project if o else "",
                "registry": o.registry if o else "",
                "vintage": o.vintage if o else None,
                "serials": str(r.serials),
                "tco2e": float(r.serials.count),
                "retired_on": r.retired_on.isoformat(),
            }
        )
    offsets_t = sum(float(r.serials.count) for r in rets)
    basis = plant.zero_carbon.scope2_basis
    gross = s1 + (s2m if basis == "market" else s2l)
    scope3_t = None
    if plant.footprint.scope3_in_net:
        scope3_t = (await scope3(conn, plant, start, end)).total_t
        gross += scope3_t
    net = gross - offsets_t
    products = []
    for pp in await service.all_products(conn, plant, start, end, published=True):
        f = pp.footprint
        products.append(
            {
                "product": f.product,
                "name": {"zh": f.name_zh, "en": f.name_en},
                "declared_unit": f.declared_unit,
                "quantity": f.quantity,
                "lots": f.lots,
                "kgco2e_per_unit_market": f.parts.kgco2e_per_unit_market if f.lots else None,
                "kgco2e_per_unit_location": f.parts.kgco2e_per_unit_location if f.lots else None,
                "boundary": "cradle-to-gate (partial footprint, ISO 14067 / GB/T 24067)",
            }
        )
    head = await q.chain_head(conn, last)
    return {
        "plant": plant.name,
        "slug": plant.footprint.disclosure.slug,
        "year": year,
        "timezone": plant.timezone,
        "months": months,
        "year_total": {
            "scope1_t": s1,
            "scope2_location_t": s2l,
            "scope2_market_t": s2m,
            "energy_tce": tce_total,
            "green_electricity_share": green,
        },
        "energy_note": tce_note,
        "offsets_retired": retired,
        "zero_carbon": {
            "scope2_basis": basis,
            "gross_t": gross,
            "scope3_in_net_t": scope3_t,
            "offsets_retired_t": offsets_t,
            "net_t": net,
            "zero_carbon": bool(sums) and net <= 0,
            "enough_data": bool(sums),
        },
        "products": products,
        "methodology": METHODOLOGY,
        "gwp": plant.gwp.value,
        "evidence_chain_head": None
        if head is None
        else {"day": head[0].isoformat(), "sha256": head[1], "readings": head[2]},
        "signature": {
            "algorithm": "Ed25519",
            "signed_bytes": "this document as served (sorted keys, no spaces, UTF-8)",
            "public_key": f"/public/{plant.footprint.disclosure.slug}/disclosure.pub.pem",
        },
    }
