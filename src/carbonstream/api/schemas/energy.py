"""Response models of the energy and opportunity endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EnergyTotals(BaseModel):
    plant: dict[str, Any] = Field(description="Plant total: the columns of a site.")
    site: dict[str, dict[str, Any]]
    line: dict[str, dict[str, Any]]
    meter: dict[str, dict[str, Any]]


class EnergyReport(BaseModel):
    """Comprehensive energy consumption (GB/T 2589) of a period, in tce."""

    timezone: str
    bucket: str
    start: str
    end: str
    method: str
    grouping: str = Field(
        description="What each row of `buckets` is per: meter, line, site, plant."
    )
    totals: EnergyTotals
    buckets: list[dict[str, Any]] = Field(
        description="Per bucket and group: total_tce, total_equal_tce, by carrier, on-site "
        "renewables and green power apart, production and tce per unit."
    )
    coefficients: list[dict[str, Any]] = Field(description="Per meter: the coefficient used.")
    equal_values: list[dict[str, Any]] = Field(
        description="Electricity's equal value per activity year, with source and fallback."
    )
    unverified: list[str] = Field(description="Coefficients not verified against the standard.")
    notes: list[str]
