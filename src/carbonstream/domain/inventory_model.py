"""The inventory of a period: scopes, exports, activity, factors, instruments, offsets, net.

A model of the domain: built by :mod:`carbonstream.domain.inventory`, served as JSON by
the API and read by the monthly report.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from carbonstream.domain.green_model import (
    LineIntensity,
    SiteIntensity,
    VersionPublic,
    ZeroCarbonStatus,
)
from carbonstream.footprint.scope3 import Scope3Block
from carbonstream.localtime import LocalTime

INVENTORY_SCHEMA = "carbonstream.inventory/v1"


class PeriodPublic(BaseModel):
    start: LocalTime
    end: LocalTime = Field(description="Exclusive.")
    hours: float


class Totals(BaseModel):
    """Sums of the stored site minutes (tCO2e, MWh, GJ) and the derived totals."""

    scope1_t: float = Field(description="tCO2e, all gases.")
    scope1_co2_t: float = Field(description="tCO2.")
    scope1_ch4_t: float = Field(description="tCH4: mass of the gas, not CO2e.")
    scope1_n2o_t: float = Field(description="tN2O: mass of the gas, not CO2e.")
    scope2_location_t: float
    scope2_market_t: float
    scope2_heat_t: float
    grid_import_mwh: float
    covered_mwh: float
    supplier_mwh: float
    residual_mwh: float
    heat_import_gj: float
    grid_export_mwh: float
    heat_export_gj: float
    export_deduction_t: float
    generation_mwh: float
    production: float = Field(description="Output of the production meters, in production_unit.")
    production_unit: str | None = Field(
        default=None,
        description="The site's production unit; for the plant, the one unit all producing "
        "sites share (null: no production, or sites in different units: see by_site).",
    )
    scope1_ch4_co2e_t: float = Field(description="tCO2e of the CH4 (tCH4 x GWP of the set).")
    scope1_n2o_co2e_t: float = Field(description="tCO2e of the N2O (tN2O x GWP of the set).")
    ghg_total_location_t: float = Field(description="Scope 1 + Scope 2 location-based.")
    ghg_total_market_t: float = Field(description="Scope 1 + Scope 2 market-based.")
    cn_total_t: float = Field(
        description="GB/T 32150: Scope 1 + Scope 2 location-based - exported electricity and heat."
    )


class SiteTotals(Totals):
    site: str
    minutes_with_data: int


class GasSplit(BaseModel):
    """Scope 1 by gas: the CO2, and the CH4 and N2O both as the mass of the gas and as CO2e.

    A model listing it among its bases *first* (``class X(GasSplit, _XHead)``) gets the
    head's fields, then these, then its own: pydantic orders fields by the bases in reverse,
    and the JSON and the inventory's tables have always had the split in that place.
    """

    co2_t: float = Field(description="tCO2.")
    ch4_t: float = Field(description="tCH4 (gas mass).")
    ch4_co2e_t: float = Field(description="tCO2e of the CH4.")
    n2o_t: float = Field(description="tN2O (gas mass).")
    n2o_co2e_t: float = Field(description="tCO2e of the N2O.")


GASES = tuple(GasSplit.model_fields)


class _SourceHead(BaseModel):
    meter: str
    site: str
    kind: str
    fuel: str | None
    quantity: float
    unit: str
    energy_gj: float | None = Field(description="Fuel energy (quantity x NCV), fuels only.")


class SourceLine(GasSplit, _SourceHead):
    co2e_t: float = Field(description="tCO2e, all gases.")


class _FuelHead(BaseModel):
    fuel: str
    quantity: float
    unit: str
    energy_gj: float


class FuelLine(GasSplit, _FuelHead):
    co2e_t: float = Field(description="tCO2e, all gases.")
    meters: list[str]


class _Scope1Head(BaseModel):
    total_t: float = Field(description="tCO2e, all gases.")


class Scope1(GasSplit, _Scope1Head):
    by_fuel: list[FuelLine]
    by_source: list[SourceLine]


class Scope2(BaseModel):
    location_t: float
    market_t: float
    heat_t: float = Field(description="Purchased heat and steam (in both methods).")
    grid_import_mwh: float
    covered_mwh: float = Field(description="Covered by certificates and contracts.")
    supplier_mwh: float = Field(description="At a supplier-specific rate.")
    residual_mwh: float = Field(description="At the residual factor.")
    heat_import_gj: float
    by_source: list[SourceLine] = Field(description="Imports per meter, location-based.")


class Exports(BaseModel):
    grid_export_mwh: float
    heat_export_gj: float
    export_deduction_t: float = Field(description="Deducted in the China total only.")


class ActivityLine(BaseModel):
    meter: str
    site: str
    kind: str
    quantity: float
    unit: str
    quantity_meter_unit: float = Field(
        description="The same activity in the meter's own unit (L, m3 at its reference "
        "conditions, kWh ...)."
    )
    meter_unit: str
    energy_gj: float | None
    coverage_pct: float = Field(description="Share of the period covered by counted intervals.")
    flags: list[str] = Field(
        description="Quality flags of the meter's lines, including intervals that were not "
        "counted (reset, gap, implausible)."
    )
    readings: int = Field(default=0, description="Readings stored for the meter in the period.")
    unsigned_readings: int = Field(
        default=0,
        description="Of them, accepted without a gateway signature (Sparkplug B, or a gateway "
        "allowed unsigned by the ingest settings); signed readings are provable to the gateway.",
    )
    unsigned_share_pct: float | None = Field(
        default=None, description="unsigned_readings / readings in %; null without readings."
    )
    implausible_readings: int = Field(
        default=0,
        description="Of them, stored with an implausible quality (a negative register, a value "
        "beyond the rating or register range, a jump beyond the rating): not in the account.",
    )


class ActivityTotal(BaseModel):
    kind: str
    unit: str
    quantity: float


class FactorUsed(BaseModel):
    factor_id: str
    version: int
    role: str
    value: float = Field(description="In the unit the formula uses.")
    unit: str
    source: str
    table: str
    data_year: int | None
    verified: str
    fallback: str | None
    source_value: float | None = Field(
        default=None, description="The value as the source document prints it."
    )
    source_unit: str | None = Field(default=None, description="Its unit there, e.g. kg/TJ.")
    used_by: list[str] = Field(description="Meters (or site:<id> for a residual factor).")
    months: list[str]


class LineagePublic(BaseModel):
    id: int
    subject: str
    month: str
    method: str
    gwp: str
    quantity_unit: str
    ef_co2e_t_per_unit: float
    factors: list[str] = Field(description="factor_id@vN by role order.")
    basis: dict[str, str] = Field(
        default_factory=dict,
        description="Per factor role: why that factor serves this month (looked up in its "
        "series or pinned by id, its validity, the fallback rule if one applied).",
    )
    notes: list[str]


class CertificateAllocated(BaseModel):
    instrument: str
    contract: str | None
    type: str
    site: str
    serials: str
    claim_start: dt.date
    claim_end: dt.date
    instrument_mwh: float | None
    allocated_mwh: float = Field(description="MWh of this period's consumption it covered.")
    emission_factor_t_per_mwh: float
    source: str


class OffsetRetired(BaseModel):
    retirement: int
    offset: str
    project: str
    kind: str = Field(description="ccer or international.")
    standard: str
    corresponding_adjustment: str
    registry: str
    vintage: int
    serials: str
    tco2e: float
    retired_on: dt.date
    purpose: str
    site: str | None
    period_start: dt.date
    period_end: dt.date


class Net(BaseModel):
    scope1_t: float
    scope2_t: float
    scope2_basis: Literal["market", "location"]
    offsets_t: float
    net_t: float
    zero_carbon: bool
    remaining_t: float
    over_offset: bool = Field(description="net_t < 0 (net is never clamped).")
    over_offset_t: float


class CreditUsePublic(BaseModel):
    id: str = Field(description="<offset>:<serials> of the retirement.")
    kind: str
    standard: str
    tco2e: float
    applied_t: float = Field(description="The part that covered gross emissions (CCER first).")
    surplus_t: float = Field(description="The part beyond them: the over-offset.")


class NetStatusPublic(BaseModel):
    site: str | None = Field(description="Null: the sites of the inventory together.")
    scope2_basis: Literal["market", "location"]
    scope1_t: float
    scope2_t: float
    gross_t: float = Field(description="Scope 1 + Scope 2 on this basis: never reduced.")
    ccer_t: float
    international_t: float
    offsets_t: float
    net_t: float = Field(description="gross_t - offsets_t, never clamped.")
    zero_carbon: bool = Field(description="net_t <= 0.")
    over_offset: bool = Field(description="net_t < 0: more retired than emitted.")
    over_offset_t: float
    remaining_t: float
    credits: list[CreditUsePublic] = Field(description="In priority order: CCER first.")


class OffsettingPart(BaseModel):
    """Net on both Scope 2 bases; the same assembly as `carbonstream compute` (ledger.offsets)."""

    zero_carbon_basis: Literal["market", "location"]
    zero_carbon: bool = Field(description="On zero_carbon_basis, the sites together.")
    over_offset: bool
    market: NetStatusPublic
    location: NetStatusPublic
    sites_market: list[NetStatusPublic]
    sites_location: list[NetStatusPublic]


class ZeroCarbonPart(BaseModel):
    scope2_basis: Literal["market", "location"]
    rule: str
    total: ZeroCarbonStatus = Field(description="The sites of the inventory together (= net).")
    sites: list[ZeroCarbonStatus]


class IntensityPart(BaseModel):
    scope2_basis: Literal["market", "location"]
    sites: list[SiteIntensity]
    lines: list[LineIntensity] = Field(description="Per production line (live account only).")


class Inventory(BaseModel):
    schema_: str = Field(INVENTORY_SCHEMA, alias="schema")
    version: VersionPublic = Field(
        description="Which account the figures come from: live, or a restatement."
    )
    plant: str
    timezone: str
    gwp: str
    method: str
    period: PeriodPublic
    sites: list[str]
    totals: Totals
    by_site: list[SiteTotals]
    scope1: Scope1
    scope2: Scope2
    exports: Exports
    activity: list[ActivityLine]
    activity_totals: list[ActivityTotal]
    coverage_pct: float = Field(description="Mean meter coverage of the period.")
    factors: list[FactorUsed]
    lineage: list[LineagePublic]
    certificates: list[CertificateAllocated]
    offsets: list[OffsetRetired]
    net: Net
    offsetting: OffsettingPart
    zero_carbon: ZeroCarbonPart
    intensity: IntensityPart
    notes: list[str]
    scope3: Scope3Block | None = Field(
        default=None,
        description="Scope 3 categories 1, 3 and 4, a separate block (docs/footprint.md); "
        "in the net only with footprint.scope3_in_net. Not for restatements.",
    )

    model_config = {"populate_by_name": True}
