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
