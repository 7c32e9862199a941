"""The inventory as tables: one (title, columns, rows) per section.

The one tabular shape of an inventory, rendered to CSV and XLSX by the API and to the
monthly workbook by :mod:`carbonstream.monthly.xlsx`. Rows are plain dicts; no file
format is chosen here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.domain.green_model import ZeroCarbonStatus
from carbonstream.domain.inventory_model import (
    CertificateAllocated,
    CreditUsePublic,
    FuelLine,
    Inventory,
    LineagePublic,
    NetStatusPublic,
    SourceLine,
)

Section = tuple[str, list[str], list[dict[str, Any]]]

_SUMMARY = [
    ("scope1_t", "tCO2e"),
    ("scope1_co2_t", "tCO2"),
    ("scope1_ch4_t", "tCH4 (mass of the gas)"),
    ("scope1_ch4_co2e_t", "tCO2e (CH4 x GWP)"),
    ("scope1_n2o_t", "tN2O (mass of the gas)"),
    ("scope1_n2o_co2e_t", "tCO2e (N2O x GWP)"),
    ("scope2_location_t", "tCO2e"),
    ("scope2_market_t", "tCO2e"),
    ("scope2_heat_t", "tCO2e"),
    ("ghg_total_location_t", "tCO2e"),
    ("ghg_total_market_t", "tCO2e"),
    ("cn_total_t", "tCO2e"),
    ("grid_import_mwh", "MWh"),
    ("covered_mwh", "MWh"),
    ("supplier_mwh", "MWh"),
    ("residual_mwh", "MWh"),
    ("heat_import_gj", "GJ"),
    ("grid_export_mwh", "MWh"),
    ("heat_export_gj", "GJ"),
    ("export_deduction_t", "tCO2e"),
    ("generation_mwh", "MWh"),
]


def summary_rows(inv: Inventory) -> list[dict[str, Any]]:
    """The headline figures: item, value, unit."""
    rows: list[dict[str, Any]] = [
        {"item": "version", "value": inv.version.label, "unit": ""},
        {"item": "plant", "value": inv.plant, "unit": ""},
        {"item": "period_start", "value": inv.period.start, "unit": inv.timezone},
        {"item": "period_end", "value": inv.period.end, "unit": f"{inv.timezone}, exclusive"},
        {"item": "sites", "value": ", ".join(inv.sites), "unit": ""},
        {"item": "gwp", "value": inv.gwp, "unit": ""},
    ]
    t = inv.totals.model_dump()
    rows += [{"item": k, "value": t[k], "unit": u} for k, u in _SUMMARY]
    rows.append(
        {
            "item": "production",
            "value": t["production"],
            "unit": t["production_unit"] or "(sites differ: see Sites)",
        }
    )
    net = inv.net
    rows += [
        {"item": "coverage_pct", "value": inv.coverage_pct, "unit": "%"},
        {"item": "offsets_retired_t", "value": net.offsets_t, "unit": "tCO2e"},
        {"item": f"net_t ({net.scope2_basis}-based)", "value": net.net_t, "unit": "tCO2e"},
        {"item": "zero_carbon", "value": net.zero_carbon, "unit": ""},
        {"item": "remaining_t", "value": net.remaining_t, "unit": "tCO2e"},
    ]
    return rows


def _columns(model: type[BaseModel], *leave_out: str) -> list[str]:
    """A section of one model: its fields in their order, the JSON's, less those left out."""
    return [f for f in model.model_fields if f not in leave_out]


def sections(inv: Inventory) -> list[Section]:
    """Every section of the inventory, the summary first."""
    src_cols = _columns(SourceLine)
    site_cols = [
        "site",
        "minutes_with_data",
        *SITE_COLUMNS,
        "ghg_total_location_t",
        "ghg_total_market_t",
        "cn_total_t",
        "production_unit",
    ]
    return [
        ("Summary", ["item", "value", "unit"], summary_rows(inv)),
        ("Sites", site_cols, [s.model_dump() for s in inv.by_site]),
        (
            "Scope 1 by fuel",
            _columns(FuelLine),
            [f.model_dump() for f in inv.scope1.by_fuel],
        ),
        ("Scope 1 by source", src_cols, [s.model_dump() for s in inv.scope1.by_source]),
        ("Scope 2 by source", src_cols, [s.model_dump() for s in inv.scope2.by_source]),
        (
            "Activity",
            [
                "meter",
                "site",
                "kind",
                "quantity",
                "unit",
                "quantity_meter_unit",
                "meter_unit",
                "energy_gj",
                "coverage_pct",
                "flags",
            ],
            [a.model_dump() for a in inv.activity],
        ),
        (
            "Factors",
            [
                "factor_id",
                "version",
                "role",
                "value",
                "unit",
                "source_value",
                "source_unit",
                "source",
                "table",
                "data_year",
                "verified",
                "fallback",
                "used_by",
                "months",
            ],
            [f.model_dump() for f in inv.factors],
        ),
        (
            "Lineage",
            _columns(LineagePublic),
            [
                x.model_dump() | {"basis": [f"{k}: {v}" for k, v in x.basis.items()]}
                for x in inv.lineage
            ],
        ),
        (
            "Certificates",
            _columns(CertificateAllocated),
            [c.model_dump() for c in inv.certificates],
        ),
        (
            "Offsets",
            [
                "retirement",
                "offset",
                "project",
                "kind",
                "standard",
                "registry",
                "vintage",
                "corresponding_adjustment",
                "serials",
                "tco2e",
                "retired_on",
                "purpose",
                "site",
                "period_start",
                "period_end",
            ],
            [o.model_dump() for o in inv.offsets],
        ),
        (
            "Zero carbon",
            _columns(ZeroCarbonStatus, "retirements"),
            [
                {**z.model_dump(), "site": z.site or "(all)"}
                for z in [*inv.zero_carbon.sites, inv.zero_carbon.total]
            ],
        ),
        (
            "Net both bases",
            ["item", *_columns(NetStatusPublic, "credits")],
            [
                {
                    **n.model_dump(exclude={"credits"}),
                    "item": f"{n.site or '(all)'} {n.scope2_basis}",
                    "site": n.site or "(all)",
                }
                for n in [
                    inv.offsetting.market,
                    inv.offsetting.location,
                    *inv.offsetting.sites_market,
                    *inv.offsetting.sites_location,
                ]
            ],
        ),
        (
            "Credits applied",
            _columns(CreditUsePublic),
            [
                c.model_dump()
                for c in getattr(inv.offsetting, inv.offsetting.zero_carbon_basis).credits
            ],
        ),
        (
            "Intensity",
            ["line", "site", "unit", "production", "emissions_t", "t_per_unit"],
            [{**x.model_dump(), "line": ""} for x in inv.intensity.sites]
            + [x.model_dump() for x in inv.intensity.lines],
        ),
    ]
