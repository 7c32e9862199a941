"""Sites and meters with their live status."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field


class MeterState(StrEnum):
    OK = "ok"
    BAD_QUALITY = "bad_quality"  # the newest reading has a non-good quality
    SILENT = "silent"  # nothing received for longer than silent_after_s
    NO_DATA = "no_data"  # never read


class MeterStatus(BaseModel):
    state: MeterState
    last_reading_at: dt.datetime | None = Field(
        description="Source time of the newest reading (any quality), plant time zone."
    )
    last_value: float | None = Field(description="Its raw value (null when not good).")
    last_quality: str | None = Field(description="Its quality: good, timeout, stale, ...")
    last_good_at: dt.datetime | None = Field(description="The newest good reading's time.")
    seconds_silent: float | None = Field(
        description="Seconds since the newest reading (0 when it is in the future)."
    )
    silent_since: dt.datetime | None = Field(
        description="Set when the meter is silent: the time of its newest reading."
    )


class MeterPublic(BaseModel):
    id: str
    site: str
    kind: str
    measures: str
    unit: str
    scope: int | None = Field(description="1 for fuel, 2 for imports, null otherwise.")
    fuel: str | None = None
    description: str = ""
    status: MeterStatus


class Rates(BaseModel):
    """Emission rate over the last 15 complete minutes, tCO2e per hour."""

    scope1_t_per_h: float
    scope2_location_t_per_h: float
    scope2_market_t_per_h: float
    window_start: dt.datetime
    window_end: dt.datetime


class BudgetPublic(BaseModel):
    daily_t: float | None
    monthly_t: float | None
    yearly_t: float | None
    basis: str


class SitePublic(BaseModel):
    id: str
    name: str
    grid_region: str | None
    budget: BudgetPublic | None
    meters: int = Field(description="Number of meters.")
    meters_silent: int
    meters_bad_quality: int
    last_reading_at: dt.datetime | None
    rates: Rates


class SiteDetail(SitePublic):
    meter_status: list[MeterPublic]
