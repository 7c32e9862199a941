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
        "renewables and green power apart, production and tce per unit, and coverage_pct "
        "(the mean of the group's meters' coverage: each the share of the bucket its "
        "counted intervals cover). Every bucket of the period has a row for every group: "
        "a bucket without data is a row of zeros with coverage_pct 0, never left out."
    )
    coefficients: list[dict[str, Any]] = Field(description="Per meter: the coefficient used.")
    equal_values: list[dict[str, Any]] = Field(
        description="Electricity's equal value per activity year, with source and fallback."
    )
    unverified: list[str] = Field(description="Coefficients not verified against the standard.")
    notes: list[str]


class Opportunity(BaseModel):
    """One reduction opportunity, with what it is worth per year and its evidence."""

    rank: int
    kind: str = Field(description="idle_load, drift, demand_peak or flexible_peak.")
    meter: str | None
    site: str
    title: dict[str, str] = Field(description="zh and en.")
    action: dict[str, str] = Field(description="What to do, zh and en.")
    hours: str = Field(description="When it happens (plant-local).")
    flagged_hours: int
    energy_per_year: float = Field(description="In energy_unit (the meter's canonical unit).")
    energy_unit: str
    tce_per_year: float
    tco2e_per_year: float
    cost_yuan_per_year: float | None = Field(description="None when no tariff is given.")
    first: str
    last: str
    detail: dict[str, Any]
    evidence: str = Field(description="API path of the hourly readings behind it.")


class OpportunityList(BaseModel):
    start: str
    end: str
    timezone: str
    calendar: str = Field(description="Production calendar used (configured or the default).")
    method: str
    opportunities: list[Opportunity]


class BaselineReport(BaseModel):
    """Baselines per site and significant energy use, assessed over a reporting period."""

    start: str
    end: str
    timezone: str
    configured: bool = Field(description="False when the plant file has no energy.baseline.")
    method: str
    uses: list[dict[str, Any]] = Field(
        description="Per use: model (R2, CV(RMSE), NMBE vs ASHRAE 14), valid, EnPI, "
        "savings in tce and tCO2e, CUSUM series."
    )


class FlexibleSlot(BaseModel):
    """A flexible load's lowest-emission hours for the next local day."""

    load: str
    site: str
    meter: str | None
    day: str
    start: str = Field(description="Local HH:MM to start.")
    end: str
    tco2e: float = Field(description="Of the run at the suggested hours.")
    worst_tco2e: float = Field(description="Of the run at the worst allowed hours.")
    saved_tco2e: float
    all_hours_alike: bool = Field(
        description="No renewable surplus forecast in the allowed hours: any start is as good."
    )
    t_per_mwh_by_hour: list[float] = Field(description="Marginal tCO2e/MWh per local hour.")
