"""Hourly instrument data, matching, zero-carbon status, intensity and restated versions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.api.schemas.values import Instant, LocalTime
from carbonstream.domain.green_model import DateRange

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
    hour: LocalTime
    mwh: float


class HourlyPublic(BaseModel):
    contract: str
    contract_mwh: float
    generation: DateRange
    hours: int
    hourly_mwh: float
    hourly_pct: float = Field(description="Hourly MWh as % of the contract's certificates.")
    first: LocalTime | None
    last: LocalTime | None
    rows: list[HourPublic]
