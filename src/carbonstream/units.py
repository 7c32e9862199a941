"""Units: what each meter may be stated in, and the scale to the core's canonical unit.

The core works in one canonical unit per kind of quantity, so a factor never
meets a unit it was not published for:

| quantity                          | canonical | rate canonical |
|-----------------------------------|-----------|----------------|
| electricity (import, export, PV)  | MWh       | MWh/h (= MW)   |
| heat, steam, hot water            | GJ        | GJ/h           |
| gaseous fuel                      | Nm3 (0 °C, 101.325 kPa) | Nm3/h |
| liquid and solid fuel             | t         | t/h            |
| production output                 | t, or the counted unit (pcs, m2, ...) |

A meter's scale = multiplier x (canonical per meter unit). Conversions that
need a property of the medium (gas reference conditions, liquid density,
steam enthalpy) take it from the meter's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

# Water at 20 °C, subtracted from steam enthalpy (NDRC guideline formula,
# library factor cn.heat.steam_ref_enthalpy) and the specific heat of water
# (cn.heat.water_cp); kept here because they define a unit conversion.
STEAM_REF_ENTHALPY_KJ_PER_KG = 83.74
WATER_CP_KJ_PER_KG_K = 4.1868
ZERO_CELSIUS_K = 273.15
STANDARD_PRESSURE_KPA = 101.325

ELECTRICITY = {"Wh": 1e-6, "kWh": 1e-3, "MWh": 1.0, "GWh": 1e3}
ELECTRICITY_RATE = {"W": 1e-6, "kW": 1e-3, "MW": 1.0}
HEAT = {"GJ": 1.0, "MJ": 1e-3, "kWh": 0.0036, "MWh": 3.6}
HEAT_RATE = {"GJ/h": 1.0, "MJ/h": 1e-3, "kW": 0.0036, "MW": 3.6}
GAS = {"Nm3": 1.0, "10^4 Nm3": 1e4}
GAS_RATE = {"Nm3/h": 1.0}
MASS = {"t": 1.0, "kg": 1e-3}
MASS_RATE = {"t/h": 1.0, "kg/h": 1e-3}
LIQUID_VOLUME_L = {"L": 1.0, "m3": 1e3}  # litres per unit
LIQUID_VOLUME_RATE_L = {"L/h": 1.0, "m3/h": 1e3}
COUNTED = ("pcs", "m2", "m3", "unit")


class UnitError(ValueError):
    """The unit does not fit the meter (kind, counter or rate, medium)."""


@dataclass(frozen=True, slots=True)
class Scale:
    canonical: str  # canonical unit of the *quantity* (MWh, GJ, Nm3, t, pcs)
    per_unit: float  # canonical quantity per meter unit (per unit-hour for rates)


def gas_volume_factor(temperature_c: float, pressure_kpa: float) -> float:
    """Nm3 (0 °C, 101.325 kPa) per m3 stated at the given conditions (ideal gas)."""
    return (ZERO_CELSIUS_K / (ZERO_CELSIUS_K + temperature_c)) * (
        pressure_kpa / STANDARD_PRESSURE_KPA
    )


def steam_gj_per_t(enthalpy_kj_per_kg: float) -> float:
    return (enthalpy_kj_per_kg - STEAM_REF_ENTHALPY_KJ_PER_KG) * 1e-3


def hot_water_gj_per_t(temperature_c: float) -> float:
    return (temperature_c - 20.0) * WATER_CP_KJ_PER_KG_K * 1e-3


def _pick(table: dict[str, float], unit: str, what: str) -> float:
    try:
        return table[unit]
    except KeyError:
        raise UnitError(f"unit {unit!r} is not a {what}; use one of {', '.join(table)}") from None


def electricity(unit: str, rate: bool) -> Scale:
    if rate:
        return Scale("MWh", _pick(ELECTRICITY_RATE, unit, "power unit"))
    return Scale("MWh", _pick(ELECTRICITY, unit, "electric energy unit"))


def heat(
    unit: str,
    rate: bool,
    steam_enthalpy_kj_per_kg: float | None,
    hot_water_temperature_c: float | None,
) -> Scale:
    mass_unit = unit in ("t/h", "kg/h") if rate else unit in ("t", "kg")
    if mass_unit:
        per_t = _medium_heat(steam_enthalpy_kj_per_kg, hot_water_temperature_c)
        mass = _pick(MASS_RATE if rate else MASS, unit, "mass unit")
        return Scale("GJ", per_t * mass)
    table = HEAT_RATE if rate else HEAT
    return Scale("GJ", _pick(table, unit, "heat unit (or t of steam / hot water)"))


def _medium_heat(enthalpy: float | None, water_temp: float | None) -> float:
    if (enthalpy is None) == (water_temp is None):
        raise UnitError(
            "heat metered as mass needs exactly one of steam_enthalpy_kj_per_kg "
            "(steam) or hot_water_temperature_c (hot water)"
        )
    if enthalpy is not None:
        return steam_gj_per_t(enthalpy)
    assert water_temp is not None
    return hot_water_gj_per_t(water_temp)


def gas(unit: str, rate: bool, temperature_c: float | None, pressure_kpa: float | None) -> Scale:
    if unit in ("m3", "m3/h"):
        if (unit == "m3/h" and not rate) or (unit == "m3" and rate):
            raise UnitError(f"unit {unit!r} does not fit a {'rate' if rate else 'counter'}")
        if temperature_c is None or pressure_kpa is None:
            raise UnitError(
                "a gas volume in m3 needs reference_conditions (temperature_c, pressure_kpa); "
                "Chinese billing volumes are usually at 20 °C, factors at 0 °C"
            )
        return Scale("Nm3", gas_volume_factor(temperature_c, pressure_kpa))
    table = GAS_RATE if rate else GAS
    return Scale("Nm3", _pick(table, unit, "gas volume unit (or m3 with reference_conditions)"))


def liquid(unit: str, rate: bool, density_kg_per_l: float | None) -> Scale:
    volume = LIQUID_VOLUME_RATE_L if rate else LIQUID_VOLUME_L
    if unit in volume:
        if density_kg_per_l is None:
            raise UnitError(f"a liquid fuel in {unit} needs density_kg_per_l")
        return Scale("t", volume[unit] * density_kg_per_l * 1e-3)
    return Scale("t", _pick(MASS_RATE if rate else MASS, unit, "mass or liquid volume unit"))


def solid(unit: str, rate: bool) -> Scale:
    return Scale("t", _pick(MASS_RATE if rate else MASS, unit, "mass unit"))


def counted(unit: str, rate: bool) -> Scale:
    base = unit.removesuffix("/h") if rate else unit
    if rate and not unit.endswith("/h"):
        raise UnitError(f"a production rate is per hour, e.g. t/h; got {unit!r}")
    if base in MASS:
        return Scale("t", MASS[base])
    if base in COUNTED:
        return Scale(base, 1.0)
    raise UnitError(f"unit {unit!r} is not a production unit; use t, kg or one of {COUNTED}")
