"""Comprehensive energy in tce per meter, production line, site and plant, per bucket.

Shared by ``carbonstream compute`` (from the batch account) and ``GET /v1/energy``
(from stored per-minute quantities): both hand in (meter, calendar bucket,
quantity) lines and the green power covered per (site, bucket); this module
sums them with the core's coefficients and says how.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, assert_never
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import MeterKind
from carbonstream.core import energy as core
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.calendar import label

METHOD = (
    "GB/T 2589-2020 comprehensive energy consumption: total = grid import + fuels + heat "
    "import - heat export, each quantity x its standard-coal coefficient; electricity at the "
    "equivalent value (当量值) in total_tce and at the equal value (等价值, the power-supply "
    "coal rate of the year) in total_equal_tce"
)
NOTES = (
    "On-site renewable generation is not in the total (non-fossil power kept apart, "
    "发改运行〔2022〕1258号, 发改环资〔2024〕113号): see onsite_renewable_tce.",
    "Green power (GECs, green-power trades, PPAs allocated to the site) is inside the total; "
    "total_excl_green_tce deducts it, as the dual-control assessment does with GECs as proof.",
    "Grid export (surplus on-site PV) is shown, not deducted: it was never counted in.",
    "Coefficients marked 'secondary' come from reprints of the GB/T 2589 tables and "
    "'memory' ones are unchecked: see coefficients[].verified.",
)


class Grouping(StrEnum):
    METER = "meter"
    LINE = "line"
    SITE = "site"
    PLANT = "plant"


@dataclass(frozen=True)
class Lines:
    """(meter, calendar bucket) quantities in canonical units, and green MWh per
    (site, calendar bucket)."""

    meter: NDArray[np.intp]
    bucket: NDArray[np.int64]  # UTC ns of the local bucket start
    quantity: NDArray[np.float64]
    green_site: NDArray[np.intp]
    green_bucket: NDArray[np.int64]
    green_mwh: NDArray[np.float64]
    covered_s: NDArray[np.float64] | None = None  # per line; needed with a Grid


@dataclass(frozen=True)
class Grid:
    """Every bucket of a period (UTC ns of the local start) and its seconds in the period:
    with one, a bucket without data is a row of zeros with coverage_pct 0, never left out."""

    start: NDArray[np.int64]
    span_s: NDArray[np.float64]


def local_years(bucket: NDArray[np.int64], zone: ZoneInfo) -> NDArray[np.int64]:
    """The local year of each bucket start (per distinct bucket, not per line)."""
    if len(bucket) == 0:
        return np.empty(0, dtype=np.int64)
    uniq, inv = np.unique(bucket, return_inverse=True)
    years = np.array(
        [dt.datetime.fromtimestamp(int(b) // NS_PER_S, zone).year for b in uniq], dtype=np.int64
    )
    return years[inv]


def group_of(ep: core.EnergyParams, by: Grouping) -> tuple[list[str], NDArray[np.intp]]:
    """Group names and each meter's group index (-1: not in any group)."""
    plant = ep.plant
    match by:
        case Grouping.METER:
            return list(ep.ids), np.arange(len(ep.ids), dtype=np.intp)
        case Grouping.SITE:
            names = [s.id for s in plant.sites]
            return names, np.array([names.index(m.site) for m in plant.meters], dtype=np.intp)
        case Grouping.LINE:
            names = sorted({m.line for m in plant.meters if m.line})
            idx = [names.index(m.line) if m.line else -1 for m in plant.meters]
            return names, np.array(idx, dtype=np.intp)
        case Grouping.PLANT:
            return [plant.name], np.zeros(len(ep.ids), dtype=np.intp)
        case _:
            assert_never(by)


def _green_tce(
    ep: core.EnergyParams, mwh: NDArray[np.float64], years: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    equivalent = mwh * ep.library.get(core.ELECTRICITY_EQUIVALENT).value
    uniq = np.unique(years)
    per_year = np.array([ep.equal_value(int(y)).tce_per_mwh for y in uniq])
    equal = mwh * (per_year[np.searchsorted(uniq, years)] if len(uniq) else 0.0)
    return equivalent, equal


def _production_units(ep: core.EnergyParams, by: Grouping, names: list[str]) -> list[str | None]:
    plant = ep.plant
    prod = [(i, m) for i, m in enumerate(plant.meters) if m.kind is MeterKind.PRODUCTION]
    units: list[str | None] = []
    for name in names:
        match by:
            case Grouping.METER:
                hit = [m.unit for _, m in prod if m.id == name]
            case Grouping.SITE:
                hit = [m.unit for _, m in prod if m.site == name]
            case Grouping.LINE:
                hit = [m.unit for _, m in prod if m.line == name]
            case Grouping.PLANT:
                hit = [m.unit for _, m in prod]
            case _:
                assert_never(by)
        units.append(hit[0] if hit and len(set(hit)) == 1 else None)
    return units


def _finish(row: dict[str, float], unit: str | None, with_green: bool) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    if with_green:
        out["total_excl_green_tce"] = row["total_tce"] - row["green_power_tce"]
        out["total_equal_excl_green_tce"] = row["total_equal_tce"] - row["green_power_equal_tce"]
    out["production_unit"] = unit
    out["tce_per_unit"] = core.intensity(row["total_tce"], row["production"]) if unit else None
    out["tce_equal_per_unit"] = (
        core.intensity(row["total_equal_tce"], row["production"]) if unit else None
    )
    return out


def assemble(
    ep: core.EnergyParams,
    lines: Lines,
    zone: ZoneInfo,
    by: Grouping = Grouping.SITE,
    grid: Grid | None = None,
) -> dict[str, Any]:
    """Totals per meter, line, site and plant over all buckets, and per-bucket rows of
    the chosen grouping: with a grid, one per bucket of it and group, with coverage_pct;
    without, only the buckets with lines. Plain dicts (rendered as JSON by compute and
    the API)."""
    years = local_years(lines.bucket, zone)
    cols = core.columns(ep, lines.meter, lines.quantity, years)
    green_years = local_years(lines.green_bucket, zone)
    green_eq, green_equal = _green_tce(ep, lines.green_mwh, green_years)
    totals: dict[str, Any] = {}
    for g in Grouping:
        names, of_meter = group_of(ep, g)
        grp = of_meter[lines.meter] if len(lines.meter) else np.empty(0, dtype=np.intp)
        keep = grp >= 0
        sums = core.group_sums({k: v[keep] for k, v in cols.items()}, grp[keep], len(names))
        with_green = g in (Grouping.SITE, Grouping.PLANT)
        if with_green:
            gg = lines.green_site if g is Grouping.SITE else np.zeros_like(lines.green_site)
            sums["green_power_mwh"] = core.bincount(gg, lines.green_mwh, len(names))
            sums["green_power_tce"] = core.bincount(gg, green_eq, len(names))
            sums["green_power_equal_tce"] = core.bincount(gg, green_equal, len(names))
        units = _production_units(ep, g, names)
        block = {
            name: _finish({k: float(v[i]) for k, v in sums.items()}, units[i], with_green)
            for i, name in enumerate(names)
        }
        if g is Grouping.METER:
            eq, equal = core.tce(ep, lines.meter, lines.quantity, years)
            qty = np.bincount(lines.meter, lines.quantity, minlength=len(names))
            tce_eq = np.bincount(lines.meter, eq, minlength=len(names))
            tce_equal = np.bincount(lines.meter, equal, minlength=len(names))
            for i, name in enumerate(names):
                c = ep.coefficients[i]
                block[name] = {
                    "kind": ep.kind[i].value,
                    "quantity": float(qty[i]),
                    "quantity_unit": c.quantity_unit if c else None,
                    "tce": float(tce_eq[i]),
                    "equal_tce": float(tce_equal[i]),
                    "coefficient": f"{c.factor_id}@v{c.version}" if c else None,
                } | block[name]
        totals[g.value] = block[names[0]] if g is Grouping.PLANT else block
    return {
        "method": METHOD,
        "grouping": by.value,
        "totals": totals,
        "buckets": _bucket_rows(ep, lines, cols, green_eq, green_equal, zone, by, grid),
        "coefficients": [vars(c) for c in ep.coefficients if c is not None],
        "equal_values": [
            {
                "year": e.year,
                "tce_per_mwh": e.tce_per_mwh,
                "factor_id": e.factor.id,
                "version": e.factor.version,
                "value": e.factor.value,
                "unit": e.factor.unit,
                "region": e.factor.region,
                "data_year": e.factor.data_year,
                "verified": e.factor.verified,
                "source": e.factor.source,
                "fallback": e.fallback,
                "basis": ep.plant.energy.equal_value_year,
            }
            for e in ep.used_equal_values()
        ],
        "unverified": sorted(
            {c.factor_id for c in ep.coefficients if c is not None and c.verified != "yes"}
            | {e.factor.id for e in ep.used_equal_values() if e.factor.verified != "yes"}
        ),
        "notes": list(NOTES),
    }


def _bucket_rows(
    ep: core.EnergyParams,
    lines: Lines,
    cols: dict[str, NDArray[np.float64]],
    green_eq: NDArray[np.float64],
    green_equal: NDArray[np.float64],
    zone: ZoneInfo,
    by: Grouping,
    grid: Grid | None,
) -> list[dict[str, Any]]:
    names, of_meter = group_of(ep, by)
    grp = of_meter[lines.meter] if len(lines.meter) else np.empty(0, dtype=np.intp)
    keep = grp >= 0
    with_green = by in (Grouping.SITE, Grouping.PLANT)
    gsite = lines.green_site if by is Grouping.SITE else np.zeros_like(lines.green_site)
    if grid is None:
        all_buckets = np.unique(np.concatenate([lines.bucket[keep], lines.green_bucket]))
    else:
        all_buckets = grid.start
        _check_on_grid(all_buckets, np.concatenate([lines.bucket, lines.green_bucket]))
    nb, ng = len(all_buckets), len(names)
    if nb == 0:
        return []
    key = np.searchsorted(all_buckets, lines.bucket[keep]) * ng + grp[keep]
    sums = core.group_sums({k: v[keep] for k, v in cols.items()}, key, nb * ng)
    seen = np.bincount(key, minlength=nb * ng) > 0
    if with_green:
        gkey = np.searchsorted(all_buckets, lines.green_bucket) * ng + gsite
        sums["green_power_mwh"] = core.bincount(gkey, lines.green_mwh, nb * ng)
        sums["green_power_tce"] = core.bincount(gkey, green_eq, nb * ng)
        sums["green_power_equal_tce"] = core.bincount(gkey, green_equal, nb * ng)
        seen |= np.bincount(gkey, minlength=nb * ng) > 0
    units = _production_units(ep, by, names)
    coverage = None if grid is None else _coverage(lines, grid, key, keep, of_meter, ng)
    rows = []
    for k in np.flatnonzero(seen) if grid is None else range(nb * ng):
        b, g = divmod(int(k), ng)
        row = _finish({c: float(v[k]) for c, v in sums.items()}, units[g], with_green)
        if coverage is not None:
            row["coverage_pct"] = float(coverage[k])
        rows.append({"start": label(int(all_buckets[b]), zone), by.value: names[g]} | row)
    return rows


def _check_on_grid(grid: NDArray[np.int64], buckets: NDArray[np.int64]) -> None:
    """A line whose bucket is not one of the grid's would be summed into a wrong row."""
    if len(buckets) == 0:
        return
    at = np.minimum(np.searchsorted(grid, buckets), len(grid) - 1)
    bad = len(buckets) if len(grid) == 0 else int((grid[at] != buckets).sum())
    if bad:
        raise RuntimeError(f"energy: {bad} lines outside the buckets of the period")


def _coverage(
    lines: Lines,
    grid: Grid,
    key: NDArray[np.intp],
    keep: NDArray[np.bool_],
    of_meter: NDArray[np.intp],
    ng: int,
) -> NDArray[np.float64]:
    """Per (bucket, group): the mean of its meters' coverage, each the share of the bucket
    its counted intervals cover (a meter's coverage_pct in its own series)."""
    if lines.covered_s is None:
        raise ValueError("energy: a bucket grid needs the lines' covered seconds")
    nb = len(grid.start)
    covered = np.bincount(key, lines.covered_s[keep], minlength=nb * ng)
    meters = np.bincount(of_meter[of_meter >= 0], minlength=ng).astype(np.float64)
    span = np.repeat(grid.span_s, ng) * np.tile(meters, nb)
    pct: NDArray[np.float64] = np.divide(
        100.0 * covered, span, out=np.zeros(nb * ng), where=span > 0
    )
    return np.minimum(pct, 100.0)
