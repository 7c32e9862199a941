"""The footprint declaration (ISO 14067 / GB/T 24067 partial CFP, cradle-to-gate) and the
EU Battery Regulation template, as plain structures the API renders as JSON or PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from carbonstream import __version__
from carbonstream.config.plant import Plant
from carbonstream.config.products import Product
from carbonstream.footprint.model import LotFootprint, ProductFootprint

STANDARDS = [
    "ISO 14067:2018 Greenhouse gases — Carbon footprint of products",
    "GB/T 24067-2024 温室气体 产品碳足迹 量化要求和指南",
]
# ISO 14044 allocation order, which ISO 14067 and GB/T 24067 follow. Clause numbers of
# ISO 14067 itself are not confirmed in our sources: the ISO 14044 clause is cited.
ALLOCATION_CLAUSE = "ISO 14044:2006 4.3.4.2 (avoid; physical relationship; other, e.g. economic)"


def declaration(
    plant: Plant, product: Product, fp: ProductFootprint, lots: list[LotFootprint]
) -> dict[str, Any]:
    """A structured partial-CFP declaration: boundary, declared unit, result, allocation,
    data quality, exclusions, factors and lineage."""
    rules = {ln: plant.footprint.line(ln) for ln in product.lines}
    factors: dict[tuple[str, int], dict[str, Any]] = {}
    lineage: set[int] = set()
    meters: set[str] = set()
    for x in lots:
        for f in [*x.energy.factors, *(m.factor for m in x.materials)]:
            factors[(f.id, f.version)] = f.model_dump()
        for t in x.transport:
            factors[(t.factor.id, t.factor.version)] = t.factor.model_dump()
        lineage.update(x.energy.lineage_ids)
        meters.update(x.energy.meters)
    p = fp.parts
    return {
        "document": "partial carbon footprint of a product (cradle-to-gate)",
        "standards": STANDARDS,
        "organisation": plant.name,
        "product": {
            "id": product.id,
            "name": {"zh": product.name.zh, "en": product.name.en},
            "cn_code": product.cbam.cn_code if product.cbam else None,
        },
        "declared_unit": f"1 {product.declared_unit}",
        "period": {"start": fp.start.isoformat(), "end": fp.end.isoformat()},
        "result": {
            "kgco2e_per_declared_unit": {
                "market_based_electricity": p.kgco2e_per_unit_market,
                "location_based_electricity": p.kgco2e_per_unit_location,
            },
            "headline_basis": "market_based_electricity",
            "total_tco2e": {"market": p.total_market_t, "location": p.total_location_t},
            "quantity": fp.quantity,
            "lots": fp.lots,
            "by_stage_tco2e": {
                "raw_materials": p.materials_t,
                "inbound_transport": p.transport_t,
                "production_energy_market": p.energy_market_t,
                "production_energy_location": p.energy_location_t,
                "other": p.other_t,
            },
            "gwp": f"IPCC {plant.gwp.value}, 100-year",
            "enough_data": fp.lots > 0,
        },
        "system_boundary": {
            "type": "cradle-to-gate",
            "included": [
                "raw materials from the bill of materials (GHG Protocol Scope 3 category 1)",
                "inbound transport of materials (category 4)",
                "fuel combustion on the production line (Scope 1)",
                "purchased electricity and heat of the line (Scope 2, both bases)",
                "upstream of fuels and electricity, grid T&D losses (category 3)",
            ],
            "excluded": [
                "distribution, use and end of life (a partial footprint stops at the gate)",
                "capital goods, employee travel and overheads not metered on the line",
            ],
        },
        "allocation": {
            "standard_order": ALLOCATION_CLAUSE,
            "lines": [
                {
                    "line": ln,
                    "method": r.allocation.value,
                    "justification": r.justification
                    or "physical relationship: output mass or units of each lot",
                }
                for ln, r in rules.items()
            ],
            "time_resolution": "per minute bucket of the stored account, shared by the "
            "output each lot made in that minute; idle minutes are reported, not allocated",
            "lot_assignment": "a lot belongs to the period in which it ended",
        },
        "data_quality": {
            "energy": "primary: metered on the line (meters below), with lineage records",
            "meters": sorted(meters),
            "lineage_ids": sorted(lineage),
            "supplier_specific_share_of_materials": fp.supplier_specific_share,
            "factor_verification_marks": fp.verification_marks,
            "critical_review": "none (ISO/TS 14071 critical review not performed)",
        },
        "exclusions": fp.exclusions,
        "factors": [factors[k] for k in sorted(factors)],
        "lot_ids": fp.lot_ids,
        "generated_at": dt.datetime.now(plant.zone).isoformat(),
        "generator": f"carbonstream {__version__}",
    }


def battery(
    plant: Plant, product: Product, fp: ProductFootprint, site: str | None
) -> dict[str, Any]:
    """EU Battery Regulation (EU) 2023/1542 Art. 7 fields, as far as a factory knows them.

    kg CO2e per kWh of total energy over the service life = footprint per battery /
    service_life_kwh_per_unit. Distribution and end of life are not known to the factory:
    left empty and said so. The calculation delegated act is not adopted (reference
    notes): the figures follow this system's method, not the act's."""
    assert product.battery is not None
    life = product.battery.service_life_kwh_per_unit
    p = fp.parts
    n = fp.quantity

    def per_kwh(t: float) -> float | None:
        return t * 1000.0 / n / life if n > 0 else None

    return {
        "regulation": "Regulation (EU) 2023/1542, Article 7 (carbon footprint declaration)",
        "manufacturer": plant.name,
        "battery_model": product.battery.model,
        "battery_category": product.battery.category,
        "manufacturing_plant": {"plant": plant.name, "site": site},
        "functional_unit": "1 kWh of total energy provided over the expected service life",
        "service_life_kwh_per_battery": life,
        "kgco2e_per_kwh": per_kwh(p.total_market_t),
        "kgco2e_per_kwh_location_based_electricity": per_kwh(p.total_location_t),
        "by_life_cycle_stage_kgco2e_per_kwh": {
            "raw_material_acquisition_and_pre_processing": per_kwh(p.materials_t + p.transport_t),
            "main_product_production": per_kwh(p.energy_market_t),
            "distribution": None,
            "end_of_life_and_recycling": None,
        },
        "not_known_to_the_factory": ["distribution", "end_of_life_and_recycling"],
        "electricity_modelling": "market-based: contractual instruments allocated to the "
        "site (GECs, green-power trades, PPAs), residual proxy for the rest; the location-"
        "based figure is given beside it. Whether the final delegated act accepts this is "
        "not confirmed.",
        "eu_declaration_of_conformity": None,
        "public_study_link": None,
        "period": {"start": fp.start.isoformat(), "end": fp.end.isoformat()},
        "batteries": n,
        "status": "template: the calculation and format delegated acts were not adopted "
        "when this was written; check the act in force before submitting",
    }
