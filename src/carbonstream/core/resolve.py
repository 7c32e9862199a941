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
from typing import assert_never

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.fuels import BUILTIN_FUELS, FuelState, cn_default
from carbonstream.config.plant import Combustion, MeterKind, Method, Plant
from carbonstream.core.flags import Flag
from carbonstream.core.library import Factor, FactorLibrary, Resolved
from carbonstream.core.meters import MeterParams, Role
from carbonstream.errors import ConfigError, FactorError

C_TO_CO2 = float(Fraction(44, 12))  # exact ratio, never the rounded 3.67

GRID_SERIES = "cn.grid.avg"
RESIDUAL_SERIES = "cn.grid.residual_proxy"
HEAT_DEFAULT = "cn.heat.default"


@dataclass(frozen=True)
class FactorUse:
    """One factor as a lineage uses it: the value in the unit the formula needs, the
    value as the source document prints it, and why it serves the activity date."""

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
    source_value: float = 0.0  # as published, e.g. 389.31
    source_unit: str = ""  # e.g. GJ/10^4 Nm3
    basis: str = ""  # why this factor serves this activity date (pinned or looked up)


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

    def __post_init__(self) -> None:
        self._check_fuel_factors()

    def _check_fuel_factors(self) -> None:
        """Every fuel meter's factors exist in the library in a unit the formula can use:
        a declared fuel or a mobile category without a shipped default fails at start."""
        problems: list[str] = []
        for m in self.plant.meters:
            if m.fuel is None:
                continue
            gas = self.plant.fuel_state(m) is FuelState.GAS
            need = {
                "ncv": "GJ/Nm3" if gas else "GJ/t",
                "carbon_content": "tC/GJ",
                "oxidation": "fraction",
                "co2": "t/GJ",
                "ch4": "t/GJ",
                "n2o": "t/GJ",
            }
            for role, fid in self.plant.fuel_factor_ids(m).items():
                if fid is None:
                    continue  # IPCC gas NCV from the China table (checked by the plant)
                if fid not in self.library:
                    hint = (
                        f" (IPCC 2006 Vol. 2 Ch. 3 ships no {m.fuel} {m.vehicle} default)"
                        if m.vehicle and role in ("ch4", "n2o")
                        else ""
                    )
                    problems.append(
                        f"meters (id {m.id!r}): {role} factor {fid!r} is not in the factor "
                        f"library{hint}: add it to a factor file and name it on the meter "
                        f"(factors: {{{role}: id}}) or on a declared fuel"
                    )
                    continue
                try:
                    self.library.get(fid).value_in(need[role])
                except FactorError as e:
                    problems.append(f"meters (id {m.id!r}): {e}")
        if problems:
            raise ConfigError("plant fuels and factor library", problems)

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
        match role:
            case Role.FUEL:
                return self._fuel(i, day)
            case Role.GRID_IMPORT | Role.GRID_EXPORT:
                use = self._grid(
                    meter.factors.get("grid"), self.plant.site_region(meter.site), day, meter.id
                )
                return self._record(i, day, "grid electricity", [use], co2=use.value)
            case Role.HEAT_IMPORT | Role.HEAT_EXPORT:
                pinned = meter.factors.get("heat")
                use = self._by_id(
                    "heat",
                    pinned or HEAT_DEFAULT,
                    "t/GJ",
                    day,
                    f"pinned by meter {meter.id} factors.heat:" if pinned else "heat default",
                )
                uses = [use, *self._heat_constants(i, day)]
                return self._record(i, day, "heat", uses, co2=use.value)
            case Role.GENERATION | Role.PRODUCTION | Role.TEMPERATURE:
                return self._record(i, day, "activity only (no emissions)", [], co2=0.0)
            case _:
                assert_never(role)

    def _heat_constants(self, i: int, day: dt.date) -> list[FactorUse]:
        """The formula constants a steam or hot-water mass conversion used (lineage)."""
        meter = self.plant.meters[i]
        steam, water = self.params.heat_constant_ids
        if not any(steam in x or water in x for x in self.params.conversions[i].steps):
            return []
        if meter.steam_enthalpy_kj_per_kg is not None:
            return [self._by_id("steam_ref_enthalpy", steam, "kJ/kg", day, "heat formula")]
        return [self._by_id("water_cp", water, "kJ/(kg*K)", day, "heat formula")]

    def _fuel(self, i: int, day: dt.date) -> Lineage:
        meter = self.plant.meters[i]
        assert meter.fuel is not None
        method = self.plant.meter_method(meter)
        state = self.plant.fuel_state(meter)
        ncv_unit = "GJ/Nm3" if state is FuelState.GAS else "GJ/t"
        ids = self.plant.fuel_factor_ids(meter)
        notes: list[str] = []

        def use(role: str, unit: str) -> FactorUse:
            fid = ids[role]
            if fid is None:  # the plant file check makes this unreachable for NCV only
                raise FactorError(f"meter {meter.id}: no {role} factor for fuel {meter.fuel}")
            return self._by_id(role, fid, unit, day, self._why(meter.id, role, fid))

        if method is Method.CN_GBT32150:
            ncv, cc, of = (
                use("ncv", ncv_unit),
                use("carbon_content", "tC/GJ"),
                use("oxidation", "fraction"),
            )
            co2 = ncv.value * cc.value * of.value * C_TO_CO2
            if meter.combustion is Combustion.MOBILE:
                notes.append(
                    "mobile combustion under the China method: CO2 only, as the Chinese "
                    "guidelines count it; CH4/N2O need method ipcc2006"
                )
            return self._record(i, day, "cn_gbt32150", [ncv, cc, of], co2=co2, notes=notes)
        builtin = BUILTIN_FUELS.get(meter.fuel)
        if ids["ncv"] is None and builtin is not None and state is FuelState.GAS:
            # IPCC's NCV is per mass; a metered volume needs a volumetric NCV.
            fid = cn_default(builtin, "ncv")
            assert fid is not None
            ids["ncv"] = fid
            notes.append("volumetric NCV from the China default table (IPCC NCV is per mass)")
        ncv = use("ncv", ncv_unit)
        e_co2, e_ch4, e_n2o = use("co2", "t/GJ"), use("ch4", "t/GJ"), use("n2o", "t/GJ")
        gwp = self.plant.gwp.value.lower()
        how = f"GWP set {self.plant.gwp.value} (plant gwp)"
        g_ch4 = self._by_id("gwp_ch4", f"gwp.{gwp}.ch4", "kgCO2e/kg", day, how)
        g_n2o = self._by_id("gwp_n2o", f"gwp.{gwp}.n2o", "kgCO2e/kg", day, how)
        label = "ipcc2006"
        if meter.combustion is Combustion.MOBILE:
            label = f"ipcc2006 mobile ({meter.vehicle})"
        return self._record(
            i,
            day,
            label,
            [ncv, e_co2, e_ch4, e_n2o, g_ch4, g_n2o],
            co2=ncv.value * e_co2.value,
            ch4=ncv.value * e_ch4.value,
            n2o=ncv.value * e_n2o.value,
            gwp=(g_ch4.value, g_n2o.value),
            notes=notes,
        )

    def _why(self, meter_id: str, role: str, fid: str) -> str:
        meter = self.plant.meters[self.params.index[meter_id]]
        if meter.factors.get(role) == fid:
            return f"pinned by meter {meter_id} factors.{role}:"
        decl = self.plant.declared_fuel(meter.fuel or "")
        if decl is not None:
            return f"declared fuel {decl.id} factors.{role}:"
        if meter.combustion is Combustion.MOBILE and role in ("ch4", "n2o"):
            return f"default for {meter.fuel}, mobile {meter.vehicle}:"
        return f"default for {meter.fuel}:"

    def _residual(self, site: str, day: dt.date) -> Lineage:
        """The market-based factor for power no instrument covers, per site."""
        grid_meters = [
            m for m in self.plant.meters if m.site == site and m.kind is MeterKind.GRID_IMPORT
        ]
        over = {m.factors["residual"] for m in grid_meters if "residual" in m.factors}
        if len(over) > 1:
            raise FactorError(f"site {site}: grid meters name different residual factors {over}")
        if over:
            use = self._by_id(
                "residual", over.pop(), "t/MWh", day, f"pinned on site {site}'s grid meter:"
            )
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
                basis="site has no grid import",
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

    def _grid(self, factor_id: str | None, region: str, day: dt.date, meter: str) -> FactorUse:
        if factor_id is not None:
            return self._by_id(
                "grid", factor_id, "t/MWh", day, f"pinned by meter {meter} factors.grid:"
            )
        level = self.plant.grid_factor_level.value
        at = self.library.region_at_level(region, level)
        return self._use("grid", self.library.lookup(GRID_SERIES, at, day), "t/MWh")

    def _by_id(self, role: str, factor_id: str, unit: str, day: dt.date, how: str) -> FactorUse:
        """A factor named by id, checked against its validity on the activity date."""
        return self._use(role, self.library.pinned(factor_id, day, how), unit)

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
            source_value=f.value,
            source_unit=f.unit,
            basis=r.basis,
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
            notes=tuple(
                [f"activity: {'; '.join(self.params.conversions[i].steps)}"]
                + (notes or [])
                + [u.fallback for u in uses if u.fallback]
            ),
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
