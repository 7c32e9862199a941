"""Emission time series: by site (all scopes or chosen ones) and by meter."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from carbonstream.api.schemas.values import LocalTime
from carbonstream.store.queries.series import Bucket


class Scope(StrEnum):
    SCOPE1 = "scope1"
    SCOPE2_LOCATION = "scope2_location"
    SCOPE2_MARKET = "scope2_market"


class SitePointPublic(BaseModel):
    start: LocalTime = Field(description="Bucket start in the plant's time zone, with offset.")
    site: str
    scope1_t: float | None = None
    scope2_location_t: float | None = None
    scope2_market_t: float | None = None
    grid_import_mwh: float = Field(description="Grid electricity imported in the bucket.")
    coverage_pct: float = Field(
        description="Share of the bucket's minutes (inside the range) with counted data. A "
        "bucket without data is a point of zeros with coverage_pct 0, never left out."
    )


class SiteSeries(BaseModel):
    timezone: str
    bucket: Bucket
    start: LocalTime
    end: LocalTime = Field(description="Exclusive.")
    sites: list[str]
    scopes: list[Scope]
    unit: str = "tCO2e"
    points: list[SitePointPublic]


class MeterPointPublic(BaseModel):
    start: LocalTime
    quantity: float = Field(description="Activity in the meter's canonical unit.")
    co2e_t: float = Field(description="tCO2e (grid meters: location-based).")
    coverage_pct: float = Field(
        description="Share of the bucket (inside the range) covered by counted intervals. A "
        "bucket without data is a point of zeros with coverage_pct 0, never left out."
    )
    flags: list[str]


class MeterSeries(BaseModel):
    timezone: str
    bucket: Bucket
    start: LocalTime
    end: LocalTime
    meter: str
    site: str
    scope: int | None
    quantity_unit: str
    points: list[MeterPointPublic]
