"""Hourly instrument data, matching, zero-carbon status, intensity and restated versions."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.api.schemas.ledger import DateRange
from carbonstream.api.schemas.values import Instant
from carbonstream.domain.green_model import PeriodOut as PeriodOut

# --- hourly instrument data -------------------------------------------------------------------


class HourlyRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hour: Instant = Field(
        description="Start of a local hour of the plant (no offset: plant-local; give the "
        "offset to tell the two hours of a fall-back night apart)."
    )
    mwh: float = Field(ge=0, le=1_000_000, description="Generation in that hour, MWh.")


class HourlyLoad(BaseModel):
    """Hourly generation of a contract, as JSON (or send text/csv with a header hour,mwh)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[HourlyRow] = Field(min_length=1, max_length=20_000)


class HourlyLoaded(BaseModel):
    contract: str
    added: int = Field(description="Hours stored by this request.")
    unchanged: int = Field(description="Hours already stored with the same MWh (idempotent).")
    hours: int = Field(description="Hours stored for the contract in all.")
    hourly_mwh: float = Field(description="Their MWh in all.")
    contract_mwh: float = Field(description="Certificates of the contract (1 = 1 MWh).")


class HourPublic(BaseModel):
    hour: dt.datetime
    mwh: float


class HourlyPublic(BaseModel):
    contract: str
    contract_mwh: float
    generation: DateRange
    hours: int
    hourly_mwh: float
    hourly_pct: float = Field(description="Hourly MWh as % of the contract's certificates.")
    first: dt.datetime | None
    last: dt.datetime | None
    rows: list[HourPublic]


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
    hour: dt.datetime
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
