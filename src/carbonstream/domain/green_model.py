"""The figures of matching, zero-carbon status, intensity and account versions.

Models of the domain (built by :mod:`carbonstream.domain.green`, read by the inventory,
the live view and the monthly report); the API's response schemas embed them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonstream.localtime import LocalTime

Basis = Literal["market", "location"]


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: dt.date
    end: dt.date = Field(description="Inclusive last day.")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class PeriodOut(BaseModel):
    start: LocalTime
    end: LocalTime = Field(description="Exclusive.")
    hours: float


# --- matching ---------------------------------------------------------------------------------


class MatchedInstrument(BaseModel):
    instrument: str
    contract: str | None = Field(description="Null: an instrument of the plant file.")
    type: str
    serials: str
    claim: DateRange
    mwh: float = Field(description="Certificates allocated to this site (1 = 1 MWh).")
    emission_factor_t_per_mwh: float
    counted: bool = Field(description="Its claim period lies inside the period asked for.")
    hourly: bool = Field(description="Hourly generation is loaded for its contract.")
    hourly_mwh: float = Field(
        description="Its share of the contract's hourly generation inside its claim period."
    )
    note: str


class MatchingResult(BaseModel):
    consumption_mwh: float
    instruments_mwh: float
    covered_mwh: float
    uncovered_mwh: float
    surplus_mwh: float = Field(description="Instrument MWh that found no consumption to cover.")
    coverage_pct: float
    market_t: float = Field(
        description="Market-based Scope 2 of the electricity: uncovered MWh x residual factor "
        "(+ covered MWh x the instruments' rate, 0 for renewables)."
    )


class StoredAccount(BaseModel):
    covered_mwh: float = Field(description="As the account stands (the core's allocation).")
    market_t: float = Field(description="Stored market-based Scope 2 of electricity.")
    location_t: float = Field(description="Stored location-based Scope 2 of electricity.")


class MatchingHour(BaseModel):
    hour: LocalTime
    consumption_mwh: float
    instruments_mwh: float
    covered_mwh: float


class MatchingReport(BaseModel):
    site: str
    period: PeriodOut
    residual_factor_t_per_mwh: float = Field(
        description="Consumption-weighted residual factor the stored minutes used."
    )
    instruments: list[MatchedInstrument]
    annual: MatchingResult = Field(
        description="Volume matching (GHG Protocol Scope 2 Guidance 2015): instrument MWh "
        "against the period's consumption, whatever the hour."
    )
    hourly: MatchingResult = Field(
        description="Hourly matching (2025-27 revision, proposed): each hour's instrument "
        "generation covers that hour's consumption only."
    )
    difference_t: float = Field(description="hourly.market_t - annual.market_t.")
    stored: StoredAccount
    hours: list[MatchingHour] | None = Field(description="Per hour, with hours=true.")
    notes: list[str]


# --- zero-carbon status -----------------------------------------------------------------------


class ZeroCarbonStatus(BaseModel):
    site: str | None = Field(description="Null: the sites asked for together.")
    scope1_t: float
    scope2_t: float = Field(description="On the basis of scope2_basis.")
    gross_t: float = Field(description="Scope 1 + Scope 2: never reduced by offsets.")
    offsets_t: float = Field(description="CCER retired for this site (or plant-wide) and period.")
    net_t: float
    zero_carbon: bool = Field(description="net_t <= 0.")
    remaining_t: float = Field(description="What is left to reduce or offset; 0 when zero-carbon.")
    over_offset: bool = Field(description="net_t < 0: more retired than emitted (never clamped).")
    over_offset_t: float = Field(description="-net_t when over-offset, else 0.")
    retirements: list[int] = Field(description="Ids of the retirements counted.")


class ZeroCarbonReport(BaseModel):
    period: PeriodOut
    version: str = Field(description="'live' or the restatement id the figures come from.")
    scope2_basis: Basis
    rule: str
    total: ZeroCarbonStatus
    sites: list[ZeroCarbonStatus]


class SiteIntensity(BaseModel):
    site: str
    unit: str | None = Field(description="Production unit (null: the site has no production).")
    production: float
    scope1_t: float
    scope2_t: float
    emissions_t: float
    t_per_unit: float | None = Field(description="tCO2e per unit; null without production.")


class LineIntensity(BaseModel):
    line: str
    site: str
    unit: str | None
    production: float
    production_meters: list[str]
    emission_meters: list[str]
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float = Field(
        description="The line's grid MWh at the site's market-based tCO2e per MWh of the "
        "period, plus its heat."
    )
    emissions_t: float = Field(description="Scope 1 + Scope 2 on scope2_basis.")
    t_per_unit: float | None


class IntensityReport(BaseModel):
    period: PeriodOut
    scope2_basis: Basis
    sites: list[SiteIntensity]
    lines: list[LineIntensity]
    notes: list[str]


# --- restatements -----------------------------------------------------------------------------


class RestatementPublic(BaseModel):
    id: int
    label: str
    first_day: dt.date
    last_day: dt.date
    created_at: LocalTime
    code_version: str
    factor_files: list[dict[str, str]]
    factors: list[dict[str, str | int | float]] = Field(
        description="Factor versions the recomputation used: factor_id, version, value, unit."
    )
    note: str
    site_days: int = Field(description="Stored (site, local day) totals.")


class VersionPublic(BaseModel):
    """Which account a figure comes from: the live one ingest keeps, or a restatement."""

    version: str = Field(description="'live' or the restatement id.")
    label: str
    restatement: RestatementPublic | None
