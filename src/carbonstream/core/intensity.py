"""Emission intensity: tCO2e per unit of product, for a line, a site or a period."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intensity:
    emissions_t: float
    production: float
    unit: str  # of production: t, pcs, ...
    value: float | None  # tCO2e per unit; None without production (never divide by zero)
    basis: str  # "market" or "location" Scope 2 in the numerator


def intensity(
    scope1_t: float, scope2_t: float, production: float, unit: str, basis: str = "market"
) -> Intensity:
    emissions = scope1_t + scope2_t
    value = emissions / production if production > 0 else None
    return Intensity(emissions, production, unit, value, basis)


@dataclass(frozen=True)
class LineEmissions:
    """A production line's emissions: its own meters' Scope 1 and Scope 2 (both ways)."""

    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float

    def total(self, basis: str) -> float:
        return self.scope1_t + (
            self.scope2_market_t if basis == "market" else self.scope2_location_t
        )


def line_emissions(
    fuel_t: float,
    grid_mwh: float,
    grid_location_t: float,
    heat_t: float,
    site_market_t_per_mwh: float,
) -> LineEmissions:
    """Market-based Scope 2 exists per site (instruments cover a site's consumption, not a
    meter's), so a line's grid MWh take the site's market-based tonnes per MWh of the same
    period; heat is the same both ways."""
    return LineEmissions(
        scope1_t=fuel_t,
        scope2_location_t=grid_location_t + heat_t,
        scope2_market_t=grid_mwh * site_market_t_per_mwh + heat_t,
    )
