"""Which factors apply to each meter in a month, as arrays, with their lineage.

Scope 1 (fuel), China GB/T 32150:
    EF_CO2 = NCV x CC x OF x 44/12            [tCO2 per canonical unit of fuel]
Scope 1 (fuel), IPCC 2006 Tier 1:
    EF_gas = NCV x EF_gas(per energy)         [t gas per canonical unit]
    CO2e = CO2 + CH4 x GWP_CH4 + N2O x GWP_N2O
Scope 2 location-based: MWh x grid average factor (series cn.grid.avg) for
the site's region at the plant's chosen level; heat: GJ x heat factor.
Market-based residual: MWh x the national factor excluding market-traded
non-fossil power (series cn.grid.residual_proxy), China's closest official
proxy of a residual mix. Exports (China total only): the same grid / heat
factor as imports.

Factors are resolved per calendar month of activity in the plant's time zone:
the factor valid on the month's first day applies to the whole month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import GASEOUS_FUELS, Fuel, MeterKind, Method, Plant
from carbonstream.core.flags import Flag
from carbonstream.core.library import Factor, FactorLibrary, Resolved
from carbonstream.core.meters import MeterParams, Role
from carbonstream.errors import FactorError

C_TO_CO2 = float(Fraction(44, 12))  # exact ratio, never the rounded 3.67

GRID_SERIES = "cn.grid.avg"
RESIDUAL_SERIES = "cn.grid.residual_proxy"
HEAT_DEFAULT = "cn.heat.default"

_IPCC_NAME = {
    Fuel.NATURAL_GAS: "natural_gas",
    Fuel.DIESEL: "diesel",
    Fuel.GASOLINE: "gasoline",
    Fuel.FUEL_OIL: "residual_fuel_oil",
    Fuel.LPG: "lpg",
    Fuel.OTHER_BITUMINOUS_COAL: "other_bituminous_coal",
    Fuel.SUB_BITUMINOUS_COAL: "sub_bituminous_coal",
    Fuel.ANTHRACITE: "anthracite",
    Fuel.COKE: "coke_oven_coke",
}
_IPCC_NON_CO2 = {  # CH4/N2O rows: coals share one row in Table 2.3
    Fuel.OTHER_BITUMINOUS_COAL: "coal",
    Fuel.SUB_BITUMINOUS_COAL: "coal",
    Fuel.ANTHRACITE: "coal",
    Fuel.COKE: "coal",
}


@dataclass(frozen=True)
class FactorUse:
    role: str
    factor_id: str
    version: int
    value: float
    unit: str
    source: str
    table: str
    data_year: int | None
    verified: str
    fallback: str | None


@dataclass(frozen=True)
class Lineage:
    """How one meter's quantity in one month becomes emissions."""

    id: int
    meter: str
    month: str  # YYYY-MM, plant time zone
    method: str
    gwp: str
    quantity_unit: str
    factors: tuple[FactorUse, ...]
    ef_co2: float
    ef_ch4: float
    ef_n2o: float
    ef_co2e: float  # tCO2e per canonical unit
    flags: int
    notes: tuple[str, ...] = ()


@dataclass
class MonthFactors:
    """Per-meter arrays for one month."""

    ef_co2: NDArray[np.float64]
    ef_ch4: NDArray[np.float64]
    ef_n2o: NDArray[np.float64]
    ef_co2e: NDArray[np.float64]
    lineage: NDArray[np.int32]
    flags: NDArray[np.uint16]
    residual_ef: NDArray[np.float64]  # per site: market-based factor for uncovered MWh
    residual_lineage: list[Lineage]
    residual_ids: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    non_co2: bool = False  # any meter with CH4 or N2O this month
    any_flags: bool = False


@dataclass
class Resolver:
    plant: Plant
    library: FactorLibrary
    params: MeterParams
    lineages: list[Lineage] = field(default_factory=list)
    _months: dict[tuple[int, int], MonthFactors] = field(default_factory=dict)

    def month(self, year: int, month: int) -> MonthFactors:
        key = (year, month)
        if key not in self._months:
            self._months[key] = self._build(dt.date(year, month, 1))
        return self._months[key]

    def check(self, year: int) -> None:
        """Resolve every month of a year now, so a missing factor fails at start."""
        for mo in range(1, 13):
            self.month(year, mo)

    def _build(self, day: dt.date) -> MonthFactors:
        n = len(self.params)
        out = MonthFactors(
            ef_co2=np.zeros(n),
            ef_ch4=np.zeros(n),
            ef_n2o=np.zeros(n),
            ef_co2e=np.zeros(n),
            lineage=np.zeros(n, dtype=np.int32),
            flags=np.zeros(n, dtype=np.uint16),
            residual_ef=np.zeros(len(self.plant.sites)),
            residual_lineage=[],
        )
        for i, meter in enumerate(self.plant.meters):
            lin = self._meter(i, day)
            out.ef_co2[i], out.ef_ch4[i], out.ef_n2o[i] = lin.ef_co2, lin.ef_ch4, lin.ef_n2o
            out.ef_co2e[i], out.lineage[i], out.flags[i] = lin.ef_co2e, lin.id, lin.flags
            del meter
        for s, site in enumerate(self.plant.sites):
            lin = self._residual(site.id, day)
            out.residual_ef[s] = lin.ef_co2e
            out.residual_lineage.append(lin)
        out.residual_ids = np.array([x.id for x in out.residual_lineage], dtype=np.int32)
        out.non_co2 = bool(out.ef_ch4.any() or out.ef_n2o.any())
        out.any_flags = bool(out.flags.any())
        return out

    # --- per kind -------------------------------------------------------------

    def _meter(self, i: int, day: dt.date) -> Lineage:
        meter = self.plant.meters[i]
        role = Role(int(self.params.role[i]))
        if role is Role.FUEL:
            return self._fuel(i, day)
        if role in (Role.GRID_IMPORT, Role.GRID_EXPORT):
            use = self._grid(meter.factors.get("grid"), self.plant.site_region(meter.site), day)
            return self._record(i, day, "grid electricity", [use], co2=use.value)
        if role in (Role.HEAT_IMPORT, Role.HEAT_EXPORT):
            use = self._by_id("heat", meter.factors.get("heat", HEAT_DEFAULT), "t/GJ")
            return self._record(i, day, "heat", [use], co2=use.value)
        return self._record(i, day, "activity only (no emissions)", [], co2=0.0)

    def _fuel(self, i: int, day: dt.date) -> Lineage:
        meter = self.plant.meters[i]
        assert meter.fuel is not None
        fuel = meter.fuel
        method = self.plant.meter_method(meter)
        ncv_unit = "GJ/Nm3" if fuel in GASEOUS_FUELS else "GJ/t"
        over = meter.factors
        notes: list[str] = []
        if i in self.params.density_kg_per_l:
            density, where = self.params.density_kg_per_l[i]
            notes.append(f"liquid volume converted with density {density} kg/L ({where})")
        if method is Method.CN_GBT32150:
            ncv = self._by_id("ncv", over.get("ncv", f"cn.fuel.{fuel.value}.ncv"), ncv_unit)
            cc = self._by_id(
                "carbon_content", over.get("carbon_content", f"cn.fuel.{fuel.value}.cc"), "tC/GJ"
            )
            of = self._by_id(
                "oxidation", over.get("oxidation", f"cn.fuel.{fuel.value}.of"), "fraction"
            )
            co2 = ncv.value * cc.value * of.value * C_TO_CO2
            return self._record(i, day, "cn_gbt32150", [ncv, cc, of], co2=co2, notes=notes)
        name = _IPCC_NAME[fuel]
        non_co2 = _IPCC_NON_CO2.get(fuel, name)
        if fuel in GASEOUS_FUELS and "ncv" not in over:
            # IPCC's NCV is per mass; a metered volume needs a volumetric NCV.
            ncv = self._by_id("ncv", f"cn.fuel.{fuel.value}.ncv", ncv_unit)
            notes.append("volumetric NCV from the China default table (IPCC NCV is per mass)")
        else:
            ncv = self._by_id("ncv", over.get("ncv", f"ipcc2006.{name}.ncv"), ncv_unit)
        e_co2 = self._by_id("co2", over.get("co2", f"ipcc2006.{name}.co2"), "t/GJ")
        e_ch4 = self._by_id("ch4", over.get("ch4", f"ipcc2006.{non_co2}.ch4.manufacturing"), "t/GJ")
        e_n2o = self._by_id("n2o", over.get("n2o", f"ipcc2006.{non_co2}.n2o.manufacturing"), "t/GJ")
        gwp = self.plant.gwp.value.lower()
        g_ch4 = self._by_id("gwp_ch4", f"gwp.{gwp}.ch4", "kgCO2e/kg")
        g_n2o = self._by_id("gwp_n2o", f"gwp.{gwp}.n2o", "kgCO2e/kg")
        return self._record(
            i,
            day,
            "ipcc2006",
            [ncv, e_co2, e_ch4, e_n2o, g_ch4, g_n2o],
            co2=ncv.value * e_co2.value,
            ch4=ncv.value * e_ch4.value,
            n2o=ncv.value * e_n2o.value,
            gwp=(g_ch4.value, g_n2o.value),
            notes=notes,
        )

    def _residual(self, site: str, day: dt.date) -> Lineage:
        """The market-based factor for power no instrument covers, per site."""
        grid_meters = [
            m for m in self.plant.meters if m.site == site and m.kind is MeterKind.GRID_IMPORT
        ]
        over = {m.factors["residual"] for m in grid_meters if "residual" in m.factors}
        if len(over) > 1:
            raise FactorError(f"site {site}: grid meters name different residual factors {over}")
        if over:
            use = self._by_id("residual", over.pop(), "t/MWh")
        elif not grid_meters:
            use = FactorUse(
                "residual",
                "none",
                0,
                0.0,
                "t/MWh",
                "site has no grid import",
                "",
                None,
                "yes",
                None,
            )
        else:
            region = self.plant.site_region(site)
            if region.split("-")[0] != "CN":
                raise FactorError(
                    f"site {site} is in {region}: carbonstream ships no residual mix there; "
                    "name one with factors.residual on the site's grid meter"
                )
            use = self._use("residual", self.library.lookup(RESIDUAL_SERIES, "CN", day), "t/MWh")
        lin = Lineage(
            id=len(self.lineages),
            meter=f"site:{site}",
            month=day.strftime("%Y-%m"),
            method="market-based residual",
            gwp=self.plant.gwp.value,
            quantity_unit="MWh",
            factors=(use,),
            ef_co2=use.value,
            ef_ch4=0.0,
            ef_n2o=0.0,
            ef_co2e=use.value,
            flags=_flags([use]),
            notes=(
                "China has no official residual mix: the national factor excluding "
                "market-traded non-fossil power is the proxy; it does not remove unbundled "
                "GEC sales, so it slightly understates a true residual mix",
            ),
        )
        self.lineages.append(lin)
        return lin

    # --- helpers --------------------------------------------------------------

    def _grid(self, factor_id: str | None, region: str, day: dt.date) -> FactorUse:
        if factor_id is not None:
            return self._by_id("grid", factor_id, "t/MWh")
        level = self.plant.grid_factor_level.value
        at = self.library.region_at_level(region, level)
        return self._use("grid", self.library.lookup(GRID_SERIES, at, day), "t/MWh")

    def _by_id(self, role: str, factor_id: str, unit: str) -> FactorUse:
        return self._use(role, Resolved(self.library.get(factor_id)), unit)

    def _use(self, role: str, r: Resolved, unit: str) -> FactorUse:
        f: Factor = r.factor
        return FactorUse(
            role=role,
            factor_id=f.id,
            version=f.version,
            value=f.value_in(unit),
            unit=unit,
            source=f.source,
            table=f.table,
            data_year=f.data_year,
            verified=f.verified,
            fallback=r.fallback,
        )

    def _record(
        self,
        i: int,
        day: dt.date,
        method: str,
        uses: list[FactorUse],
        co2: float,
        ch4: float = 0.0,
        n2o: float = 0.0,
        gwp: tuple[float, float] = (0.0, 0.0),
        notes: list[str] | None = None,
    ) -> Lineage:
        lin = Lineage(
            id=len(self.lineages),
            meter=self.params.ids[i],
            month=day.strftime("%Y-%m"),
            method=method,
            gwp=self.plant.gwp.value,
            quantity_unit=self.params.canonical_unit[i],
            factors=tuple(uses),
            ef_co2=co2,
            ef_ch4=ch4,
            ef_n2o=n2o,
            ef_co2e=co2 + ch4 * gwp[0] + n2o * gwp[1],
            flags=_flags(uses),
            notes=tuple((notes or []) + [u.fallback for u in uses if u.fallback]),
        )
        self.lineages.append(lin)
        return lin


def _flags(uses: list[FactorUse]) -> int:
    bits = 0
    if any(u.fallback for u in uses):
        bits |= Flag.FACTOR_FALLBACK
    if any(u.verified != "yes" for u in uses):
        bits |= Flag.UNVERIFIED_FACTOR
    return bits
