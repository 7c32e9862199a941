"""The plant file's ``energy`` section: how energy is counted in tce, when the plant
produces, what energy costs, which uses are significant, which loads can move.

Cross-references (meters, sites) are checked against the plant in ``check``,
called from the plant's own validator, so a bad name fails at load with its
field path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday 0 .. Sunday 6, as ``datetime.weekday()``."""
        return list(Weekday).index(self)


def clock_minutes(v: str) -> int:
    """Minutes after local midnight of an 'HH:MM' clock time ('24:00' is 1440)."""
    h, m = v.split(":")
    return int(h) * 60 + int(m)


class Shift(_Model):
    """A production shift on the given weekdays, local time; end before start runs
    past midnight (22:00-06:00)."""

    days: list[Weekday] = Field(min_length=1)
    start: str = Field(description="Local clock time HH:MM.")
    end: str = Field(description="Local clock time HH:MM; 24:00 is midnight at the end.")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not _CLOCK.match(v):
            raise ValueError(f"{v!r} is not a clock time: use HH:MM, e.g. 08:00 or 24:00")
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if clock_minutes(self.start) == clock_minutes(self.end) % 1440 and self.start != "00:00":
            raise ValueError("a shift needs start != end (00:00-24:00 for all day)")
        return self


class ProductionCalendar(_Model):
    """When the plant produces. Energy outside it is idle load."""

    shifts: list[Shift] = Field(min_length=1)
    holidays: list[dt.date] = Field(
        default_factory=list, description="Days without production (public holidays)."
    )
    workdays: list[dt.date] = Field(
        default_factory=list,
        description="Extra working days (调休 weekend days worked): they take the shifts of "
        "the weekday given in workday_pattern.",
    )
    workday_pattern: Weekday = Weekday.MON


class Tariffs(_Model):
    """Prices, for cost per year of an opportunity (yuan, VAT as you book it)."""

    electricity_yuan_per_kwh: float | None = Field(default=None, gt=0, lt=100)
    demand_yuan_per_kw_month: float | None = Field(
        default=None, gt=0, lt=10_000, description="Two-part tariff: per kW of monthly peak."
    )
    natural_gas_yuan_per_nm3: float | None = Field(default=None, gt=0, lt=1000)
    fuel_yuan_per_t: float | None = Field(default=None, gt=0, lt=1_000_000)
    heat_yuan_per_gj: float | None = Field(default=None, gt=0, lt=100_000)


class SignificantUse(_Model):
    """A significant energy use (ISO 50001 SEU): energy meters and what drives them."""

    id: Identifier
    site: Identifier
    meters: list[Identifier] = Field(min_length=1, description="Energy meters of the use.")
    production_meters: list[Identifier] | None = Field(
        default=None, description="Driver: these production meters (default: the site's)."
    )
    name: str = ""
    degree_days: bool = Field(
        default=True,
        description="Use the site's degree days (energy.baseline.degree_days) as drivers, "
        "when the site has them.",
    )


# Base temperatures people use lie well inside these (heating 15.5-18 °C, cooling
# 18-24 °C); outside them a base is a typo (a Fahrenheit value, a missing sign).
HEATING_BASE_C = (0.0, 25.0)
COOLING_BASE_C = (10.0, 35.0)


class DegreeDays(_Model):
    """Heating and cooling degree days from a temperature meter, as baseline drivers of
    a site's uses: HDD = max(0, base - mean T), CDD = max(0, mean T - base), per day."""

    site: Identifier
    meter: Identifier = Field(description="A temperature meter (kind: temperature, °C).")
    heating_base_c: float | None = Field(
        default=None, description="Heating base temperature, °C (e.g. 18); none: no HDD."
    )
    cooling_base_c: float | None = Field(
        default=None, description="Cooling base temperature, °C (e.g. 22); none: no CDD."
    )

    @field_validator("heating_base_c")
    @classmethod
    def _heating(cls, v: float | None) -> float | None:
        lo, hi = HEATING_BASE_C
        if v is not None and not lo <= v <= hi:
            raise ValueError(
                f"{v} °C is not a heating base temperature: give °C between {lo:g} and "
                f"{hi:g} (usually 15.5-18), the outdoor temperature above which no heating "
                "is needed"
            )
        return v

    @field_validator("cooling_base_c")
    @classmethod
    def _cooling(cls, v: float | None) -> float | None:
        lo, hi = COOLING_BASE_C
        if v is not None and not lo <= v <= hi:
            raise ValueError(
                f"{v} °C is not a cooling base temperature: give °C between {lo:g} and "
                f"{hi:g} (usually 18-24), the outdoor temperature below which no cooling "
                "is needed"
            )
        return v

    @model_validator(mode="after")
    def _some(self) -> DegreeDays:
        if self.heating_base_c is None and self.cooling_base_c is None:
            raise ValueError(
                "degree days need heating_base_c, cooling_base_c or both (e.g. heating_base_c: 18)"
            )
        h, c = self.heating_base_c, self.cooling_base_c
        if h is not None and c is not None and h > c:
            raise ValueError(
                f"heating_base_c {h:g} °C is above cooling_base_c {c:g} °C: a day would count "
                "as both heating and cooling; swap them or lower the heating base"
            )
        return self


class BaselineConfig(_Model):
    """The baseline period (ISO 50006 EnB) and the model's data interval."""

    start: dt.date
    end: dt.date = Field(description="Inclusive last day.")
    interval: Literal["hour", "day", "month"] = "day"
    degree_days: list[DegreeDays] = Field(
        default_factory=list, description="Per site: degree days as drivers besides production."
    )

    @model_validator(mode="after")
    def _ordered(self) -> BaselineConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def degree_days_of(self, site: str) -> DegreeDays | None:
        return next((d for d in self.degree_days if d.site == site), None)


class FlexibleLoad(_Model):
    """A load that can move within the day (a batch furnace, a charging fleet)."""

    id: Identifier
    site: Identifier
    kw: float = Field(gt=0, lt=1_000_000)
    hours: int = Field(ge=1, le=24, description="Hours it runs, in one block.")
    earliest: str = Field(default="00:00", description="Local HH:MM it may start.")
    latest_end: str = Field(default="24:00", description="Local HH:MM it must end by.")
    meter: Identifier | None = Field(default=None, description="Its meter, if it has one.")

    @field_validator("earliest", "latest_end")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not _CLOCK.match(v):
            raise ValueError(f"{v!r} is not a clock time: use HH:MM")
        return v

    @model_validator(mode="after")
    def _fits(self) -> FlexibleLoad:
        if clock_minutes(self.latest_end) - clock_minutes(self.earliest) < self.hours * 60:
            raise ValueError(
                f"{self.hours} h do not fit between {self.earliest} and {self.latest_end}"
            )
        return self


class OpportunityRules(_Model):
    """Thresholds of the opportunity detectors (defaults in docs/energy.md)."""

    window_days: int = Field(default=28, ge=7, le=92, description="History looked at.")
    idle_min_fraction: float = Field(
        default=0.10,
        gt=0,
        lt=1,
        description="Idle load counts when it exceeds the meter's quiescent level by this "
        "fraction of its median load in production hours.",
    )
    idle_min_hours: int = Field(default=4, ge=1, le=168, description="Consecutive hours.")
    drift_z: float = Field(
        default=4.0, gt=0, le=20, description="Robust z of the 24-hour mean residual."
    )
    drift_min_fraction: float = Field(
        default=0.05, gt=0, lt=1, description="... and at least this fraction of expected load."
    )
    drift_min_hours: int = Field(default=48, ge=6, le=24 * 30)
    reference_days: int = Field(
        default=14, ge=7, le=60, description="Start of the window used as the expected profile."
    )
    peak_intervals: int = Field(
        default=4,
        ge=1,
        le=96,
        description="Demand peaks: the kW above the level the meter exceeds in fewer than "
        "this many 15-minute intervals a month is counted as avoidable.",
    )
    min_tco2e_per_year: float = Field(default=0.5, ge=0, description="Smaller ones are dropped.")

    @model_validator(mode="after")
    def _reference_inside_window(self) -> OpportunityRules:
        if self.reference_days >= self.window_days:
            raise ValueError(
                f"reference_days ({self.reference_days}) must be shorter than window_days "
                f"({self.window_days}): drift is looked for after the reference days"
            )
        return self


class EnergyConfig(_Model):
    equal_value_region: str = Field(
        default="CN",
        description="Region of the power-supply coal rate used for electricity's equal value.",
    )
    equal_value_year: Literal["same", "previous"] = Field(
        default="same",
        description="Coal rate of the activity year, or of the previous year (GB 30251-2024).",
    )
    coefficients: dict[Identifier, str] = Field(
        default_factory=dict,
        description="Per meter: the id of a tce coefficient (kgce per unit) to use instead "
        "of the default for its fuel (e.g. a measured NCV given as kgce/m3).",
    )
    natural_gas: Literal["gas_field", "oil_field"] = "gas_field"
    calendar: ProductionCalendar | None = None
    tariffs: Tariffs = Field(default_factory=Tariffs)
    significant_uses: list[SignificantUse] = Field(default_factory=list)
    baseline: BaselineConfig | None = None
    flexible_loads: list[FlexibleLoad] = Field(default_factory=list)
    opportunities: OpportunityRules = Field(default_factory=OpportunityRules)

    def check(self, meter_kinds: Mapping[str, str], sites: set[str]) -> None:
        """Names used here exist in the plant: its meters (id -> kind) and site ids
        (ValueError naming the field otherwise). Plain values, not the Plant, so this
        module does not import the model that imports it."""
        for mid in self.coefficients:
            if mid not in meter_kinds:
                raise ValueError(f"energy.coefficients names unknown meter {mid!r}")
        for i, u in enumerate(self.significant_uses):
            where = f"energy.significant_uses[{i}] ({u.id})"
            if u.site not in sites:
                raise ValueError(f"{where}: unknown site {u.site!r}")
            for mid in [*u.meters, *(u.production_meters or [])]:
                if mid not in meter_kinds:
                    raise ValueError(f"{where}: unknown meter {mid!r}")
            for mid in u.meters:
                if meter_kinds[mid] in ("production", "temperature", "grid_export", "heat_export"):
                    raise ValueError(f"{where}: {mid!r} is not an energy input meter")
            for mid in u.production_meters or []:
                if meter_kinds[mid] != "production":
                    raise ValueError(f"{where}: {mid!r} is not a production meter")
        seen: set[str] = set()
        for i, u in enumerate(self.significant_uses):
            if u.id in seen:
                raise ValueError(f"energy.significant_uses[{i}]: duplicate id {u.id!r}")
            seen.add(u.id)
        for mid in self.coefficients:
            if meter_kinds[mid] in ("production", "temperature"):
                raise ValueError(
                    f"energy.coefficients[{mid}]: a {meter_kinds[mid]} meter is not energy; drop it"
                )
        if self.baseline is not None:
            self._check_degree_days(self.baseline, meter_kinds, sites)
        for i, f in enumerate(self.flexible_loads):
            if f.site not in sites:
                raise ValueError(f"energy.flexible_loads[{i}] ({f.id}): unknown site {f.site!r}")
            if f.meter is not None and f.meter not in meter_kinds:
                raise ValueError(f"energy.flexible_loads[{i}] ({f.id}): unknown meter {f.meter!r}")

    @staticmethod
    def _check_degree_days(
        b: BaselineConfig, meter_kinds: Mapping[str, str], sites: set[str]
    ) -> None:
        seen: set[str] = set()
        for i, d in enumerate(b.degree_days):
            where = f"energy.baseline.degree_days[{i}]"
            if d.site not in sites:
                raise ValueError(f"{where}.site: unknown site {d.site!r}")
            if d.site in seen:
                raise ValueError(f"{where}.site: {d.site!r} has degree days already; one per site")
            seen.add(d.site)
            kind = meter_kinds.get(d.meter)
            if kind is None:
                raise ValueError(f"{where}.meter: unknown meter {d.meter!r}")
            if kind != "temperature":
                raise ValueError(
                    f"{where}.meter: {d.meter!r} is a {kind} meter; name a meter of kind "
                    "temperature (°C, measures: rate)"
                )
