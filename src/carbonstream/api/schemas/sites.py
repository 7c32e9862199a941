"""Sites and meters with their live status."""

from __future__ import annotations

from pydantic import BaseModel, Field

from carbonstream.api.schemas.values import LocalTime
from carbonstream.core.health import MeterState
from carbonstream.domain.live import Rate

__all__ = ["MeterState", "Rate"]


class ConflictPublic(BaseModel):
    """A reading that arrived for a stored (meter, time) with another value: not stored."""

    at: LocalTime = Field(description="The reading's source time, plant time zone.")
    stored_value: float | None = Field(description="The value kept (null: a bad reading).")
    value: float | None = Field(description="The other value that arrived (null: bad).")
    seen_at: LocalTime = Field(description="When it last arrived, plant time zone.")


class MeterStatus(BaseModel):
    state: MeterState
    quality: str | None = Field(
        description="Quality of the meter's data now, derived with state: good when ok, stale "
        "when silent, the newest reading's quality when it is unusable, null when never read."
    )
    last_reading_at: LocalTime | None = Field(
        description="Source time of the newest reading (any quality), plant time zone."
    )
    last_value: float | None = Field(description="Its raw value (null when not good).")
    last_quality: str | None = Field(
        description="The newest reading's own quality: good, timeout, stale, ..., "
        "implausible_negative, implausible_high, implausible_jump (a silent meter's last "
        "reading may have been good; its data is stale: see quality)"
    )
    last_good_at: LocalTime | None = Field(description="The newest good reading's time.")
    seconds_silent: float | None = Field(
        description="Seconds since the newest reading (0 when it is in the future)."
    )
    silent_since: LocalTime | None = Field(
        description="Set when the meter is silent: the time of its newest reading."
    )
    conflicts: int = Field(
        default=0,
        description="Readings that arrived for a stored (meter, time) with another value or "
        "quality (recorded in reading_conflicts; an identical redelivery is not one).",
    )
    last_conflict: ConflictPublic | None = Field(
        default=None, description="The most recently seen of them."
    )
    implausible_readings: int = Field(
        default=0,
        description="Readings stored with an implausible quality (implausible_negative, "
        "implausible_high, implausible_jump): kept, not used in the account.",
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
    last_reading_at: LocalTime | None
    rates_until: LocalTime = Field(
        description="End of the last complete minute in the rates, plant time zone."
    )
    rates: list[Rate] = Field(
        description="tCO2e/h over the trailing 1, 15 and 60 minutes, each over the seconds "
        "its window has data (covered_s): the figures of the live stream and page."
    )


class SiteDetail(SitePublic):
    meter_status: list[MeterPublic]
