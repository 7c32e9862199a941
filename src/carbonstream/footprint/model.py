"""The footprint figures as typed values: what the API, the declaration, the disclosure and
the monthly report read. Every tonne names its unit; every part names where it came from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.localtime import LocalTime


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class FactorRef(_Out):
    id: str
    version: int
    value: float
    unit: str
    data_type: str
    supplier: str
    database: str
    source: str
    verified: str


class AllocationTrace(_Out):
    """How the line's minute figures reached this lot (ISO 14067 allocation, documented)."""

    method: str = Field(description="mass, units or economic")
    key: float = Field(description="The lot's allocation key, in key_unit.")
    key_unit: str
    justification: str = ""
    minutes: int = Field(description="Minute buckets of the line the lot shares.")
    mean_share: float = Field(description="Key-weighted share of those minutes' line figures.")


class EnergyPart(_Out):
    """Scope 1 and 2 of the line allocated to the lot, and their upstream (Scope 3 cat. 3)."""

    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float
    grid_mwh: float
    heat_t: float = Field(description="Purchased heat/steam tCO2e (in both Scope 2 bases).")
    fuels: dict[str, float] = Field(description="Fuel burnt by the line, canonical units.")
    upstream_fuels_t: float = Field(description="Category 3A: well-to-tank of the fuels.")
    upstream_electricity_t: float = Field(description="Category 3B, where a factor is given.")
    td_losses_t: float = Field(description="Category 3C: generation of the grid's T&D losses.")
    factors: list[FactorRef]
    meters: list[str]
    lineage_ids: list[int] = Field(description="Lineage records of the line's emission lines.")

    @property
    def upstream_t(self) -> float:
        return self.upstream_fuels_t + self.upstream_electricity_t + self.td_losses_t


class MaterialPart(_Out):
    material: str
    quantity: float
    unit: str
    tco2e: float
    factor: FactorRef
    cbam_see_direct: float | None = None
    cbam_see_indirect: float | None = None


class TransportPart(_Out):
    material: str
    mode: str
    t_km: float
    tco2e: float
    factor: FactorRef


class Totals(_Out):
    """Cradle-to-gate total and per declared unit, Scope 2 each way."""

    materials_t: float
    energy_market_t: float = Field(description="Scope 1 + Scope 2 market-based + category 3.")
    energy_location_t: float = Field(description="Scope 1 + Scope 2 location + category 3.")
    transport_t: float
    other_t: float
    total_market_t: float
    total_location_t: float
    kgco2e_per_unit_market: float
    kgco2e_per_unit_location: float


class LotFootprint(_Out):
    lot: str
    product: str
    line: str
    site: str
    start: LocalTime
    end: LocalTime
    quantity: float
    declared_unit: str
    allocation: AllocationTrace
    energy: EnergyPart
    materials: list[MaterialPart]
    transport: list[TransportPart]
    bom_version: int | None
    totals: Totals
    exclusions: list[str] = Field(description="What is not counted, and why.")


class LineBalance(_Out):
    """The line's figures over the window: allocated to lots + idle = total, per column
    (columns named with their unit; ``fuel.<fuel>``: the fuel burnt, in its meter's
    canonical unit)."""

    line: str
    start: LocalTime
    end: LocalTime
    total: dict[str, float]
    allocated: dict[str, float]
    unallocated: dict[str, float] = Field(description="Minutes no lot touched (idle).")


class ProductFootprint(_Out):
    product: str
    name_zh: str
    name_en: str
    start: LocalTime
    end: LocalTime
    declared_unit: str
    lots: int
    quantity: float
    parts: Totals
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float
    upstream_energy_t: float
    electricity_mwh: float
    lot_ids: list[str]
    exclusions: list[str]
    supplier_specific_share: float = Field(
        description="Share of category 1 tCO2e from supplier-specific data (data quality)."
    )
    verification_marks: dict[str, int] = Field(description="Factors used, by verification mark.")
    note: str = ""
