"""The plant model: plant, sites, meters, contractual instruments, replacements.

These pydantic models are the boundary between a plant's configuration file
and the accounting core. Every field is documented in `config/plant.example.yaml`;
the checks here make a bad file fail at load with the field path and the reason.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonstream import units
from carbonstream.config.energy import EnergyConfig
from carbonstream.config.fuels import (
    BUILTIN_FUELS,
    CN_ROLES,
    FUEL_ROLES,
    IPCC_ROLES,
    cn_default,
    ipcc_default,
)
from carbonstream.config.fuels import Fuel as Fuel  # re-exported: built-in fuel names
from carbonstream.config.fuels import FuelState as FuelState
from carbonstream.config.gateway_keys import key_problems
from carbonstream.config.gateways import GatewayBinding, binding_problems
from carbonstream.config.hourly import MAX_KWH_PER_HOUR
from carbonstream.config.offsets import OffsetHolding, check_holdings
from carbonstream.config.products import Footprint
from carbonstream.i18n.locale import DEFAULT_LOCALE, Locale
from carbonstream.ledger import LedgerError, SerialRange

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
# A name as people read it, e.g. name_zh: 一号厂房（装配与测试）. Shown in zh-CN where set.
NameZh = Annotated[str, Field(max_length=200, description="Chinese name, shown in zh-CN.")]


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
    # Instantaneous °C (measures: rate), averaged per bucket: a driver of baselines
    # (degree days), never energy or emissions.
    TEMPERATURE = "temperature"


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


class Combustion(StrEnum):
    STATIONARY = "stationary"  # IPCC 2006 Vol. 2 Ch. 2 (manufacturing industries, Table 2.3)
    MOBILE = "mobile"  # IPCC 2006 Vol. 2 Ch. 3: vehicles and off-road machinery


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
    MeterKind.TEMPERATURE: None,
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
    name_zh: NameZh = ""
    grid_region: str | None = Field(
        default=None, description="Overrides the plant's grid region for this site."
    )
    budget: Budget | None = None


class Meter(_Model):
    id: Identifier
    name: str = Field(default="", max_length=200)
    name_zh: NameZh = ""
    site: Identifier
    kind: MeterKind
    measures: Measures
    unit: str
    multiplier: float = Field(default=1.0, gt=0, description="CT x PT ratio or register scale.")
    rating: float = Field(
        gt=0,
        description="Largest physically possible rate, in the meter's unit per hour "
        "(for a kWh counter: kW; for a kW rate meter: kW), after the multiplier. For a "
        "temperature meter: the largest magnitude in °C it can read (60: -60 .. 60 °C).",
    )
    counter_range: float | None = Field(
        default=None,
        gt=0,
        description="Register modulus in raw units: a register that shows 0 .. 999999.9 "
        "has counter_range 1000000.",
    )
    resolution: float = Field(default=0.0, ge=0, description="Register resolution, raw units.")
    scope: Literal[1, 2, 3] | None = None
    fuel: Identifier | None = Field(
        default=None,
        description="A built-in fuel (config/fuels.py) or one declared under the plant's fuels.",
    )
    combustion: Combustion = Combustion.STATIONARY
    vehicle: Identifier | None = Field(
        default=None,
        description="Mobile combustion: the IPCC 2006 Vol. 2 Ch. 3 category of the vehicle or "
        "machine, e.g. offroad_industry (forklifts), road; picks the CH4/N2O factors.",
    )
    method: Method | None = None
    reference_conditions: ReferenceConditions | None = None
    density_kg_per_l: float | None = Field(default=None, gt=0, lt=5)
    steam_enthalpy_kj_per_kg: float | None = Field(default=None, gt=0, lt=4000)
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
            and self.fuel == Fuel.RAW_COAL
        ):
            raise ValueError(
                "IPCC 2006 has no 'raw coal': choose the rank (other_bituminous_coal, "
                "sub_bituminous_coal, anthracite)"
            )
        self._no_ignored_fields()
        if self.combustion is Combustion.MOBILE and self.vehicle is None:
            raise ValueError(
                "a mobile meter needs 'vehicle' (IPCC 2006 Vol. 2 Ch. 3 category, e.g. "
                "offroad_industry for a forklift, road for a lorry)"
            )
        if self.vehicle is not None and self.combustion is not Combustion.MOBILE:
            raise ValueError("'vehicle' is only for combustion: mobile; add it or drop vehicle")
        builtin = BUILTIN_FUELS.get(self.fuel) if self.fuel else None
        if self.kind is not MeterKind.FUEL or builtin is not None:
            # Declared fuels are checked by the plant, which knows their state.
            self.check_unit(
                builtin.state if builtin else None,
                builtin is not None and builtin.default_density is not None,
            )
        unknown_roles = set(self.factors) - FACTOR_ROLES
        if unknown_roles:
            raise ValueError(
                f"unknown factor role(s) {sorted(unknown_roles)}; use {sorted(FACTOR_ROLES)}"
            )
        return self

    @property
    def effective_scope(self) -> int | None:
        return _DEFAULT_SCOPE[self.kind]

    def _no_ignored_fields(self) -> None:
        """A field the conversion would not use is a trap (the user thinks it applies)."""
        heat = self.kind in (MeterKind.HEAT_IMPORT, MeterKind.HEAT_EXPORT)
        if self.kind is not MeterKind.FUEL:
            for name in ("reference_conditions", "density_kg_per_l", "vehicle"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name!r} is only for fuel meters, not {self.kind.value}")
            if self.combustion is not Combustion.STATIONARY:
                raise ValueError(f"'combustion' is only for fuel meters, not {self.kind.value}")
        if not heat:
            for name in ("steam_enthalpy_kj_per_kg", "hot_water_temperature_c"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name!r} is only for heat meters, not {self.kind.value}")

    def check_unit(self, state: FuelState | None, default_density: bool = False) -> None:
        """Raise ValueError (the message for the plant file) if the unit or a medium
        field does not fit; ``state`` is the fuel's, None for other kinds."""
        try:
            # The library's default density is looked up later; here only its existence.
            self.scale(state, default_density=1.0 if default_density else None, check_only=True)
        except units.UnitError as e:
            raise ValueError(str(e)) from None
        rate = self.measures is Measures.RATE
        if state is not FuelState.GAS and self.reference_conditions is not None:
            raise ValueError(
                f"reference_conditions only apply to gaseous fuels ({self.fuel} is "
                f"{state.value if state else 'not a fuel'}): drop them"
            )
        if self.density_kg_per_l is not None and not (
            state is FuelState.LIQUID and units.is_liquid_volume(self.unit, rate)
        ):
            raise ValueError(
                f"density_kg_per_l only applies to a liquid fuel metered by volume (L, m3); "
                f"this meter reads {self.unit}, so it would be ignored: drop it"
            )

    def scale(
        self,
        state: FuelState | None = None,
        default_density: float | None = None,
        density_ref: str = "",
        heat: units.HeatConstants | None = None,
        check_only: bool = False,
    ) -> units.Scale:
        """Canonical quantity per raw register unit (per unit-hour for rates), with the
        conversions it applies. Fuel meters need their fuel's state; steam and hot
        water by mass need the library's heat constants (``check_only`` checks the
        unit without them)."""
        rate = self.measures is Measures.RATE
        match self.kind:
            case MeterKind.GRID_IMPORT | MeterKind.GRID_EXPORT | MeterKind.ONSITE_GENERATION:
                base = units.electricity(self.unit, rate)
            case MeterKind.HEAT_IMPORT | MeterKind.HEAT_EXPORT:
                if heat is None and not check_only and units.is_mass_unit(self.unit, rate):
                    raise units.UnitError("steam or hot water by mass needs the heat constants")
                base = units.heat(
                    self.unit,
                    rate,
                    self.steam_enthalpy_kj_per_kg,
                    self.hot_water_temperature_c,
                    heat,
                )
            case MeterKind.PRODUCTION:
                base = units.counted(self.unit, rate)
            case MeterKind.TEMPERATURE:
                base = units.temperature(self.unit, rate)
            case MeterKind.FUEL:
                base = self._fuel_scale(state, default_density, density_ref)
            case _:
                assert_never(self.kind)
        return units.with_multiplier(base, self.multiplier)

    def _fuel_scale(
        self, state: FuelState | None, default_density: float | None, density_ref: str
    ) -> units.Scale:
        rate = self.measures is Measures.RATE
        if state is FuelState.GAS:
            rc = self.reference_conditions
            return units.gas(
                self.unit, rate, rc.temperature_c if rc else None, rc.pressure_kpa if rc else None
            )
        if state is FuelState.LIQUID:
            density = default_density
            if self.density_kg_per_l is not None:
                density, density_ref = self.density_kg_per_l, "meter density_kg_per_l"
            return units.liquid(self.unit, rate, density, density_ref)
        if state is FuelState.SOLID:
            return units.solid(self.unit, rate)
        raise units.UnitError(f"fuel {self.fuel!r}: its state (gas, liquid, solid) is unknown")


FACTOR_ROLES = frozenset({"grid", "residual", "heat", *FUEL_ROLES})


class FuelDecl(_Model):
    """A fuel the plant declares with its own factors (ids in its factor files).

    China method (cn_gbt32150) needs ncv, carbon_content and oxidation; IPCC 2006
    needs ncv, co2, ch4 and n2o. The roles a meter using it needs are checked when
    the plant loads, the ids and their units when the factor library loads.
    """

    id: Identifier
    name: str = ""
    name_zh: NameZh | None = None
    state: FuelState
    factors: dict[str, Identifier] = Field(
        description="Factor ids by role: ncv, carbon_content, oxidation, co2, ch4, n2o."
    )
    description: str = ""

    @model_validator(mode="after")
    def _fuel_rules(self) -> FuelDecl:
        if self.id in BUILTIN_FUELS:
            raise ValueError(
                f"fuel {self.id!r} is built in: choose another id, or override its factors "
                "on the meter (factors: {ncv: ...})"
            )
        unknown = set(self.factors) - FUEL_ROLES
        if unknown:
            raise ValueError(
                f"unknown fuel factor role(s) {sorted(unknown)}; use {sorted(FUEL_ROLES)}"
            )
        if not self.factors:
            raise ValueError(
                "a declared fuel needs its factors (China: ncv, carbon_content, "
                "oxidation; IPCC 2006: ncv, co2, ch4, n2o)"
            )
        return self


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


_HOURLY_TYPES = frozenset({InstrumentType.PPA, InstrumentType.GREEN_POWER_TRADE})
_HOURLY_NAMES = "ppa and green_power_trade"


class HourKwh(_Model):
    """One hour of an instrument's generation: the UTC start of a local hour and its kWh."""

    hour: dt.datetime
    kwh: float = Field(ge=0, le=MAX_KWH_PER_HOUR)

    @field_validator("hour")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("give the hour with its UTC offset, e.g. 2026-11-22T10:00:00+08:00")
        return v.astimezone(dt.UTC)


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
    kwh: float | None = Field(
        default=None, gt=0, description="Volume in kWh instead of mwh (PPAs, green-power trades)."
    )
    hourly_profile: str | None = Field(
        default=None,
        description="CSV of the generation hour by hour (hour,kwh), relative to the plant file.",
    )
    hourly: list[HourKwh] | None = Field(
        default=None, description="The hourly generation (read from hourly_profile by the loader)."
    )

    @model_validator(mode="before")
    @classmethod
    def _kwh_to_mwh(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("kwh") is not None:
            try:
                mwh = float(data["kwh"]) / 1000.0
            except (TypeError, ValueError):
                return data  # the field check names the bad value
            given = data.get("mwh")
            # Both: only as a dump of a loaded plant writes them (they agree).
            if given is not None and abs(float(given) - mwh) > 1e-12 * max(1.0, mwh):
                raise ValueError(f"mwh {given} and kwh {data['kwh']} disagree: give one of them")
            return {**data, "mwh": mwh}
        return data

    @model_validator(mode="after")
    def _needs_mwh(self) -> Instrument:
        if self.type is InstrumentType.SUPPLIER_FACTOR:
            if self.mwh is not None:
                raise ValueError("a supplier_factor applies to all uncovered power: drop 'mwh'")
        elif self.mwh is None:
            raise ValueError(f"a {self.type.value} instrument needs 'mwh' (or 'kwh')")
        if self.type is InstrumentType.GEC and self.mwh is not None and self.mwh != int(self.mwh):
            raise ValueError("GECs are whole certificates (1 GEC = 1 MWh): mwh must be whole")
        if self.kwh is not None and self.type not in _HOURLY_TYPES:
            raise ValueError(f"kwh is for {_HOURLY_NAMES}; a {self.type.value} counts in MWh")
        if self.hourly is not None:
            check_hourly(self)
        if self.serials:
            check_serials(self)
        return self

    @property
    def volume_kwh(self) -> float | None:
        return None if self.mwh is None else self.mwh * 1000.0

    @property
    def claim_period(self) -> Period:
        return self.claim or self.generation


def check_hourly(ins: Instrument) -> None:
    assert ins.hourly is not None and ins.mwh is not None
    if ins.type not in _HOURLY_TYPES:
        raise ValueError(f"an hourly profile is for {_HOURLY_NAMES}, not {ins.type.value}")
    hours = [h.hour for h in ins.hourly]
    if len(set(hours)) != len(hours):
        raise ValueError("the hourly profile gives an hour twice")
    total = sum(h.kwh for h in ins.hourly)
    if abs(total - ins.mwh * 1000.0) > 1e-6 * max(1.0, total):
        raise ValueError(
            f"the hourly profile sums to {total:g} kWh but the instrument is "
            f"{ins.mwh * 1000.0:g} kWh: they must agree"
        )


def check_serials(ins: Instrument) -> None:
    try:
        r = SerialRange.parse(ins.serials)
    except LedgerError as e:
        raise ValueError(f"serials: {e}") from None
    if ins.type is InstrumentType.GEC and ins.mwh is not None and r.count != ins.mwh:
        raise ValueError(
            f"serials {ins.serials} are {r.count} certificates but mwh is {ins.mwh:g} "
            "(1 GEC = 1 MWh): they must agree"
        )


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
    name_zh: NameZh = ""
    locale: Locale = Field(
        default=DEFAULT_LOCALE,
        description="Language of reports and pages when the reader does not ask "
        "(Accept-Language, the page's switch, --locale): zh-CN or en.",
    )
    timezone: str = "Asia/Shanghai"
    grid_region: str = Field(default="CN", description="Region code: CN, CN-East, CN-JS, ...")
    grid_factor_level: GridFactorLevel = GridFactorLevel.NATIONAL
    method: Method = Method.CN_GBT32150
    gwp: GwpSet = GwpSet.AR5
    max_gap_s: float = Field(default=900.0, gt=0)
    rating_tolerance: float = Field(default=0.1, ge=0, le=1)
    factor_files: list[str] = Field(default_factory=list)
    fuels: list[FuelDecl] = Field(
        default_factory=list, description="Fuels beyond the built-in ones, with their factors."
    )
    sites: list[Site] = Field(min_length=1)
    meters: list[Meter] = Field(min_length=1)
    instruments: list[Instrument] = Field(default_factory=list)
    replacements: list[Replacement] = Field(default_factory=list)
    zero_carbon: ZeroCarbonRule = Field(default_factory=ZeroCarbonRule)
    footprint: Footprint = Field(default_factory=Footprint)
    offsets: list[OffsetHolding] = Field(
        default_factory=list, description="Offset credits held and retired (CCER, international)."
    )
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
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
        _unique("fuels", [f.id for f in self.fuels])
        for m in self.meters:
            if m.fuel == Fuel.RAW_COAL and self.meter_method(m) is Method.IPCC2006:
                raise ValueError(
                    f"meter {m.id!r}: IPCC 2006 has no 'raw coal'; choose the rank "
                    "(other_bituminous_coal, sub_bituminous_coal, anthracite)"
                )
            if m.kind is MeterKind.FUEL:
                self._check_fuel(m)
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
        check_holdings(self.offsets, site_ids)
        _serials_once(self.instruments)
        zone = ZoneInfo(self.timezone)
        for k, i in enumerate(self.instruments):
            where = f"instruments[{k}] (id {i.id!r}).hourly"
            for h in i.hourly or []:
                local = h.hour.astimezone(zone)
                if not i.generation.start <= local.date() <= i.generation.end:
                    raise ValueError(
                        f"{where}: hour {local.isoformat()} is outside its generation "
                        f"{i.generation.start}..{i.generation.end}"
                    )
                if local.minute or local.second or local.microsecond:
                    raise ValueError(
                        f"{where}: {local.isoformat()} is not the start of a local hour"
                    )
        for r in self.replacements:
            meter = meters.get(r.meter)
            if meter is None:
                raise ValueError(f"replacement names unknown meter {r.meter!r}")
            if meter.measures is not Measures.COUNTER:
                raise ValueError(f"replacement of {r.meter!r}: only counters are replaced")
        line_sites: dict[str, set[str]] = {}
        for m in self.meters:
            if m.line is not None:
                line_sites.setdefault(m.line, set()).add(m.site)
        self.footprint.check(
            line_sites,
            {
                m.id: (m.line, m.scale().canonical)
                for m in self.meters
                if m.kind is MeterKind.PRODUCTION
            },
        )
        self.energy.check({m.id: m.kind.value for m in self.meters}, {s.id for s in self.sites})
        problems = binding_problems(self.gateways, site_ids, {m.id: m.site for m in self.meters})
        problems += key_problems(self.gateways)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def meter_method(self, meter: Meter) -> Method:
        return meter.method or self.method

    def declared_fuel(self, name: str) -> FuelDecl | None:
        return next((f for f in self.fuels if f.id == name), None)

    def fuel_state(self, meter: Meter) -> FuelState | None:
        if meter.fuel is None:
            return None
        builtin = BUILTIN_FUELS.get(meter.fuel)
        if builtin is not None:
            return builtin.state
        decl = self.declared_fuel(meter.fuel)
        return decl.state if decl else None

    def fuel_factor_ids(self, meter: Meter) -> dict[str, str | None]:
        """Role -> factor id for a fuel meter under its method: the meter's override,
        else the declared fuel's factor, else the built-in default (None: missing)."""
        assert meter.fuel is not None
        method = self.meter_method(meter)
        roles = CN_ROLES if method is Method.CN_GBT32150 else IPCC_ROLES
        decl = self.declared_fuel(meter.fuel)
        builtin = BUILTIN_FUELS.get(meter.fuel)
        out: dict[str, str | None] = {}
        for role in roles:
            fid = meter.factors.get(role) or (decl.factors.get(role) if decl else None)
            if fid is None and builtin is not None:
                if method is Method.CN_GBT32150:
                    fid = cn_default(builtin, role)
                else:
                    fid = ipcc_default(builtin, role, meter.vehicle)
            out[role] = fid
        return out

    def _check_fuel(self, m: Meter) -> None:
        assert m.fuel is not None
        builtin = BUILTIN_FUELS.get(m.fuel)
        decl = self.declared_fuel(m.fuel)
        if builtin is None and decl is None:
            raise ValueError(
                f"meter {m.id!r} names unknown fuel {m.fuel!r}: use a built-in one "
                f"({', '.join(BUILTIN_FUELS)}) or declare it under fuels"
            )
        if decl is not None:
            try:
                m.check_unit(decl.state)
            except ValueError as e:
                raise ValueError(f"meter {m.id!r}: {e}") from None
        method = self.meter_method(m)
        ids = self.fuel_factor_ids(m)
        missing = sorted(role for role, fid in ids.items() if fid is None)
        if (
            builtin is not None
            and method is Method.IPCC2006
            and builtin.state is FuelState.GAS
            and missing == ["ncv"]
            and cn_default(builtin, "ncv")
        ):
            missing = []  # IPCC's NCV is per mass: a metered volume takes the China one
        if missing:
            where = (
                f"IPCC 2006 mobile defaults for {m.fuel} {m.vehicle}"
                if m.vehicle and method is Method.IPCC2006
                else f"{method.value} defaults for {m.fuel}"
            )
            raise ValueError(
                f"meter {m.id!r}: no {where} for {', '.join(missing)}: name them on the "
                "meter (factors: {role: id}) or declare the fuel with its factors under fuels"
            )

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


def _serials_once(instruments: list[Instrument]) -> None:
    """A certificate is claimed once: no two instruments of the file share a serial."""
    held: list[tuple[SerialRange, str]] = []
    for i in instruments:
        if not i.serials:
            continue
        r = SerialRange.parse(i.serials)  # checked per instrument already
        for other, oid in held:
            if other.overlaps(r):
                raise ValueError(
                    f"instruments {oid!r} and {i.id!r} share serials ({other} and {r}): a "
                    "certificate is claimed once"
                )
        held.append((r, i.id))
