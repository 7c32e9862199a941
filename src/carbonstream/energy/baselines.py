"""Baselines and savings per site and per significant energy use (ISO 50006, IPMVP).

Energy is counted in tce (GB/T 2589, equivalent value) so a use that burns gas and
draws power has one figure; the driver is the production of the use's production
meters (default: its site's). Savings follow IPMVP "avoided energy": the baseline
model run on the reporting period's production, minus what was used (positive:
saved). The CUSUM runs the other way, actual - expected, as most tools plot it:
a falling line is saving. Degree days are not a driver yet (no temperature meters).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.energy import SignificantUse
from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core import baseline as bl
from carbonstream.core import energy as core
from carbonstream.core.calendar import label
from carbonstream.energy.tce import Lines, local_years

METHOD = (
    "ISO 50006 energy baseline: least-squares regression of energy (tce, GB/T 2589 "
    "equivalent value) on production per interval over the baseline period; fit judged by "
    "ASHRAE Guideline 14 (CV(RMSE) <= 15 % monthly, 30 % hourly; |NMBE| <= 5 %, 10 %); "
    "savings = expected - actual over the reporting period (IPMVP avoided energy); "
    "CUSUM = running sum of actual - expected"
)
INPUT_KINDS = frozenset({MeterKind.GRID_IMPORT, MeterKind.FUEL, MeterKind.HEAT_IMPORT})


@dataclass(frozen=True)
class Use:
    id: str
    name: str
    site: str
    meters: list[int]
    drivers: list[int]


def uses(plant: Plant) -> list[Use]:
    """Every site (its energy inputs), then every significant use named in the config."""
    index = {m.id: i for i, m in enumerate(plant.meters)}
    out = []
    for s in plant.sites:
        ms = [i for i, m in enumerate(plant.meters) if m.site == s.id and m.kind in INPUT_KINDS]
        out.append(Use(f"site:{s.id}", s.name or s.id, s.id, ms, _site_drivers(plant, s.id)))
    for u in plant.energy.significant_uses:
        out.append(_seu(plant, u, index))
    return out


def _site_drivers(plant: Plant, site: str) -> list[int]:
    return [
        i for i, m in enumerate(plant.meters) if m.site == site and m.kind is MeterKind.PRODUCTION
    ]


def _seu(plant: Plant, u: SignificantUse, index: dict[str, int]) -> Use:
    drivers = (
        [index[x] for x in u.production_meters]
        if u.production_meters is not None
        else _site_drivers(plant, u.site)
    )
    return Use(u.id, u.name or u.id, u.site, [index[x] for x in u.meters], drivers)


def assess(
    ep: core.EnergyParams,
    lines: Lines,
    ef: NDArray[np.float64],
    reporting_start_ns: int,
    reporting_end_ns: int,
) -> list[dict[str, Any]]:
    """Fit each use's baseline on the lines before the reporting period and assess the
    reporting period. ``lines`` are bucketed at the baseline's interval; ``ef`` is
    tCO2e per canonical unit per meter (dense index)."""
    plant = ep.plant
    cfg = plant.energy.baseline
    if cfg is None:
        return []
    zone = plant.zone
    base_lo = int(dt.datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=zone)
                  .timestamp()) * 1_000_000_000  # fmt: skip
    end_day = cfg.end + dt.timedelta(days=1)
    base_hi = int(dt.datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)
                  .timestamp()) * 1_000_000_000  # fmt: skip
    buckets = np.unique(lines.bucket)
    nb = len(buckets)
    b = np.searchsorted(buckets, lines.bucket)
    years = local_years(lines.bucket, zone)
    tce, _ = core.tce(ep, lines.meter, lines.quantity, years)
    co2e = lines.quantity * ef[lines.meter]
    in_base = (buckets >= base_lo) & (buckets < base_hi)
    in_rep = (buckets >= reporting_start_ns) & (buckets < reporting_end_ns)
    out = []
    for u in uses(plant):  # a handful of uses; the sums inside are vectorized
        mine = np.isin(lines.meter, u.meters)
        drv = np.isin(lines.meter, u.drivers)
        e = core.bincount(b[mine], tce[mine], nb)
        t = core.bincount(b[mine], co2e[mine], nb)
        p = core.bincount(b[drv], lines.quantity[drv], nb)
        out.append(_one(plant, u, cfg.interval, buckets, e, t, p, in_base, in_rep, zone))
    return out


def _one(
    plant: Plant,
    u: Use,
    interval: str,
    buckets: NDArray[np.int64],
    e: NDArray[np.float64],
    t: NDArray[np.float64],
    p: NDArray[np.float64],
    in_base: NDArray[np.bool_],
    in_rep: NDArray[np.bool_],
    zone: Any,
) -> dict[str, Any]:
    cfg = plant.energy.baseline
    assert cfg is not None
    has_driver = bool(u.drivers)
    x = p[:, None] if has_driver else np.empty((len(p), 0))
    model = bl.fit(x[in_base], e[in_base], interval)
    expected = model.predict(x[in_rep]) if model.n > 0 else np.full(int(in_rep.sum()), np.nan)
    actual = e[in_rep]
    actual_t, expected_t = float(actual.sum()), float(np.nansum(expected))
    savings = expected_t - actual_t
    t_per_tce = float(t[in_rep].sum()) / actual_t if actual_t > 0 else 0.0
    cus = bl.cusum(actual, expected)
    units = {plant.meters[i].unit for i in u.drivers}
    base_prod, rep_prod = float(p[in_base].sum()), float(p[in_rep].sum())
    why = list(model.why)
    if not has_driver:
        why.append("no production meter: the baseline is the mean (base load only)")
    return {
        "id": u.id,
        "name": u.name,
        "site": u.site,
        "meters": [plant.meters[i].id for i in u.meters],
        "driver_meters": [plant.meters[i].id for i in u.drivers],
        "driver_unit": units.pop() if len(units) == 1 else None,
        "interval": interval,
        "baseline_period": {"start": cfg.start.isoformat(), "end": cfg.end.isoformat()},
        "model": {
            "intercept_tce": float(model.coef[0]),
            "tce_per_unit": float(model.coef[1]) if has_driver else None,
            "points": model.n,
            "r2": model.r2,
            "cv_rmse_pct": model.cv_rmse_pct,
            "nmbe_pct": model.nmbe_pct,
            "limit_cv_rmse_pct": bl.ASHRAE14_LIMITS[interval][0],
            "limit_nmbe_pct": bl.ASHRAE14_LIMITS[interval][1],
            "r2_below_guide": bool(model.r2 < bl.R2_GUIDE) if np.isfinite(model.r2) else True,
        },
        "valid": model.valid and has_driver,
        "why_not_valid": why,
        "enpi": {
            "baseline_tce_per_unit": float(e[in_base].sum()) / base_prod if base_prod else None,
            "reporting_tce_per_unit": actual_t / rep_prod if rep_prod else None,
        },
        "reporting": {
            "points": int(in_rep.sum()),
            "actual_tce": actual_t,
            "expected_tce": expected_t,
            "savings_tce": savings,
            "savings_pct": 100.0 * savings / expected_t if expected_t else None,
            "savings_tco2e": savings * t_per_tce,
        },
        "cusum": [
            {
                "start": label(int(s), zone),
                "actual_tce": float(a),
                "expected_tce": float(x_),
                "cusum_tce": float(c),
            }
            for s, a, x_, c in zip(buckets[in_rep], actual, expected, cus, strict=True)
        ],
    }
