"""Comprehensive energy consumption in tce (GB/T 2589-2020), vectorized over meter lines.

Every meter's quantity is already in a canonical unit (MWh, GJ, Nm3, t); a
standard-coal coefficient per meter turns it into tce. Electricity is counted
both ways: the equivalent value (当量值, the heat of a kWh, 0.1229 kgce/kWh) and
the equal value (等价值, the coal the power system burned to supply it: the
power-supply coal rate of the activity year, data in the library).

What counts in the total (综合能耗), per group of meters:

    total = grid import + fuels + heat import - heat export

On-site renewable generation is *not* in the total: national statistics and the
dual-control rules (发改运行〔2022〕1258号, 发改环资〔2024〕113号) keep
non-fossil power apart, so it is shown beside it. Power exported to the grid is
shown, not deducted: in our plants it is surplus on-site PV, which was never
counted in. Heat exported was made from counted fuel, so it is deducted.

Coefficients are data (``data/factors/gbt2589.csv``, plus rows in kgce units
from the plant's own factor files), each with its source and verified mark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import assert_never

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Fuel, MeterKind, Plant
from carbonstream.core.library import TCE_UNITS, Factor, FactorLibrary, Resolved, parse_csv
from carbonstream.errors import FactorError

ENERGY_FILE = "gbt2589.csv"
EQUAL_VALUE_SERIES = "cn.power_supply_coal_rate"
ELECTRICITY_EQUIVALENT = "gbt2589.electricity.equivalent"
HEAT = "gbt2589.heat"
_FUEL_COEFFICIENT: dict[str, str] = {
    Fuel.DIESEL: "gbt2589.diesel",
    Fuel.GASOLINE: "gbt2589.gasoline",
    Fuel.FUEL_OIL: "gbt2589.fuel_oil",
    Fuel.LPG: "gbt2589.lpg",
    Fuel.RAW_COAL: "gbt2589.raw_coal",
    Fuel.COKE: "gbt2589.coke",
}
ELECTRIC = frozenset({MeterKind.GRID_IMPORT, MeterKind.GRID_EXPORT, MeterKind.ONSITE_GENERATION})
NOT_ENERGY = frozenset({MeterKind.PRODUCTION, MeterKind.TEMPERATURE})  # no tce coefficient

# Per (group, bucket) figures, all in tce unless the name says otherwise.
TCE_COLUMNS = (
    "total_tce",  # comprehensive energy consumption, electricity at equivalent value
    "total_equal_tce",  # the same, electricity at equal value
    "electricity_tce",
    "electricity_equal_tce",
    "fuel_tce",
    "heat_tce",
    "heat_export_tce",  # deducted from the total
    "onsite_renewable_tce",  # not in the total
    "onsite_renewable_equal_tce",
    "grid_export_tce",  # shown, not deducted
    "electricity_mwh",  # grid import
    "onsite_generation_mwh",
    "grid_export_mwh",
    "production",  # output of production meters, in the group's production unit
)


@dataclass(frozen=True)
class Coefficient:
    """The coefficient a meter uses, as the lineage shows it."""

    meter: str
    factor_id: str
    version: int
    value: float
    unit: str
    tce_per_unit: float  # per canonical quantity unit
    quantity_unit: str
    verified: str
    source: str


@dataclass(frozen=True)
class EqualValue:
    """Electricity's equal value for one year: tce per MWh, and where it came from."""

    year: int
    tce_per_mwh: float
    factor: Factor
    fallback: str | None


@dataclass
class EnergyParams:
    """Per meter (dense index, as ``MeterParams``): what it adds to which column."""

    plant: Plant
    library: FactorLibrary
    ids: list[str]
    kind: list[MeterKind]
    tce_per_unit: NDArray[np.float64]  # equivalent value; 0 for production meters
    electric: NDArray[np.bool_]
    coefficients: list[Coefficient | None]
    _equal: dict[int, EqualValue] = field(default_factory=dict)

    def equal_value(self, year: int) -> EqualValue:
        """The equal value of electricity used in activity year ``year`` (cached)."""
        hit = self._equal.get(year)
        if hit is None:
            hit = self._equal[year] = self.resolve_equal_value(year)
        return hit

    def resolve_equal_value(self, year: int) -> EqualValue:
        cfg = self.plant.energy
        basis = year - 1 if cfg.equal_value_year == "previous" else year
        r: Resolved = self.library.lookup(
            EQUAL_VALUE_SERIES, cfg.equal_value_region, dt.date(basis, 7, 1)
        )
        return EqualValue(year, r.factor.value * _tce_scale(r.factor, "MWh"), r.factor, r.fallback)

    def used_equal_values(self) -> list[EqualValue]:
        return [self._equal[y] for y in sorted(self._equal)]


def load_library(plant_factor_files: Iterable[str | Path] = ()) -> FactorLibrary:
    """The built-in GB/T 2589 table plus rows in kgce units from the plant's factor files."""
    root = resources.files("carbonstream") / "data" / "factors"
    factors = parse_csv((root / ENERGY_FILE).read_text(encoding="utf-8"), f"builtin:{ENERGY_FILE}")
    for path in plant_factor_files:
        p = Path(path)
        rows = parse_csv(p.read_text(encoding="utf-8"), str(p))
        factors.extend(f for f in rows if f.unit in TCE_UNITS)
    return FactorLibrary(factors)


def _tce_scale(f: Factor, canonical: str) -> float:
    hit = TCE_UNITS.get(f.unit)
    if hit is None or hit[0] != canonical:
        raise FactorError(
            f"coefficient {f.ref} is in {f.unit!r}; this meter's quantity is in {canonical}, "
            f"so it needs one of "
            + ", ".join(u for u, (c, _) in TCE_UNITS.items() if c == canonical)
        )
    return hit[1]


def default_coefficient(plant: Plant, kind: MeterKind, fuel: str | None) -> str | None:
    match kind:
        case MeterKind.GRID_IMPORT | MeterKind.GRID_EXPORT | MeterKind.ONSITE_GENERATION:
            return ELECTRICITY_EQUIVALENT
        case MeterKind.HEAT_IMPORT | MeterKind.HEAT_EXPORT:
            return HEAT
        case MeterKind.FUEL:
            if fuel == Fuel.NATURAL_GAS:
                return f"gbt2589.natural_gas.{plant.energy.natural_gas}"
            return _FUEL_COEFFICIENT.get(fuel) if fuel is not None else None
        case MeterKind.PRODUCTION | MeterKind.TEMPERATURE:
            return None  # a product count or a temperature is not energy
        case _:
            assert_never(kind)


def build(plant: Plant, canonical_units: list[str], library: FactorLibrary) -> EnergyParams:
    """Per-meter coefficients, or FactorError naming the meter and the fix."""
    coefs: list[Coefficient | None] = []
    for m, unit in zip(plant.meters, canonical_units, strict=True):
        fid = plant.energy.coefficients.get(m.id) or default_coefficient(plant, m.kind, m.fuel)
        if fid is None:
            if m.kind in NOT_ENERGY:
                coefs.append(None)
                continue
            raise FactorError(
                f"meter {m.id!r} ({m.fuel or m.kind.value}): GB/T 2589 gives "
                "no coefficient we ship; name one in energy.coefficients "
                f"({{{m.id}: <factor id in kgce/{'kg' if unit == 't' else unit}>}})"
            )
        f = library.get(fid)
        scale = _tce_scale(f, unit)
        coefs.append(
            Coefficient(
                m.id, f.id, f.version, f.value, f.unit, f.value * scale, unit, f.verified, f.source
            )
        )
    params = EnergyParams(
        plant=plant,
        library=library,
        ids=[m.id for m in plant.meters],
        kind=[m.kind for m in plant.meters],
        tce_per_unit=np.array([c.tce_per_unit if c else 0.0 for c in coefs], dtype=np.float64),
        electric=np.array([m.kind in ELECTRIC for m in plant.meters], dtype=bool),
        coefficients=coefs,
    )
    if params.electric.any():
        params.resolve_equal_value(dt.date.today().year)  # no coal rate for the region: fail
    return params


def for_plant(plant: Plant, canonical_units: list[str]) -> EnergyParams:
    """The plant's energy parameters with the built-in table and its own factor files."""
    return build(plant, canonical_units, load_library(plant.factor_files))


def tce(
    ep: EnergyParams,
    meter: NDArray[np.intp],
    quantity: NDArray[np.float64],
    year: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """tce of each (meter, bucket) line: equivalent value and equal value."""
    coef = ep.tce_per_unit[meter]
    equivalent = quantity * coef
    if not ep.electric.any() or len(year) == 0:
        return equivalent, equivalent.copy()
    # A table over the span of years (one or two): a lookup, no sort of the lines.
    lo, hi = int(year.min()), int(year.max())
    table = np.array([ep.equal_value(v).tce_per_mwh for v in range(lo, hi + 1)])
    equal = quantity * np.where(ep.electric[meter], table[year - lo], coef)
    return equivalent, equal


def columns(
    ep: EnergyParams,
    meter: NDArray[np.intp],
    quantity: NDArray[np.float64],
    year: NDArray[np.int64],
) -> dict[str, NDArray[np.float64]]:
    """Each line's contribution to each of ``TCE_COLUMNS`` (sum them per group)."""
    equivalent, equal = tce(ep, meter, quantity, year)
    kinds = np.array([list(MeterKind).index(k) for k in ep.kind], dtype=np.int8)[meter]

    def of(*ks: MeterKind) -> NDArray[np.bool_]:
        return np.isin(kinds, [list(MeterKind).index(k) for k in ks])

    grid, fuel, heat = of(MeterKind.GRID_IMPORT), of(MeterKind.FUEL), of(MeterKind.HEAT_IMPORT)
    heat_out, gen = of(MeterKind.HEAT_EXPORT), of(MeterKind.ONSITE_GENERATION)
    export, prod = of(MeterKind.GRID_EXPORT), of(MeterKind.PRODUCTION)
    zero = np.zeros_like(quantity)
    out = {
        "electricity_tce": np.where(grid, equivalent, zero),
        "electricity_equal_tce": np.where(grid, equal, zero),
        "fuel_tce": np.where(fuel, equivalent, zero),
        "heat_tce": np.where(heat, equivalent, zero),
        "heat_export_tce": np.where(heat_out, equivalent, zero),
        "onsite_renewable_tce": np.where(gen, equivalent, zero),
        "onsite_renewable_equal_tce": np.where(gen, equal, zero),
        "grid_export_tce": np.where(export, equivalent, zero),
        "electricity_mwh": np.where(grid, quantity, zero),
        "onsite_generation_mwh": np.where(gen, quantity, zero),
        "grid_export_mwh": np.where(export, quantity, zero),
        "production": np.where(prod, quantity, zero),
    }
    base = out["fuel_tce"] + out["heat_tce"] - out["heat_export_tce"]
    out["total_tce"] = base + out["electricity_tce"]
    out["total_equal_tce"] = base + out["electricity_equal_tce"]
    return {k: out[k] for k in TCE_COLUMNS}


def group_sums(
    cols: dict[str, NDArray[np.float64]], group: NDArray[np.intp], n_groups: int
) -> dict[str, NDArray[np.float64]]:
    """Columns summed per group index (bincount: one pass per column, no Python loop)."""
    return {k: bincount(group, v, n_groups) for k, v in cols.items()}


def bincount(group: NDArray[np.intp], weights: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Weights summed per group index 0..n-1 (typed: numpy's stub says int)."""
    return np.asarray(np.bincount(group, weights=weights, minlength=n), dtype=np.float64)


def intensity(total_tce: float, production: float) -> float | None:
    """tce per unit of product; None when nothing was produced (never a division by zero)."""
    return total_tce / production if production > 0 else None
