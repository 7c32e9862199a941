"""Ranked reduction opportunities: the core's detectors over a plant's meters, each
finding with its meter, hours, energy, tce, tCO2e and cost per year, and a link
to the readings behind it.

Per year: the window's excess scaled to 8 760 hours (idle load), or the last
week's rate x 8 760 h (drift), or a month's shaveable kW x 12 (demand). tCO2e
uses the meter's own emissions per unit in the window (grid power: the
location-based factor, the physical effect of a saved kWh).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.energy import ProductionCalendar, Shift, Weekday
from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core import opportunities as det
from carbonstream.core.energy import EnergyParams
from carbonstream.energy.text import finding_text

ENERGY_KINDS = frozenset({MeterKind.GRID_IMPORT, MeterKind.FUEL, MeterKind.HEAT_IMPORT})
_MWH_TO_KW_PER_QUARTER = 4000.0  # MWh in 15 minutes -> average kW
DEFAULT_CALENDAR = ProductionCalendar(
    shifts=[
        Shift(
            days=[Weekday(d) for d in ("mon", "tue", "wed", "thu", "fri")],
            start="08:00",
            end="24:00",
        )
    ]
)


@dataclass(frozen=True)
class Window:
    """The data the detectors look at: energy meters x 15-minute steps."""

    meters: list[int]  # dense meter index (EnergyParams / plant.meters order)
    quarters: NDArray[np.float64]  # (meter, quarter) canonical units, NaN = no data
    t0_ns: int  # UTC start, a whole hour
    ef: NDArray[np.float64]  # per meter: tCO2e per canonical unit in the window


def energy_meters(plant: Plant) -> list[int]:
    return [i for i, m in enumerate(plant.meters) if m.kind in ENERGY_KINDS]


def _price(plant: Plant, kind: MeterKind, unit: str) -> float | None:
    """yuan per canonical unit, when the tariff is given."""
    t = plant.energy.tariffs
    if kind is MeterKind.GRID_IMPORT:
        return None if t.electricity_yuan_per_kwh is None else t.electricity_yuan_per_kwh * 1000
    if kind is MeterKind.HEAT_IMPORT:
        return t.heat_yuan_per_gj
    if unit == "Nm3":
        return t.natural_gas_yuan_per_nm3
    return t.fuel_yuan_per_t


def _slots(flag_how: NDArray[np.bool_]) -> str:
    """168 hour-of-week flags as 'sat 00:00-24:00, sun 00:00-24:00'."""
    parts = []
    for d, name in enumerate(w.value for w in Weekday):
        day = flag_how[d * 24 : d * 24 + 24]
        edges = np.diff(np.concatenate([[0], day.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            parts.append(f"{name} {a:02d}:00-{b:02d}:00")
    return ", ".join(parts)


def _typical(mask: NDArray[np.bool_], how: NDArray[np.int64]) -> str:
    """The hours of the week flagged in at least half of their occurrences."""
    hits = np.bincount(how[mask], minlength=det.HOURS_PER_WEEK)
    seen = np.bincount(how, minlength=det.HOURS_PER_WEEK)
    return _slots((seen > 0) & (hits * 2 >= np.maximum(seen, 1)) & (hits > 0))


def evidence(meter: str, start: dt.datetime, end: dt.datetime, zone: Any) -> str:
    q = urlencode(
        {
            "bucket": "hour",
            "start": start.astimezone(zone).isoformat(),
            "end": end.astimezone(zone).isoformat(),
        }
    )
    return f"/v1/meters/{meter}/emissions?{q}"


def site_evidence(site: str, at: dt.datetime, zone: Any) -> str:
    """The site's 15-minute series two hours either side of a peak."""
    around = dt.timedelta(hours=2)
    q = urlencode(
        {
            "bucket": "15min",
            "site": site,
            "start": (at - around).astimezone(zone).isoformat(),
            "end": (at + around).astimezone(zone).isoformat(),
        }
    )
    return f"/v1/emissions?{q}"


def find(ep: EnergyParams, w: Window) -> list[dict[str, Any]]:
    """Every opportunity in the window, ranked by tCO2e per year, then cost."""
    plant = ep.plant
    rules = plant.energy.opportunities
    zone = plant.zone
    hours = det.to_hours(w.quarters)
    n_h = hours.shape[1]
    if n_h == 0 or not w.meters:
        return []
    c = det.clock(w.t0_ns, n_h, 3600, zone)
    on = det.producing(c, plant.energy.calendar or DEFAULT_CALENDAR)
    idle = det.idle_load(hours, on, rules)
    ref = np.arange(n_h) < rules.reference_days * 24
    dr = det.drift(hours, c.hour_of_week, ref, rules, exclude=idle.mask)
    observed_h = np.maximum(np.isfinite(hours).sum(axis=1), 1)
    start, end = c.start(0), c.start(n_h - 1) + dt.timedelta(hours=1)
    out: list[dict[str, Any]] = []

    def add(k: int, kind: str, per_year: float, extra: dict[str, Any], lo: int, hi: int) -> None:
        i = w.meters[k]
        m = plant.meters[i]
        coef = ep.coefficients[i]
        unit = coef.quantity_unit if coef else ""
        price = _price(plant, m.kind, unit)
        out.append(
            {
                "kind": kind,
                "meter": m.id,
                "site": m.site,
                "title": finding_text(kind)["title"],
                "action": finding_text(kind)["action"],
                "energy_per_year": per_year,
                "energy_unit": unit,
                "tce_per_year": per_year * float(ep.tce_per_unit[i]),
                "tco2e_per_year": per_year * float(w.ef[k]),
                "cost_yuan_per_year": None if price is None else per_year * price,
                "first": c.start(lo).astimezone(zone).isoformat(),
                "last": (c.start(hi) + dt.timedelta(hours=1)).astimezone(zone).isoformat(),
                "evidence": evidence(m.id, start, end, zone),
            }
            | extra
        )

    for k in np.flatnonzero(idle.mask.any(axis=1)):
        flagged = np.flatnonzero(idle.mask[k])
        energy = float(idle.excess[k].sum())
        add(
            int(k),
            "idle_load",
            energy * det.HOURS_PER_YEAR / float(observed_h[k]),
            {
                "hours": _typical(idle.mask[k], c.hour_of_week),
                "flagged_hours": len(flagged),
                "detail": {
                    "quiescent_per_hour": float(idle.quiescent[k]),
                    "operating_median_per_hour": float(idle.operating[k]),
                    "excess_in_window": energy,
                    "observed_hours": int(observed_h[k]),
                },
            },
            int(flagged[0]),
            int(flagged[-1]),
        )
    for k in np.flatnonzero(dr.found):
        flagged = np.flatnonzero(dr.mask[k])
        add(
            int(k),
            "drift",
            float(dr.excess_per_hour[k]) * det.HOURS_PER_YEAR,
            {
                # Language-neutral (the page shows it as is in zh-CN and en): from then on.
                "hours": "≥ " + c.start(int(dr.start[k])).astimezone(zone).isoformat(),
                "flagged_hours": len(flagged),
                "detail": {
                    "excess_per_hour": float(dr.excess_per_hour[k]),
                    "expected_mean_per_hour": float(np.nanmean(dr.expected[k])),
                    "reference_days": rules.reference_days,
                },
            },
            int(dr.start[k]),
            int(flagged[-1]),
        )
    out += _demand(ep, w, c, rules, start, end)
    out = [o for o in out if o["tco2e_per_year"] >= rules.min_tco2e_per_year or o["kind"] in DEMAND]
    out.sort(key=lambda o: (-o["tco2e_per_year"], -(o["cost_yuan_per_year"] or 0.0)))
    for r, o in enumerate(out, start=1):
        o["rank"] = r
    return out


DEMAND = frozenset({"demand_peak", "flexible_peak"})


def _demand(
    ep: EnergyParams,
    w: Window,
    c_h: det.Clock,
    rules: Any,
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, Any]]:
    """Site demand peaks and what moving each flexible load would save (15-min kW)."""
    plant = ep.plant
    zone = plant.zone
    tariff = plant.energy.tariffs.demand_yuan_per_kw_month
    grid = [k for k, i in enumerate(w.meters) if plant.meters[i].kind is MeterKind.GRID_IMPORT]
    if not grid:
        return []
    q = w.quarters.shape[1]
    cq = det.clock(w.t0_ns, q, 900, zone)
    sites = [s.id for s in plant.sites]
    site_of = np.array([sites.index(plant.meters[w.meters[k]].site) for k in grid])
    kw = np.nan_to_num(w.quarters[grid]) * _MWH_TO_KW_PER_QUARTER
    site_kw = np.zeros((len(sites), q))
    np.add.at(site_kw, site_of, kw)
    has = np.zeros(len(sites), dtype=bool)
    has[site_of] = True
    out: list[dict[str, Any]] = []
    for p in det.demand_peaks(np.where(has[:, None], site_kw, np.nan), cq.month, rules):
        shave = p.peak_kw - p.level_kw
        at = cq.start(p.at)
        out.append(
            {
                "kind": "demand_peak",
                "meter": None,
                "site": sites[p.row],
                "title": finding_text("demand_peak")["title"],
                "action": finding_text("demand_peak")["action"],
                "energy_per_year": 0.0,
                "energy_unit": "MWh",
                "tce_per_year": 0.0,
                "tco2e_per_year": 0.0,
                "cost_yuan_per_year": None if tariff is None else shave * tariff * 12,
                "hours": at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "flagged_hours": 0,
                "first": at.astimezone(zone).isoformat(),
                "last": (at + dt.timedelta(minutes=15)).astimezone(zone).isoformat(),
                "detail": {"peak_kw": p.peak_kw, "level_kw": p.level_kw, "shaveable_kw": shave},
                "evidence": site_evidence(sites[p.row], at, zone),
            }
        )
    index = {plant.meters[i].id: k for k, i in enumerate(w.meters)}
    for f in plant.energy.flexible_loads:
        if f.meter is None or f.meter not in index:
            continue
        k = index[f.meter]
        if k not in grid:
            continue
        s = sites.index(f.site)
        saved = det.peak_saving_kw(site_kw[s], kw[grid.index(k)], cq.month)
        kw_saved = float(saved.mean()) if len(saved) else 0.0
        if kw_saved < det.PEAK_MIN_FRACTION * float(site_kw[s].max()):
            continue
        out.append(
            {
                "kind": "flexible_peak",
                "meter": f.meter,
                "site": f.site,
                "title": finding_text("flexible_peak")["title"],
                "action": finding_text("flexible_peak")["action"],
                "energy_per_year": 0.0,
                "energy_unit": "MWh",
                "tce_per_year": 0.0,
                "tco2e_per_year": 0.0,
                "cost_yuan_per_year": None if tariff is None else kw_saved * tariff * 12,
                "hours": f"{f.hours} h, {f.earliest}-{f.latest_end}",
                "flagged_hours": 0,
                "first": start.astimezone(zone).isoformat(),
                "last": end.astimezone(zone).isoformat(),
                "detail": {"billed_kw_saved": kw_saved, "flexible_load": f.id},
                "evidence": evidence(f.meter, start, end, zone),
            }
        )
    return out


def window_from_lines(
    plant: Plant,
    meter: NDArray[np.intp],
    bucket_ns: NDArray[np.int64],
    quantity: NDArray[np.float64],
    co2e_t: NDArray[np.float64],
    t0_ns: int,
    n_quarters: int,
) -> Window:
    """The detectors' window from (meter, minute bucket) lines, as the engine makes them."""
    meters = energy_meters(plant)
    row = np.full(len(plant.meters), -1, dtype=np.intp)
    row[meters] = np.arange(len(meters))
    q = (bucket_ns - t0_ns) // (900 * 1_000_000_000)
    keep = (row[meter] >= 0) & (q >= 0) & (q < n_quarters)
    r, qq = row[meter[keep]], q[keep].astype(np.intp)
    sums = np.zeros((len(meters), n_quarters))
    seen = np.zeros((len(meters), n_quarters), dtype=bool)
    np.add.at(sums, (r, qq), quantity[keep])
    seen[r, qq] = True
    qty = np.bincount(r, weights=quantity[keep], minlength=len(meters))
    co2 = np.bincount(r, weights=co2e_t[keep], minlength=len(meters))
    with np.errstate(all="ignore"):
        ef = np.where(qty > 0, co2 / qty, 0.0)
    return Window(meters, np.where(seen, sums, np.nan), t0_ns, ef)
