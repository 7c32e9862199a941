"""A plain-Python reference implementation of the accounting formulas.

Written for reading, not speed: one reading at a time, dictionaries, no
numpy. The property tests check the vectorized engine against it on random
batches, and an auditor can follow any figure through it line by line. It
shares with the engine only the plant model, the unit table and the choice of
factors (which factor applies is tested on hand-computed cases); the formulas
(deltas, rollover, integration, bucketing, emission factors, allocation) are
written again here.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import assert_never
from zoneinfo import ZoneInfo

from carbonstream.config.plant import InstrumentType, Measures, Meter, MeterKind, Plant
from carbonstream.core.library import FactorLibrary
from carbonstream.core.meters import build_params
from carbonstream.core.resolve import Resolver

NS = 1_000_000_000


@dataclass
class RefResult:
    # (site id, bucket start ns) -> column -> value
    sites: dict[tuple[str, int], dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    # meter id -> canonical quantity counted
    meter_quantity: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    instrument_mwh: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def total(self, column: str) -> float:
        return sum(v.get(column, 0.0) for v in self.sites.values())


def account(
    plant: Plant,
    library: FactorLibrary,
    readings: list[tuple[str, int, float, int]],
    base_s: int = 60,
) -> RefResult:
    """readings: (meter id, ts ns UTC, value, quality) in any order."""
    meters = {m.id: m for m in plant.meters}
    resolver = Resolver(plant, library, build_params(plant, library))
    density = _densities(plant, library)
    base = base_s * NS
    quantity: dict[tuple[str, int], float] = defaultdict(float)

    by_meter: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for meter_id, ts, value, quality in readings:
        if quality == 0:
            by_meter[meter_id].append((ts, value))
    for meter_id, rows in by_meter.items():
        meter = meters[meter_id]
        rows.sort()
        unique: list[tuple[int, float]] = []
        for ts, value in rows:
            if not unique or unique[-1][0] != ts:
                unique.append((ts, value))  # lowest value wins a tie, as in the engine
        scale = _scale(plant, library, meter, density.get(meter_id))
        for (t0, v0), (t1, v1) in itertools.pairwise(unique):
            q = _interval(plant, meter, t0, v0, t1, v1)
            if q is None:
                continue
            q *= scale
            for bucket, share in _pieces(t0, t1, base):
                quantity[(meter_id, bucket)] += q * share

    result = RefResult()
    zone = ZoneInfo(plant.timezone)
    position = {m.id: i for i, m in enumerate(plant.meters)}
    grid: dict[tuple[str, int], float] = defaultdict(float)
    for (meter_id, bucket), q in quantity.items():
        meter = meters[meter_id]
        result.meter_quantity[meter_id] += q
        local = dt.datetime.fromtimestamp(bucket // NS, ZoneInfo("UTC")).astimezone(zone)
        month = resolver.month(local.year, local.month)
        lineage = resolver.lineages[int(month.lineage[position[meter_id]])]
        co2, ch4, n2o, co2e = _emission_factors(lineage.factors, lineage.method, q)
        row = result.sites[(meter.site, bucket)]
        match meter.kind:
            case MeterKind.FUEL:
                row["scope1_t"] += co2e
                row["scope1_co2_t"] += co2
                row["scope1_ch4_t"] += ch4
                row["scope1_n2o_t"] += n2o
            case MeterKind.GRID_IMPORT:
                row["scope2_location_t"] += co2e
                row["grid_import_mwh"] += q
                grid[(meter.site, bucket)] += q
            case MeterKind.HEAT_IMPORT:
                row["scope2_location_t"] += co2e
                row["scope2_heat_t"] += co2e
                row["heat_import_gj"] += q
            case MeterKind.GRID_EXPORT:
                row["grid_export_mwh"] += q
                row["export_deduction_t"] += co2e
            case MeterKind.HEAT_EXPORT:
                row["heat_export_gj"] += q
                row["export_deduction_t"] += co2e
            case MeterKind.ONSITE_GENERATION:
                row["generation_mwh"] += q
            case MeterKind.PRODUCTION:
                row["production"] += q
            case MeterKind.TEMPERATURE:
                pass  # degree-hours: a baseline driver, in no column of the account
            case _:
                assert_never(meter.kind)

    _market(plant, resolver, grid, result, zone)
    return result


def _interval(plant: Plant, meter: Meter, t0: int, v0: float, t1: int, v1: float) -> float | None:
    """Raw quantity of one interval, or None when it must not be counted."""
    hours = (t1 - t0) / (3600 * NS)
    cap_rate = meter.rating / meter.multiplier * (1 + plant.rating_tolerance)
    res = meter.resolution
    if meter.measures is Measures.RATE:
        max_gap = (meter.max_gap_s or plant.max_gap_s) * NS
        floor = -cap_rate if meter.kind is MeterKind.TEMPERATURE else -res
        for p in (v0, v1):
            if p < floor or p > cap_rate:
                return None
        if t1 - t0 > max_gap:
            return None
        return (v0 + v1) / 2 * hours
    cap = cap_rate * hours + res
    for r in plant.replacements:
        at = int(r.at.timestamp()) * NS + r.at.microsecond * 1000
        if r.meter == meter.id and t0 < at <= t1:
            before, after = r.old_final - v0, v1 - r.new_initial
            if before < -res or after < -res or before + after > cap:
                return None
            return max(before + after, 0.0)
    raw = v1 - v0
    if -res <= raw <= cap:
        return max(raw, 0.0)
    if raw < -res and meter.counter_range:
        wrapped = raw + meter.counter_range
        if 0 <= wrapped <= cap:
            return wrapped
    return None


def _pieces(t0: int, t1: int, base: int) -> list[tuple[int, float]]:
    out = []
    b = (t0 // base) * base
    while b < t1:
        lo, hi = max(t0, b), min(t1, b + base)
        if hi > lo:
            out.append((b, (hi - lo) / (t1 - t0)))
        b += base
    return out


def _emission_factors(
    factors: tuple[object, ...], method: str, q: float
) -> tuple[float, float, float, float]:
    v = {f.role: f.value for f in factors}  # type: ignore[attr-defined]
    if method == "cn_gbt32150":
        co2 = q * v["ncv"] * v["carbon_content"] * v["oxidation"] * 44 / 12
        return co2, 0.0, 0.0, co2
    if method.startswith("ipcc2006"):  # stationary, or mobile with Vol. 2 Ch. 3 CH4/N2O
        energy = q * v["ncv"]
        co2, ch4, n2o = energy * v["co2"], energy * v["ch4"], energy * v["n2o"]
        return co2, ch4, n2o, co2 + ch4 * v["gwp_ch4"] + n2o * v["gwp_n2o"]
    if "grid" in v:
        return q * v["grid"], 0.0, 0.0, q * v["grid"]
    if "heat" in v:
        return q * v["heat"], 0.0, 0.0, q * v["heat"]
    return 0.0, 0.0, 0.0, 0.0


def _market(
    plant: Plant,
    resolver: Resolver,
    grid: dict[tuple[str, int], float],
    result: RefResult,
    zone: ZoneInfo,
) -> None:
    """Row by row in time order; each row draws on instruments in priority order."""

    def bounds(start: dt.date, end: dt.date) -> tuple[int, int]:
        lo = dt.datetime(start.year, start.month, start.day, tzinfo=zone)
        hi = dt.datetime(end.year, end.month, end.day, tzinfo=zone) + dt.timedelta(days=1)
        hi = dt.datetime(hi.year, hi.month, hi.day, tzinfo=zone)
        return int(lo.timestamp()) * NS, int(hi.timestamp()) * NS

    instruments = sorted(
        plant.instruments,
        key=lambda i: (
            i.type is InstrumentType.SUPPLIER_FACTOR,
            bounds(i.claim_period.start, i.claim_period.end)[1],
            i.id,
        ),
    )
    left = {i.id: (i.mwh if i.mwh is not None else float("inf")) for i in instruments}
    site_ids = [s.id for s in plant.sites]
    for site, bucket in sorted(result.sites, key=lambda k: (k[1], site_ids.index(k[0]))):
        row = result.sites[(site, bucket)]
        remaining = grid.get((site, bucket), 0.0)
        mb = 0.0
        for ins in instruments:
            lo, hi = bounds(ins.claim_period.start, ins.claim_period.end)
            if ins.site != site or not lo <= bucket < hi or remaining <= 0:
                continue
            take = min(remaining, left[ins.id])
            if take <= 0:
                continue
            left[ins.id] -= take
            remaining -= take
            mb += take * ins.emission_factor_t_per_mwh
            if ins.type is not InstrumentType.SUPPLIER_FACTOR:
                result.instrument_mwh[ins.id] += take
        local = dt.datetime.fromtimestamp(bucket // NS, ZoneInfo("UTC")).astimezone(zone)
        factors = resolver.month(local.year, local.month)
        residual = float(factors.residual_ef[site_ids.index(site)])
        row["scope2_market_t"] = mb + remaining * residual + row.get("scope2_heat_t", 0.0)


def _densities(plant: Plant, library: FactorLibrary) -> dict[str, float]:
    """Default densities: diesel's library density, only for a volume without its own."""
    out = {}
    for m in plant.meters:
        if m.fuel == "diesel" and m.density_kg_per_l is None and m.unit in ("L", "m3", "L/h"):
            out[m.id] = library.get("density.diesel").value
    return out


def _scale(plant: Plant, library: FactorLibrary, meter: Meter, density: float | None) -> float:
    """Canonical per raw unit. Steam and hot water by mass are written out again here
    from the library's constants (GJ/t = (h - h_ref) x 10^-3 or (T - 20) x cp x 10^-3)."""
    rate = meter.measures is Measures.RATE
    if meter.kind in (MeterKind.HEAT_IMPORT, MeterKind.HEAT_EXPORT) and meter.unit in (
        ("t/h", "kg/h") if rate else ("t", "kg")
    ):
        mass = 1e-3 if meter.unit.startswith("kg") else 1.0
        if meter.steam_enthalpy_kj_per_kg is not None:
            h_ref = library.get("cn.heat.steam_ref_enthalpy").value
            per_t = (meter.steam_enthalpy_kj_per_kg - h_ref) * 1e-3
        else:
            assert meter.hot_water_temperature_c is not None
            cp = library.get("cn.heat.water_cp").value
            per_t = (meter.hot_water_temperature_c - 20.0) * cp * 1e-3
        return per_t * mass * meter.multiplier
    return meter.scale(plant.fuel_state(meter), density).per_unit
