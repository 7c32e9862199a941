"""The plant model: plant, sites, meters, contractual instruments, replacements.

These pydantic models are the boundary between a plant's configuration file
and the accounting core. Every field is documented in `config/plant.example.yaml`;
the checks here make a bad file fail at load with the field path and the reason.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonstream import units
from carbonstream.config.gateways import GatewayBinding, binding_problems
from carbonstream.config.products import Footprint

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class _Model(BaseModel):
    # Unknown keys are typos until proven otherwise: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class MeterKind(StrEnum):
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"
    ONSITE_GENERATION = "onsite_generation"
    FUEL = "fuel"
    HEAT_IMPORT = "heat_import"
    HEAT_EXPORT = "heat_export"
    PRODUCTION = "production"


class Measures(StrEnum):
    COUNTER = "counter"  # cumulative register (kWh, m3, t): the source of truth
    RATE = "rate"  # instantaneous rate (kW, m3/h): integrated only where no counter exists


class Method(StrEnum):
    CN_GBT32150 = (
        "cn_gbt32150"  # China GB/T 32150: NCV x carbon content x oxidation x 44/12, CO2 only
    )
    IPCC2006 = "ipcc2006"  # IPCC 2006 Tier 1: CO2, CH4, N2O per energy, CO2e by GWP


class GwpSet(StrEnum):
    SAR = "SAR"
    AR4 = "AR4"
    AR5 = "AR5"
    AR6 = "AR6"


class GridFactorLevel(StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"
    PROVINCIAL = "provincial"


class Fuel(StrEnum):
    NATURAL_GAS = "natural_gas"
    DIESEL = "diesel"
    GASOLINE = "gasoline"
    FUEL_OIL = "fuel_oil"
    LPG = "lpg"
    RAW_COAL = "raw_coal"
    COKE = "coke"
    OTHER_BITUMINOUS_COAL = "other_bituminous_coal"
    SUB_BITUMINOUS_COAL = "sub_bituminous_coal"
    ANTHRACITE = "anthracite"


GASEOUS_FUELS = frozenset({Fuel.NATURAL_GAS})
LIQUID_FUELS = frozenset({Fuel.DIESEL, Fuel.GASOLINE, Fuel.FUEL_OIL, Fuel.LPG})


class InstrumentType(StrEnum):
    GEC = "gec"  # China green electricity certificate, unbundled (1 GEC = 1 MWh)
    GREEN_POWER_TRADE = "green_power_trade"  # 绿电交易: energy with GECs transferred at settlement
    PPA = "ppa"  # direct contract with attributes conveyed
    SUPPLIER_FACTOR = "supplier_factor"  # supplier-specific emission rate for delivered power


_DEFAULT_SCOPE: dict[MeterKind, int | None] = {
    MeterKind.GRID_IMPORT: 2,
    MeterKind.HEAT_IMPORT: 2,
    MeterKind.FUEL: 1,
    MeterKind.GRID_EXPORT: None,
    MeterKind.HEAT_EXPORT: None,
    MeterKind.ONSITE_GENERATION: None,
    MeterKind.PRODUCTION: None,
}


class ReferenceConditions(_Model):
    """Temperature and pressure a gas volume is stated at (Nm3 means 0 °C, 101.325 kPa)."""

    temperature_c: float = Field(ge=-50, le=60)
    pressure_kpa: float = Field(default=101.325, gt=50, lt=1000)


class Budget(_Model):
    """A carbon budget in tCO2e (market-based Scope 1 + 2 unless basis says otherwise)."""

    daily_t: float | None = Field(default=None, gt=0)
    monthly_t: float | None = Field(default=None, gt=0)
    yearly_t: float | None = Field(default=None, gt=0)
    basis: Literal["market", "location"] = "market"


class Site(_Model):
    id: Identifier
    name: str = ""
    grid_region: str | None = Field(
        default=None, description="Overrides the plant's grid region for this site."
    )
    budget: Budget | None = None


class Meter(_Model):
    id: Identifier
    site: Identifier
    kind: MeterKind
    measures: Measures
    unit: str
    multiplier: float = Field(default=1.0, gt=0, description="CT x PT ratio or register scale.")
    rating: float = Field(
        gt=0,
        description="Largest physically possible rate, in the meter's unit per hour "
        "(for a kWh counter: kW; for a kW rate meter: kW), after the multiplier.",
    )
    counter_range: float | None = Field(
        default=None,
        gt=0,
        description="Register modulus in raw units: a register that shows 0 .. 999999.9 "
        "has counter_range 1000000.",
    )
    resolution: float = Field(default=0.0, ge=0, description="Register resolution, raw units.")
    scope: Literal[1, 2, 3] | None = None
    fuel: Fuel | None = None
    method: Method | None = None
    reference_conditions: ReferenceConditions | None = None
    density_kg_per_l: float | None = Field(default=None, gt=0, lt=5)
    steam_enthalpy_kj_per_kg: float | None = Field(default=None, gt=83.74, lt=4000)
    hot_water_temperature_c: float | None = Field(default=None, gt=20, lt=200)
    max_gap_s: float | None = Field(default=None, gt=0)
    factors: dict[str, str] = Field(
        default_factory=dict,
        description="Factor overrides by role (grid, heat, ncv, carbon_content, oxidation, "
        "co2, ch4, n2o): the value is a factor id in the library.",
    )
    line: Identifier | None = Field(
        default=None,
        description="Production line or process area, for emission intensity per line.",
    )
    description: str = ""

    @model_validator(mode="after")
    def _kind_rules(self) -> Meter:
        expected = _DEFAULT_SCOPE[self.kind]
        if self.scope is not None and self.scope != expected:
            raise ValueError(
                f"scope {self.scope} does not fit kind {self.kind.value} "
                f"(expected {expected if expected is not None else 'none'})"
            )
        if self.kind is MeterKind.FUEL and self.fuel is None:
            raise ValueError("a fuel meter needs 'fuel' (e.g. natural_gas, diesel)")
        if self.kind is not MeterKind.FUEL and self.fuel is not None:
            raise ValueError(f"'fuel' is only for fuel meters, not {self.kind.value}")
        if self.counter_range is not None and self.measures is not Measures.COUNTER:
            raise ValueError("counter_range only applies to counters")
        if (
            self.kind is MeterKind.FUEL
            and self.method is Method.IPCC2006
            and self.fuel is Fuel.RAW_COAL
        ):
            raise ValueError(
                "IPCC 2006 has no 'raw coal': choose the rank (other_bituminous_coal, "
                "sub_bituminous_coal, anthracite)"
            )
        try:
            self.scale(default_density_kg_per_l=1.0 if self.fuel is Fuel.DIESEL else None)
        except units.UnitError as e:
            raise ValueError(str(e)) from None
        unknown_roles = set(self.factors) - FACTOR_ROLES
        if unknown_roles:
            raise ValueError(
                f"unknown factor role(s) {sorted(unknown_roles)}; use {sorted(FACTOR_ROLES)}"
            )
        return self

    @property
    def effective_scope(self) -> int | None:
        return _DEFAULT_SCOPE[self.kind]

    def scale(self, default_density_kg_per_l: float | None = None) -> units.Scale:
        """Canonical quantity per raw register unit (per unit-hour for rates)."""
        base = self._unit_scale(default_density_kg_per_l)
        return units.Scale(base.canonical, base.per_unit * self.multiplier)

    def _unit_scale(self, default_density: float | None) -> units.Scale:
        rate = self.measures is Measures.RATE
        if self.kind in (MeterKind.GRID_IMPORT, MeterKind.GRID_EXPORT, MeterKind.ONSITE_GENERATION):
            return units.electricity(self.unit, rate)
        if self.kind in (MeterKind.HEAT_IMPORT, MeterKind.HEAT_EXPORT):
            return units.heat(
                self.unit, rate, self.steam_enthalpy_kj_per_kg, self.hot_water_temperature_c
            )
        if self.kind is MeterKind.PRODUCTION:
            return units.counted(self.unit, rate)
        assert self.fuel is not None
        if self.fuel in GASEOUS_FUELS:
            rc = self.reference_conditions
            return units.gas(
                self.unit,
                rate,
                rc.temperature_c if rc else None,
                rc.pressure_kpa if rc else None,
            )
        if self.fuel in LIQUID_FUELS:
            return units.liquid(self.unit, rate, self.density_kg_per_l or default_density)
        return units.solid(self.unit, rate)


FACTOR_ROLES = frozenset(
    {"grid", "residual", "heat", "ncv", "carbon_content", "oxidation", "co2", "ch4", "n2o"}
)


class Period(_Model):
    start: dt.date
    end: dt.date = Field(description="Inclusive last day.")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end


class Instrument(_Model):
    """A contractual instrument for market-based Scope 2 (GHG Protocol Scope 2 Guidance)."""

    id: Identifier
    type: InstrumentType
    site: Identifier
    mwh: float | None = Field(default=None, gt=0)
    generation: Period = Field(description="When the electricity was generated.")
    claim: Period | None = Field(
        default=None,
        description="Consumption period the instrument may cover; defaults to the "
        "generation period (Scope 2 Quality Criterion 4, vintage).",
    )
    emission_factor_t_per_mwh: float = Field(default=0.0, ge=0, lt=3)
    market: str = Field(default="CN", description="Market boundary the instrument was issued in.")
    source: str = Field(default="", description="Technology and project, e.g. 'wind, Gansu'.")
    serials: str = Field(default="", description="Certificate serial range, as registered.")

    @model_validator(mode="after")
    def _needs_mwh(self) -> Instrument:
        if self.type is InstrumentType.SUPPLIER_FACTOR:
            if self.mwh is not None:
                raise ValueError("a supplier_factor applies to all uncovered power: drop 'mwh'")
        elif self.mwh is None:
            raise ValueError(f"a {self.type.value} instrument needs 'mwh'")
        if self.type is InstrumentType.GEC and self.mwh is not None and self.mwh != int(self.mwh):
            raise ValueError("GECs are whole certificates (1 GEC = 1 MWh): mwh must be whole")
        return self

    @property
    def claim_period(self) -> Period:
        return self.claim or self.generation


class Replacement(_Model):
    """A recorded meter swap: the old register's final reading and the new one's first."""

    meter: Identifier
    at: dt.datetime
    old_final: float
    new_initial: float = 0.0
    note: str = ""

    @field_validator("at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-03-02T10:15:00+08:00")
        return v


class ZeroCarbonRule(_Model):
    """How zero-carbon status is judged: net = Scope 1 + Scope 2 (this basis) - retired
    offsets; a site or the plant is zero-carbon for a period when net <= 0."""

    scope2_basis: Literal["market", "location"] = Field(
        default="market",
        description="Scope 2 in the net: market-based (GECs and green-power trades applied, "
        "the zero-carbon-factory reading) or location-based.",
    )


class Plant(_Model):
    name: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    grid_region: str = Field(default="CN", description="Region code: CN, CN-East, CN-JS, ...")
    grid_factor_level: GridFactorLevel = GridFactorLevel.NATIONAL
    method: Method = Method.CN_GBT32150
    gwp: GwpSet = GwpSet.AR5
    max_gap_s: float = Field(default=900.0, gt=0)
    rating_tolerance: float = Field(default=0.1, ge=0, le=1)
    factor_files: list[str] = Field(default_factory=list)
    sites: list[Site] = Field(min_length=1)
    meters: list[Meter] = Field(min_length=1)
    instruments: list[Instrument] = Field(default_factory=list)
    replacements: list[Replacement] = Field(default_factory=list)
    zero_carbon: ZeroCarbonRule = Field(default_factory=ZeroCarbonRule)
    footprint: Footprint = Field(default_factory=Footprint)
    gateways: list[GatewayBinding] = Field(
        default_factory=list,
        description="Which gateway (id = MQTT user) may report which meters of its site; "
        "ingest refuses readings from any other (config/gateways.py).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r}; use an IANA name such as Asia/Shanghai"
            ) from None
        return v

    @model_validator(mode="after")
    def _references(self) -> Plant:
        _unique("sites", [s.id for s in self.sites])
        _unique("meters", [m.id for m in self.meters])
        _unique("instruments", [i.id for i in self.instruments])
        site_ids = {s.id for s in self.sites}
        meters = {m.id: m for m in self.meters}
        for m in self.meters:
            if m.site not in site_ids:
                raise ValueError(f"meter {m.id!r} names unknown site {m.site!r}")
        units: dict[str, set[str]] = {}
        for m in self.meters:
            if m.kind is MeterKind.PRODUCTION:
                units.setdefault(m.site, set()).add(m.scale().canonical)
        for site, found in units.items():
            if len(found) > 1:
                raise ValueError(
                    f"site {site!r} counts production in {sorted(found)}: one unit per site, "
                    "so emissions per unit of product mean something"
                )
        for m in self.meters:
            if m.fuel is Fuel.RAW_COAL and self.meter_method(m) is Method.IPCC2006:
                raise ValueError(
                    f"meter {m.id!r}: IPCC 2006 has no 'raw coal'; choose the rank "
                    "(other_bituminous_coal, sub_bituminous_coal, anthracite)"
                )
        for i in self.instruments:
            if i.site not in site_ids:
                raise ValueError(f"instrument {i.id!r} names unknown site {i.site!r}")
            market = self.grid_region.split("-")[0]
            if i.market != market:
                raise ValueError(
                    f"instrument {i.id!r} is from market {i.market!r} but the plant is in "
                    f"{market!r}: instruments must come from the same market (Scope 2 "
                    "Quality Criterion 5)"
                )
        for r in self.replacements:
            meter = meters.get(r.meter)
            if meter is None:
                raise ValueError(f"replacement names unknown meter {r.meter!r}")
            if meter.measures is not Measures.COUNTER:
                raise ValueError(f"replacement of {r.meter!r}: only counters are replaced")
        self.footprint.check(
            {m.line for m in self.meters if m.line is not None},
            {
                m.id: (m.line, m.scale().canonical)
                for m in self.meters
                if m.kind is MeterKind.PRODUCTION
            },
        )
        problems = binding_problems(self.gateways, site_ids, {m.id: m.site for m in self.meters})
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def meter_method(self, meter: Meter) -> Method:
        return meter.method or self.method

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def site_region(self, site_id: str) -> str:
        site = next(s for s in self.sites if s.id == site_id)
        return site.grid_region or self.grid_region


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(f"duplicate {what} id(s): {', '.join(dupes)}")
