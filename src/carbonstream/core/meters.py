"""Per-meter parameters as arrays, indexed by dense meter index, for the vectorized core."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from carbonstream import units
from carbonstream.config.fuels import BUILTIN_FUELS
from carbonstream.config.plant import Measures, Meter, MeterKind, Plant
from carbonstream.core.batch import NS_PER_S, to_ns
from carbonstream.core.library import FactorLibrary
from carbonstream.errors import ConfigError

STEAM_REF_ENTHALPY = "cn.heat.steam_ref_enthalpy"
WATER_CP = "cn.heat.water_cp"


class Role(IntEnum):
    """What a meter's quantity means for the account (one code per MeterKind)."""

    FUEL = 0
    GRID_IMPORT = 1
    HEAT_IMPORT = 2
    GRID_EXPORT = 3
    HEAT_EXPORT = 4
    GENERATION = 5
    PRODUCTION = 6
    TEMPERATURE = 7


ROLE_OF_KIND = {
    MeterKind.FUEL: Role.FUEL,
    MeterKind.GRID_IMPORT: Role.GRID_IMPORT,
    MeterKind.HEAT_IMPORT: Role.HEAT_IMPORT,
    MeterKind.GRID_EXPORT: Role.GRID_EXPORT,
    MeterKind.HEAT_EXPORT: Role.HEAT_EXPORT,
    MeterKind.ONSITE_GENERATION: Role.GENERATION,
    MeterKind.PRODUCTION: Role.PRODUCTION,
    MeterKind.TEMPERATURE: Role.TEMPERATURE,
}


@dataclass(frozen=True)
class Replacements:
    """Recorded meter replacements, sorted by (meter, time)."""

    meter: NDArray[np.int32]
    ts: NDArray[np.int64]
    old_final: NDArray[np.float64]
    new_initial: NDArray[np.float64]


@dataclass(frozen=True)
class MeterParams:
    ids: list[str]
    site_ids: list[str]
    site: NDArray[np.int32]
    role: NDArray[np.int8]
    is_counter: NDArray[np.bool_]
    modulus: NDArray[np.float64]  # 0 where the register has no configured range
    cap_per_h: NDArray[np.float64]  # raw units per hour, rating with tolerance
    resolution: NDArray[np.float64]  # raw units
    # Lowest plausible raw value: -resolution (a register or a rate is never negative),
    # -rating for a temperature (°C below zero is weather, not a fault).
    floor: NDArray[np.float64]
    scale: NDArray[np.float64]  # canonical quantity per raw unit (per raw unit-hour for rates)
    canonical_unit: list[str]
    max_gap_ns: NDArray[np.int64]
    replacements: Replacements
    # Per meter: the conversion from its register to the canonical unit, in words
    # and numbers (the lineage states it), and the meter's own quantity unit.
    conversions: list[units.Scale]
    _multiplier: NDArray[np.float64]
    heat_constant_ids: tuple[str, str] = (STEAM_REF_ENTHALPY, WATER_CP)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def all_counters(self) -> bool:
        return bool(self.is_counter.all())

    @cached_property
    def site_role(self) -> NDArray[np.int64]:
        return self.site.astype(np.int64) * len(Role) + self.role

    @cached_property
    def any_resolution(self) -> bool:
        return bool(self.resolution.any())

    @cached_property
    def min_gap_ns(self) -> int:
        return int(self.max_gap_ns.min()) if len(self.max_gap_ns) else 0

    @property
    def index(self) -> dict[str, int]:
        return {m: i for i, m in enumerate(self.ids)}

    @cached_property
    def own_per_canonical(self) -> NDArray[np.float64]:
        """Meter's own unit (L, m3 at its conditions, kWh ...) per canonical unit."""
        return np.array(
            [
                s.per_unit and (m / s.per_unit)
                for s, m in zip(self.conversions, self.multiplier, strict=True)
            ],
            dtype=np.float64,
        )

    @cached_property
    def multiplier(self) -> list[float]:
        return [float(x) for x in self._multiplier]


def heat_constants(library: FactorLibrary) -> units.HeatConstants:
    ref, cp = library.get(STEAM_REF_ENTHALPY), library.get(WATER_CP)
    return units.HeatConstants(ref.value_in("kJ/kg"), cp.value_in("kJ/(kg*K)"), ref.ref, cp.ref)


def meter_scale(
    plant: Plant, library: FactorLibrary, m: Meter, heat: units.HeatConstants
) -> units.Scale:
    """The meter's scale with library defaults: a built-in fuel's default density
    (only when the meter reads a volume and gives none) and the heat constants."""
    state = plant.fuel_state(m)
    default_density, density_ref = None, ""
    builtin = BUILTIN_FUELS.get(m.fuel) if m.fuel else None
    if builtin is not None and builtin.default_density and m.density_kg_per_l is None:
        f = library.get(builtin.default_density)
        default_density, density_ref = f.value_in("kg/L"), f.ref
    try:
        return m.scale(state, default_density, density_ref, heat)
    except units.UnitError as e:
        raise ConfigError(f"meter {m.id!r}", [str(e)]) from None


def build_params(plant: Plant, library: FactorLibrary) -> MeterParams:
    meters = plant.meters
    site_index = {s.id: i for i, s in enumerate(plant.sites)}
    tol = 1.0 + plant.rating_tolerance
    heat = heat_constants(library)
    conversions = [meter_scale(plant, library, m, heat) for m in meters]
    scales = [s.per_unit for s in conversions]
    canon = [s.canonical for s in conversions]
    index = {m.id: i for i, m in enumerate(meters)}
    reps = sorted(
        (index[r.meter], to_ns(r.at), r.old_final, r.new_initial) for r in plant.replacements
    )
    return MeterParams(
        ids=[m.id for m in meters],
        site_ids=[s.id for s in plant.sites],
        site=np.array([site_index[m.site] for m in meters], dtype=np.int32),
        role=np.array([ROLE_OF_KIND[m.kind] for m in meters], dtype=np.int8),
        is_counter=np.array([m.measures is Measures.COUNTER for m in meters], dtype=bool),
        modulus=np.array([m.counter_range or 0.0 for m in meters], dtype=np.float64),
        cap_per_h=np.array([m.rating / m.multiplier * tol for m in meters], dtype=np.float64),
        resolution=np.array([m.resolution for m in meters], dtype=np.float64),
        floor=np.array([_floor(m, tol) for m in meters], dtype=np.float64),
        scale=np.array(scales, dtype=np.float64),
        canonical_unit=canon,
        max_gap_ns=np.array(
            [int((m.max_gap_s or plant.max_gap_s) * NS_PER_S) for m in meters], dtype=np.int64
        ),
        replacements=Replacements(
            meter=np.array([r[0] for r in reps], dtype=np.int32),
            ts=np.array([r[1] for r in reps], dtype=np.int64),
            old_final=np.array([r[2] for r in reps], dtype=np.float64),
            new_initial=np.array([r[3] for r in reps], dtype=np.float64),
        ),
        conversions=conversions,
        _multiplier=np.array([m.multiplier for m in meters], dtype=np.float64),
    )


def _floor(m: Meter, tol: float) -> float:
    if m.kind is MeterKind.TEMPERATURE:
        return -m.rating / m.multiplier * tol
    return -m.resolution
