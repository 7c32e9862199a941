"""Market-based Scope 2: allocate contractual instruments to grid consumption.

GHG Protocol Scope 2 Guidance hierarchy: energy attribute certificates and
direct contracts first (GECs, green-power trades, PPAs), then a
supplier-specific rate, then the residual mix for what is left.

Rules enforced here:
- an instrument covers only consumption of its own site inside its claim
  period (default: its generation period), and never more than its MWh;
- consumption is covered in time order (first come, first covered) and,
  among instruments, the one whose claim period ends first is used first, so
  certificates about to lapse are not wasted;
- an instrument never creates negative emissions: a surplus stays unused and is
  reported;
- location-based Scope 2 is never touched by instruments.

Allocation works on (site, bucket) sums, a few thousand rows per batch, not on
readings. Because coverage is first-come, period totals do not depend on how
a time-ordered stream is split into batches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import assert_never
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import InstrumentType, Plant
from carbonstream.core.batch import NS_PER_S


@dataclass(frozen=True)
class InstrumentSpec:
    id: str
    type: InstrumentType
    site: int
    start_ns: int  # claim period [start, end) in UTC ns
    end_ns: int
    mwh: float  # inf for a supplier factor
    ef: float  # tCO2/MWh of the covered power


@dataclass
class Allocation:
    instrument: NDArray[np.int32]
    site: NDArray[np.int32]
    bucket: NDArray[np.int64]
    mwh: NDArray[np.float64]


@dataclass
class MarketResult:
    covered_mwh: NDArray[np.float64]  # per (site, bucket) row: covered by EACs / contracts
    supplier_mwh: NDArray[np.float64]
    residual_mwh: NDArray[np.float64]
    emissions_t: NDArray[np.float64]
    allocation: Allocation


def instrument_specs(plant: Plant) -> list[InstrumentSpec]:
    zone = ZoneInfo(plant.timezone)
    site_index = {s.id: i for i, s in enumerate(plant.sites)}
    specs = []
    for ins in plant.instruments:
        period = ins.claim_period
        specs.append(
            InstrumentSpec(
                id=ins.id,
                type=ins.type,
                site=site_index[ins.site],
                start_ns=_local_midnight_ns(period.start, zone),
                end_ns=_local_midnight_ns(period.end + dt.timedelta(days=1), zone),
                mwh=float("inf") if ins.mwh is None else ins.mwh,
                ef=ins.emission_factor_t_per_mwh,
            )
        )
    # Certificates and contracts before supplier rates; earliest-ending first.
    specs.sort(key=lambda s: (s.type is InstrumentType.SUPPLIER_FACTOR, s.end_ns, s.id))
    return specs


def _local_midnight_ns(day: dt.date, zone: ZoneInfo) -> int:
    local = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    return int(local.timestamp()) * NS_PER_S


def allocate(
    site: NDArray[np.int32],
    bucket: NDArray[np.int64],
    grid_mwh: NDArray[np.float64],
    residual_ef: NDArray[np.float64],
    specs: list[InstrumentSpec],
    used_mwh: dict[str, float],
) -> MarketResult:
    """Allocate over rows sorted by bucket; updates ``used_mwh`` in place."""
    remaining = np.maximum(grid_mwh, 0.0).copy()
    covered = np.zeros(len(site))
    covered_t = np.zeros(len(site))
    supplier = np.zeros(len(site))
    parts: list[tuple[int, NDArray[np.intp], NDArray[np.float64]]] = []
    for k, spec in enumerate(specs):
        rows = np.flatnonzero(
            (site == spec.site)
            & (bucket >= spec.start_ns)
            & (bucket < spec.end_ns)
            & (remaining > 0)
        )
        if not len(rows):
            continue
        avail = spec.mwh - used_mwh.get(spec.id, 0.0)
        if avail <= 0:
            continue
        need = np.cumsum(remaining[rows])
        cum = np.minimum(need, avail)
        # Rows fully covered take exactly what they need (no float dust left behind).
        take = np.where(need <= avail, remaining[rows], np.diff(cum, prepend=0.0))
        remaining[rows] -= take
        match spec.type:
            case InstrumentType.SUPPLIER_FACTOR:
                supplier[rows] += take
            case InstrumentType.GEC | InstrumentType.GREEN_POWER_TRADE | InstrumentType.PPA:
                covered[rows] += take
                used_mwh[spec.id] = used_mwh.get(spec.id, 0.0) + float(cum[-1])
            case _:
                assert_never(spec.type)
        covered_t[rows] += take * spec.ef
        nz = take > 0
        parts.append((k, rows[nz], take[nz]))
    remaining = np.maximum(remaining, 0.0)  # float dust from the subtractions
    emissions = covered_t + remaining * residual_ef
    alloc = Allocation(
        instrument=np.concatenate(
            [np.full(len(r), k, dtype=np.int32) for k, r, _ in parts] or [np.empty(0, np.int32)]
        ),
        site=np.concatenate([site[r] for _, r, _ in parts] or [np.empty(0, np.int32)]),
        bucket=np.concatenate([bucket[r] for _, r, _ in parts] or [np.empty(0, np.int64)]),
        mwh=np.concatenate([t for _, _, t in parts] or [np.empty(0)]),
    )
    return MarketResult(covered, supplier, remaining, emissions, alloc)
