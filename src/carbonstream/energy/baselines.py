"""Baselines and savings per site and per significant energy use (ISO 50006, IPMVP).

Energy is counted in tce (GB/T 2589, equivalent value) so a use that burns gas and
draws power has one figure; the driver is the production of the use's production
meters (default: its site's). Savings follow IPMVP "avoided energy": the baseline
model run on the reporting period's production, minus what was used (positive:
saved). The CUSUM runs the other way, actual - expected, as most tools plot it:
a falling line is saving.

Where ``energy.baseline.degree_days`` gives a site a temperature meter, its uses
also regress on heating and cooling degree days (HDD, CDD) from that meter's mean
°C: per day for daily and monthly models (a month sums its days), per hour for
hourly ones (degree-hours / 24). The fit without them is reported beside it, so
the reader sees what the weather explains.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.energy import DegreeDays, SignificantUse
from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core import baseline as bl
from carbonstream.core import energy as core
from carbonstream.core.batch import NS_PER_H
from carbonstream.core.calendar import bucket_start, label, to_calendar
from carbonstream.energy.tce import Lines, local_years

METHOD = (
    "ISO 50006 energy baseline: least-squares regression of energy (tce, GB/T 2589 "
    "equivalent value) on production per interval over the baseline period, and on heating "
    "and cooling degree days (from the mean °C of a temperature meter, per day; per hour "
    "/ 24 for hourly models) where configured; fit judged by "
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
    degree_days: bool = True


@dataclass(frozen=True)
class Temperatures:
    """Mean °C of temperature meters (dense index) per plant-local day, or per hour for
    an hourly baseline (``temperatures`` makes them from stored degree-hours)."""

    meter: NDArray[np.intp]
    bucket: NDArray[np.int64]  # UTC ns of the local day or hour start
    mean_c: NDArray[np.float64]


def temperature_bucket(interval: str) -> str:
    """The bucket temperatures are averaged over for a baseline of ``interval``."""
    return "hour" if interval == "hour" else "day"


def temperatures(
    meter: NDArray[np.intp],
    bucket: NDArray[np.int64],
    degree_hours: NDArray[np.float64],
    covered_ns: NDArray[np.float64],
    interval: str,
) -> Temperatures:
    """Means from (meter, bucket) sums of integrated °C·h and covered time. A local day
    is taken as 24 h (the plant zones served have no daylight saving time)."""
    hours = 1.0 if temperature_bucket(interval) == "hour" else 24.0
    mean = bl.mean_temperature(degree_hours, covered_ns / NS_PER_H, hours)
    return Temperatures(meter, bucket, mean)


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
    return Use(u.id, u.name or u.id, u.site, [index[x] for x in u.meters], drivers, u.degree_days)


def assess(
    ep: core.EnergyParams,
    lines: Lines,
    ef: NDArray[np.float64],
    reporting_start_ns: int,
    reporting_end_ns: int,
    temps: Temperatures | None = None,
) -> list[dict[str, Any]]:
    """Fit each use's baseline on the lines before the reporting period and assess the
    reporting period. ``lines`` are bucketed at the baseline's interval; ``ef`` is
    tCO2e per canonical unit per meter (dense index); ``temps`` the mean °C of the
    temperature meters the degree days name (none: no degree days)."""
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
    index = {m.id: i for i, m in enumerate(plant.meters)}
    weather = {
        d.site: _degree_day_columns(d, index[d.meter], temps, buckets, cfg.interval, zone)
        for d in cfg.degree_days
    }
    out = []
    for u in uses(plant):  # a handful of uses; the sums inside are vectorized
        mine = np.isin(lines.meter, u.meters)
        drv = np.isin(lines.meter, u.drivers)
        e = core.bincount(b[mine], tce[mine], nb)
        t = core.bincount(b[mine], co2e[mine], nb)
        p = core.bincount(b[drv], lines.quantity[drv], nb)
        dd = weather.get(u.site, {}) if u.degree_days else {}
        out.append(_one(plant, u, cfg.interval, buckets, e, t, p, dd, in_base, in_rep, zone))
    return out


def _degree_day_columns(
    d: DegreeDays,
    meter: int,
    temps: Temperatures | None,
    buckets: NDArray[np.int64],
    interval: str,
    zone: Any,
) -> dict[str, NDArray[np.float64]]:
    """HDD and CDD (as configured) per baseline bucket; NaN where the temperature meter
    has no mean (a month needs a mean for every one of its days)."""
    out: dict[str, NDArray[np.float64]] = {}
    mine = temps.meter == meter if temps is not None else np.zeros(0, dtype=bool)
    tb = temps.bucket[mine] if temps is not None else np.zeros(0, dtype=np.int64)
    tc = temps.mean_c[mine] if temps is not None else np.zeros(0)
    days = 1.0 / 24.0 if interval == "hour" else 1.0
    for name, base, heating in (
        ("hdd", d.heating_base_c, True),
        ("cdd", d.cooling_base_c, False),
    ):
        if base is None:
            continue
        per = bl.degree_days(tc, base, heating, days)
        col = np.full(len(buckets), np.nan)
        if interval == "month":
            key = to_calendar(tb, "month", zone) if len(tb) else tb
            at = np.searchsorted(buckets, key)
            hit = (at < len(buckets)) & (buckets[np.minimum(at, len(buckets) - 1)] == key)
            at, per = at[hit], per[hit]
            total = core.bincount(at, np.nan_to_num(per), len(buckets))
            known = core.bincount(at, np.isfinite(per).astype(np.float64), len(buckets))
            in_month = np.array([_days_in_month(int(x), zone) for x in buckets])
            col = np.where(known >= in_month, total, np.nan)
        else:
            at = np.searchsorted(buckets, tb)
            hit = (at < len(buckets)) & (buckets[np.minimum(at, len(buckets) - 1)] == tb)
            col[at[hit]] = per[hit]
        out[name] = col
    return out


def _days_in_month(start_ns: int, zone: Any) -> int:
    nxt = bucket_start(start_ns + 32 * 86_400 * 1_000_000_000, "month", zone)
    return round((nxt - start_ns) / (86_400 * 1_000_000_000))


def _one(
    plant: Plant,
    u: Use,
    interval: str,
    buckets: NDArray[np.int64],
    e: NDArray[np.float64],
    t: NDArray[np.float64],
    p: NDArray[np.float64],
    dd: dict[str, NDArray[np.float64]],
    in_base: NDArray[np.bool_],
    in_rep: NDArray[np.bool_],
    zone: Any,
) -> dict[str, Any]:
    cfg = plant.energy.baseline
    assert cfg is not None
    has_driver = bool(u.drivers)
    prod = [p] if has_driver else []
    x = np.column_stack([*prod, *dd.values()]) if prod or dd else np.empty((len(p), 0))
    model = bl.fit(x[in_base], e[in_base], interval)
    expected = model.predict(x[in_rep]) if model.n > 0 else np.full(int(in_rep.sum()), np.nan)
    have = np.isfinite(expected)
    actual = e[in_rep]
    actual_t, expected_t = float(actual[have].sum()), float(expected[have].sum())
    savings = expected_t - actual_t
    t_per_tce = float(t[in_rep].sum()) / float(actual.sum()) if actual.sum() > 0 else 0.0
    cus = bl.cusum(actual, expected)
    units = {plant.meters[i].unit for i in u.drivers}
    base_prod, rep_prod = float(p[in_base].sum()), float(p[in_rep].sum())
    why = list(model.why)
    if not has_driver:
        why.append("no production meter: the baseline is the mean (base load only)")
    slopes = dict(zip([*(["production"] if has_driver else []), *dd], model.coef[1:], strict=True))
    return {
        "id": u.id,
        "name": u.name,
        "site": u.site,
        "meters": [plant.meters[i].id for i in u.meters],
        "driver_meters": [plant.meters[i].id for i in u.drivers],
        "driver_unit": units.pop() if len(units) == 1 else None,
        "interval": interval,
        "baseline_period": {"start": cfg.start.isoformat(), "end": cfg.end.isoformat()},
        "degree_days": _degree_days_info(cfg.degree_days_of(u.site)) if dd else None,
        "model": {
            "intercept_tce": float(model.coef[0]),
            "tce_per_unit": _opt(slopes.get("production")),
            "tce_per_hdd": _opt(slopes.get("hdd")),
            "tce_per_cdd": _opt(slopes.get("cdd")),
            **_stats(model, interval),
            "r2_below_guide": bool(model.r2 < bl.R2_GUIDE) if np.isfinite(model.r2) else True,
        },
        "without_degree_days": _without(x, e, in_base, len(prod), interval) if dd else None,
        "valid": model.valid and has_driver,
        "why_not_valid": why,
        "enpi": {
            "baseline_tce_per_unit": float(e[in_base].sum()) / base_prod if base_prod else None,
            "reporting_tce_per_unit": float(actual.sum()) / rep_prod if rep_prod else None,
        },
        "reporting": {
            "points": int(in_rep.sum()),
            "points_without_drivers": int((~have).sum()),
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
                "expected_tce": float(x_) if np.isfinite(x_) else None,
                "cusum_tce": float(c),
            }
            for s, a, x_, c in zip(buckets[in_rep], actual, expected, cus, strict=True)
        ],
    }


def _without(
    x: NDArray[np.float64],
    e: NDArray[np.float64],
    in_base: NDArray[np.bool_],
    n_prod: int,
    interval: str,
) -> dict[str, Any]:
    """The same use fitted on production alone over the same points (those with every
    driver known), to show what the degree days add."""
    same = in_base & np.isfinite(x).all(axis=1)
    return _stats(bl.fit(x[same, :n_prod], e[same], interval), interval)


def _opt(v: float | None) -> float | None:
    return None if v is None else float(v)


def _stats(model: bl.Model, interval: str) -> dict[str, Any]:
    return {
        "points": model.n,
        "r2": model.r2,
        "cv_rmse_pct": model.cv_rmse_pct,
        "nmbe_pct": model.nmbe_pct,
        "limit_cv_rmse_pct": bl.ASHRAE14_LIMITS[interval][0],
        "limit_nmbe_pct": bl.ASHRAE14_LIMITS[interval][1],
        "meets_ashrae14": model.valid,
    }


def _degree_days_info(d: DegreeDays | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "meter": d.meter,
        "heating_base_c": d.heating_base_c,
        "cooling_base_c": d.cooling_base_c,
        "method": "per local day: HDD = max(0, base - mean °C), CDD = max(0, mean °C - base); "
        "a month sums its days; an hour is its mean °C over 24",
    }
