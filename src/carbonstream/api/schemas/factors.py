"""Emission factors: the versioned library, read by anyone, extended by admins."""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonstream.api.schemas.values import Line, LocalTime, Text

FactorId = str


class FactorPublic(BaseModel):
    factor_id: str
    version: int
    series: str
    region: str
    value: float
    unit: str
    gas: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    data_year: int | None
    source: str
    table: str
    verified: str
    description: str
    origin: str = Field(description="builtin:<table>, the plant's factor file, or api.")
    used: bool = Field(description="A stored figure uses this version (it is frozen).")
    created_by: str | None = None
    created_at: LocalTime | None = None


class FactorCreate(BaseModel):
    """A new version of a factor (or a new factor). Published versions are never edited."""

    model_config = ConfigDict(extra="forbid")

    factor_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$", examples=["cn.elec.national_avg.2024"]
    )
    version: int | None = Field(
        default=None, ge=1, le=10_000, description="Default: the next version of this id."
    )
    series: Line = Field(default="", max_length=128, description="e.g. cn.grid.avg")
    region: Line = Field(default="global", max_length=64)
    value: float = Field(ge=0)
    unit: Line = Field(max_length=32, examples=["tCO2/MWh"])
    gas: Line = Field(default="", max_length=16)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    data_year: int | None = Field(default=None, ge=1990, le=2100)
    source: Line = Field(min_length=3, max_length=2000, description="Document, table, URL.")
    table: Line = Field(default="", max_length=200)
    verified: str = Field(default="unknown", pattern=r"^(yes|no|unknown)$")
    description: Text = Field(default="", max_length=2000)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("value must be a finite number")
        return v

    @model_validator(mode="after")
    def _dates(self) -> FactorCreate:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self
