"""Built-in fuels: their physical state and where their default factors live.

The list is open: a plant declares other fuels in its file (``fuels:``) with
their factors as data (ids in its factor files). A built-in fuel only names
the rows of the shipped tables it uses; the values live in
``data/factors/*.csv`` with their sources and verification marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FuelState(StrEnum):
    GAS = "gas"  # by volume: Nm3, or m3 with reference conditions
    LIQUID = "liquid"  # by mass, or by volume with a density
    SOLID = "solid"  # by mass


class Fuel(StrEnum):
    """The built-in fuel names (a plant may declare more)."""

    NATURAL_GAS = "natural_gas"
    DIESEL = "diesel"
    GASOLINE = "gasoline"
    FUEL_OIL = "fuel_oil"
    LPG = "lpg"
    RAW_COAL = "raw_coal"
    COKE = "coke"
    OTHER_BITUMINOUS_COAL = "other_bituminous_coal"
    SUB_BITUMINOUS_COAL = "sub_bituminous_coal"
    ANTHRACITE = "anthracite"
    WASHED_COAL = "washed_coal"
    OTHER_WASHED_COAL = "other_washed_coal"
    BRIQUETTES = "briquettes"
    COKE_OVEN_GAS = "coke_oven_gas"
    BLAST_FURNACE_GAS = "blast_furnace_gas"
    CONVERTER_GAS = "converter_gas"
    KEROSENE = "kerosene"
    PETROLEUM_COKE = "petroleum_coke"
    LNG = "lng"


@dataclass(frozen=True, slots=True)
class BuiltinFuel:
    state: FuelState
    cn: str | None  # China defaults: cn.fuel.<cn>.ncv / .cc / .of
    ipcc: str | None  # IPCC 2006: ipcc2006.<ipcc>.ncv / .co2
    ipcc_non_co2: str | None  # stationary CH4/N2O: ipcc2006.<name>.ch4.manufacturing
    mobile: str | None = None  # mobile CH4/N2O: ipcc2006.mobile.<mobile>.<vehicle>.ch4
    default_density: str | None = None  # library id used when a volume has no density


_G, _L, _S = FuelState.GAS, FuelState.LIQUID, FuelState.SOLID

BUILTIN_FUELS: dict[str, BuiltinFuel] = {
    Fuel.NATURAL_GAS: BuiltinFuel(_G, "natural_gas", "natural_gas", "natural_gas", "natural_gas"),
    Fuel.DIESEL: BuiltinFuel(_L, "diesel", "diesel", "diesel", "diesel", "density.diesel"),
    Fuel.GASOLINE: BuiltinFuel(_L, "gasoline", "gasoline", "gasoline", "gasoline"),
    Fuel.FUEL_OIL: BuiltinFuel(_L, "fuel_oil", "residual_fuel_oil", "residual_fuel_oil"),
    Fuel.LPG: BuiltinFuel(_L, "lpg", "lpg", "lpg", "lpg"),
    Fuel.RAW_COAL: BuiltinFuel(_S, "raw_coal", None, None),
    Fuel.COKE: BuiltinFuel(_S, "coke", "coke_oven_coke", "coal"),
    Fuel.OTHER_BITUMINOUS_COAL: BuiltinFuel(_S, None, "other_bituminous_coal", "coal"),
    Fuel.SUB_BITUMINOUS_COAL: BuiltinFuel(_S, None, "sub_bituminous_coal", "coal"),
    Fuel.ANTHRACITE: BuiltinFuel(_S, None, "anthracite", "coal"),
    Fuel.WASHED_COAL: BuiltinFuel(_S, "washed_coal", None, None),
    Fuel.OTHER_WASHED_COAL: BuiltinFuel(_S, "other_washed_coal", None, None),
    Fuel.BRIQUETTES: BuiltinFuel(_S, "briquettes", None, None),
    Fuel.COKE_OVEN_GAS: BuiltinFuel(_G, "coke_oven_gas", None, None),
    Fuel.BLAST_FURNACE_GAS: BuiltinFuel(_G, "blast_furnace_gas", None, None),
    Fuel.CONVERTER_GAS: BuiltinFuel(_G, "converter_gas", None, None),
    Fuel.KEROSENE: BuiltinFuel(_L, "kerosene", None, None),
    Fuel.PETROLEUM_COKE: BuiltinFuel(_S, "petroleum_coke", None, None),
    Fuel.LNG: BuiltinFuel(_L, "lng", None, None),
}

CN_ROLES = ("ncv", "carbon_content", "oxidation")
IPCC_ROLES = ("ncv", "co2", "ch4", "n2o")
FUEL_ROLES = frozenset({*CN_ROLES, *IPCC_ROLES})


def cn_default(fuel: BuiltinFuel, role: str) -> str | None:
    if fuel.cn is None:
        return None
    suffix = {"ncv": "ncv", "carbon_content": "cc", "oxidation": "of"}[role]
    return f"cn.fuel.{fuel.cn}.{suffix}"


def ipcc_default(fuel: BuiltinFuel, role: str, vehicle: str | None) -> str | None:
    """The IPCC 2006 default id for a role; CH4/N2O from the mobile tables (Vol. 2
    Ch. 3) when the meter is mobile, else the stationary manufacturing ones (Table 2.3)."""
    if role in ("ncv", "co2"):
        return None if fuel.ipcc is None else f"ipcc2006.{fuel.ipcc}.{role}"
    if vehicle is not None:
        return None if fuel.mobile is None else f"ipcc2006.mobile.{fuel.mobile}.{vehicle}.{role}"
    return (
        None if fuel.ipcc_non_co2 is None else f"ipcc2006.{fuel.ipcc_non_co2}.{role}.manufacturing"
    )
