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
steam enthalpy) take it from the meter's configuration; the constants of the
heat formulas (reference enthalpy of water at 20 °C, specific heat of water)
are factors in the library (``cn.heat.steam_ref_enthalpy``,
``cn.heat.water_cp``) with their source, passed in as ``HeatConstants``.
Every scale states the conversions it applies (``steps``), for the lineage.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbonstream.errors import CarbonstreamError

# Physical definitions of the normal cubic metre (0 °C, 101.325 kPa): not factors.
ZERO_CELSIUS_K = 273.15
STANDARD_PRESSURE_KPA = 101.325
HOT_WATER_REF_C = 20.0  # the formula's return temperature (water at 20 °C)

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
# A temperature is instantaneous: integrated like a rate, its bucket sum in degree-hours
# divided by the hours covered is the bucket's time-weighted mean (degree days, baselines).
TEMPERATURE = ("degC", "°C")
DEGREE_HOURS = "degC*h"


class UnitError(CarbonstreamError, ValueError):
    """The unit does not fit the meter (kind, counter or rate, medium)."""


@dataclass(frozen=True, slots=True)
class Scale:
    canonical: str  # canonical unit of the *quantity* (MWh, GJ, Nm3, t, pcs)
    per_unit: float  # canonical quantity per meter unit (per unit-hour for rates)
    own_unit: str = ""  # the meter's quantity unit (a rate integrated: kW -> kWh)
    steps: tuple[str, ...] = ()  # the conversions applied, in words and numbers


@dataclass(frozen=True, slots=True)
class HeatConstants:
    """The constants of the steam and hot-water heat formulas, from the factor library."""

    steam_ref_enthalpy_kj_per_kg: float
    water_cp_kj_per_kg_k: float
    steam_ref: str = ""  # factor reference (id@version) for the lineage
    water_cp_ref: str = ""


# Rate units integrate to these quantity units.
_INTEGRATED = {"W": "Wh", "kW": "kWh", "MW": "MWh", "degC": DEGREE_HOURS, "°C": DEGREE_HOURS}


def own_quantity_unit(unit: str, rate: bool) -> str:
    """The quantity unit of a meter stated in ``unit`` (a rate integrated over hours)."""
    if not rate:
        return unit
    return _INTEGRATED.get(unit, unit.removesuffix("/h"))


def _scale(canonical: str, per_unit: float, unit: str, rate: bool, *steps: str) -> Scale:
    own = own_quantity_unit(unit, rate)
    if rate:
        steps = (f"{unit} integrated over time (trapezoid) -> {own}", *steps)
    if per_unit == 1.0 and own == canonical:
        steps = (*steps, f"none: {own} is the canonical unit")
    elif not any("->" in x and canonical in x for x in steps):
        steps = (*steps, f"{own} -> {canonical}: x {per_unit:.10g}")
    return Scale(canonical, per_unit, own, tuple(steps))


def gas_volume_factor(temperature_c: float, pressure_kpa: float) -> float:
    """Nm3 (0 °C, 101.325 kPa) per m3 stated at the given conditions (ideal gas)."""
    return (ZERO_CELSIUS_K / (ZERO_CELSIUS_K + temperature_c)) * (
        pressure_kpa / STANDARD_PRESSURE_KPA
    )


def steam_gj_per_t(enthalpy_kj_per_kg: float, c: HeatConstants) -> float:
    return (enthalpy_kj_per_kg - c.steam_ref_enthalpy_kj_per_kg) * 1e-3


def hot_water_gj_per_t(temperature_c: float, c: HeatConstants) -> float:
    return (temperature_c - HOT_WATER_REF_C) * c.water_cp_kj_per_kg_k * 1e-3


def _pick(table: dict[str, float], unit: str, what: str) -> float:
    try:
        return table[unit]
    except KeyError:
        raise UnitError(f"unit {unit!r} is not a {what}; use one of {', '.join(table)}") from None


def electricity(unit: str, rate: bool) -> Scale:
    if rate:
        return _scale("MWh", _pick(ELECTRICITY_RATE, unit, "power unit"), unit, rate)
    return _scale("MWh", _pick(ELECTRICITY, unit, "electric energy unit"), unit, rate)


def is_mass_unit(unit: str, rate: bool) -> bool:
    return unit in (MASS_RATE if rate else MASS)


def heat(
    unit: str,
    rate: bool,
    steam_enthalpy_kj_per_kg: float | None,
    hot_water_temperature_c: float | None,
    constants: HeatConstants | None,
) -> Scale:
    """Heat in GJ; steam or hot water by mass through the library's formula constants
    (``constants`` None: the unit is only checked, the scale is NaN)."""
    if is_mass_unit(unit, rate):
        mass = _pick(MASS_RATE if rate else MASS, unit, "mass unit")
        per_t, step = _medium_heat(steam_enthalpy_kj_per_kg, hot_water_temperature_c, constants)
        own = own_quantity_unit(unit, rate)
        steps = [] if mass == 1.0 else [f"{own} -> t: x {mass:g}"]
        return _scale("GJ", per_t * mass, unit, rate, *steps, step)
    if steam_enthalpy_kj_per_kg is not None or hot_water_temperature_c is not None:
        raise UnitError(
            f"the meter reads heat ({unit}): steam_enthalpy_kj_per_kg / "
            "hot_water_temperature_c would be ignored; drop them, or meter the mass (t)"
        )
    table = HEAT_RATE if rate else HEAT
    return _scale("GJ", _pick(table, unit, "heat unit (or t of steam / hot water)"), unit, rate)


def _medium_heat(
    enthalpy: float | None, water_temp: float | None, c: HeatConstants | None
) -> tuple[float, str]:
    if (enthalpy is None) == (water_temp is None):
        raise UnitError(
            "heat metered as mass needs exactly one of steam_enthalpy_kj_per_kg "
            "(steam) or hot_water_temperature_c (hot water)"
        )
    if c is None:
        return float("nan"), "unit check only"
    if enthalpy is not None:
        if enthalpy <= c.steam_ref_enthalpy_kj_per_kg:
            raise UnitError(
                f"steam_enthalpy_kj_per_kg {enthalpy} is not above the reference enthalpy "
                f"{c.steam_ref_enthalpy_kj_per_kg} kJ/kg ({c.steam_ref}): no heat delivered"
            )
        v = steam_gj_per_t(enthalpy, c)
        return v, (
            f"t steam -> GJ: (h {enthalpy:g} - {c.steam_ref_enthalpy_kj_per_kg:g} kJ/kg "
            f"[{c.steam_ref}]) x 10^-3 = {v:.10g} GJ/t"
        )
    assert water_temp is not None
    v = hot_water_gj_per_t(water_temp, c)
    return v, (
        f"t hot water -> GJ: ({water_temp:g} - {HOT_WATER_REF_C:g} °C) x "
        f"{c.water_cp_kj_per_kg_k:g} kJ/(kg K) [{c.water_cp_ref}] x 10^-3 = {v:.10g} GJ/t"
    )


def gas(unit: str, rate: bool, temperature_c: float | None, pressure_kpa: float | None) -> Scale:
    if unit in ("m3", "m3/h"):
        if (unit == "m3/h" and not rate) or (unit == "m3" and rate):
            raise UnitError(f"unit {unit!r} does not fit a {'rate' if rate else 'counter'}")
        if temperature_c is None or pressure_kpa is None:
            raise UnitError(
                "a gas volume in m3 needs reference_conditions (temperature_c, pressure_kpa); "
                "Chinese billing volumes are usually at 20 °C, factors at 0 °C"
            )
        k = gas_volume_factor(temperature_c, pressure_kpa)
        return _scale(
            "Nm3",
            k,
            unit,
            rate,
            f"m3 at {temperature_c:g} °C, {pressure_kpa:g} kPa -> Nm3 (0 °C, 101.325 kPa): "
            f"x 273.15/(273.15 + {temperature_c:g}) x {pressure_kpa:g}/101.325 = {k:.10g}",
        )
    if temperature_c is not None or pressure_kpa is not None:
        # The 7.3 % trap: a 20 °C billing volume labelled Nm3 would be taken as 0 °C.
        raise UnitError(
            f"unit {unit!r} already means 0 °C and 101.325 kPa, so reference_conditions would "
            "be ignored: if the meter reads volume at those conditions, use unit m3 (or m3/h) "
            "with them; if it really reads normal cubic metres, drop reference_conditions"
        )
    table = GAS_RATE if rate else GAS
    return _scale(
        "Nm3", _pick(table, unit, "gas volume unit (or m3 with reference_conditions)"), unit, rate
    )


def is_liquid_volume(unit: str, rate: bool) -> bool:
    return unit in (LIQUID_VOLUME_RATE_L if rate else LIQUID_VOLUME_L)


def liquid(unit: str, rate: bool, density_kg_per_l: float | None, density_ref: str = "") -> Scale:
    volume = LIQUID_VOLUME_RATE_L if rate else LIQUID_VOLUME_L
    if unit in volume:
        if density_kg_per_l is None:
            raise UnitError(f"a liquid fuel in {unit} needs density_kg_per_l")
        k = volume[unit] * density_kg_per_l * 1e-3
        own = own_quantity_unit(unit, rate)
        where = f" [{density_ref}]" if density_ref else ""
        return _scale(
            "t",
            k,
            unit,
            rate,
            f"{own} -> t: liquid volume x density {density_kg_per_l:g} kg/L{where} "
            f"= {k:.10g} t/{own}",
        )
    return _scale(
        "t", _pick(MASS_RATE if rate else MASS, unit, "mass or liquid volume unit"), unit, rate
    )


def solid(unit: str, rate: bool) -> Scale:
    return _scale("t", _pick(MASS_RATE if rate else MASS, unit, "mass unit"), unit, rate)


def counted(unit: str, rate: bool) -> Scale:
    base = unit.removesuffix("/h") if rate else unit
    if rate and not unit.endswith("/h"):
        raise UnitError(f"a production rate is per hour, e.g. t/h; got {unit!r}")
    if base in MASS:
        return _scale("t", MASS[base], unit, rate)
    if base in COUNTED:
        return _scale(base, 1.0, unit, rate)
    raise UnitError(f"unit {unit!r} is not a production unit; use t, kg or one of {COUNTED}")


def temperature(unit: str, rate: bool) -> Scale:
    if not rate:
        raise UnitError(
            "a temperature meter reads an instantaneous value: give it measures: rate "
            "(it is averaged per bucket, never summed)"
        )
    if unit not in TEMPERATURE:
        raise UnitError(f"unit {unit!r} is not a temperature unit; use one of {TEMPERATURE}")
    return _scale(DEGREE_HOURS, 1.0, unit, rate)


def with_multiplier(s: Scale, multiplier: float) -> Scale:
    if multiplier == 1.0:
        return s
    return Scale(
        s.canonical,
        s.per_unit * multiplier,
        s.own_unit,
        (f"raw register x multiplier {multiplier:g} -> {s.own_unit}", *s.steps),
    )
