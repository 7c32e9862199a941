"""The accounting engine: a batch of readings in, emissions with lineage out.

    readings ─► intervals ─► (meter, bucket) lines ─► x factors ─► (site, bucket) sums
                (deltas,       (split in time)        (per meter-     (Scope 1, Scope 2
                 integration)                          month)          location & market)

No I/O and no Python loop per reading: everything per reading is numpy.
State (last reading per meter, instrument usage) is carried in an
``EngineState`` the caller owns and persists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.config.plant import Plant
from carbonstream.core.batch import NS_PER_S, ReadingBatch
from carbonstream.core.buckets import ALLOWED_BASE_S, Lines, to_lines
from carbonstream.core.calendar import month_starts
from carbonstream.core.intervals import Counts, to_intervals
from carbonstream.core.library import FactorLibrary
from carbonstream.core.market import Allocation, InstrumentSpec, allocate, instrument_specs
from carbonstream.core.meters import MeterParams, Role, build_params
from carbonstream.core.resolve import Lineage, MonthFactors, Resolver
from carbonstream.core.state import EngineState


@dataclass
class EmissionLines:
    """Per (meter, base bucket): quantity, coverage, emissions and the lineage id."""

    lines: Lines
    co2_t: NDArray[np.float64]
    ch4_t: NDArray[np.float64]
    n2o_t: NDArray[np.float64]
    co2e_t: NDArray[np.float64]
    lineage: NDArray[np.int32]
    flags: NDArray[np.uint16]
    non_co2: bool = True  # False when no line has CH4 or N2O (China method): skip those sums

    def __len__(self) -> int:
        return len(self.lines)


# A site's Scope 2: both methods' tCO2e (heat in both), then the imports behind them.
SCOPE2_COLUMNS = (
    "scope2_location_t",
    "scope2_market_t",
    "scope2_heat_t",
    "grid_import_mwh",
    "covered_mwh",
    "supplier_mwh",
    "residual_mwh",
    "heat_import_gj",
)
SITE_COLUMNS = (
    "scope1_t",
    "scope1_co2_t",
    "scope1_ch4_t",
    "scope1_n2o_t",
    *SCOPE2_COLUMNS,
    "grid_export_mwh",
    "heat_export_gj",
    "export_deduction_t",
    "generation_mwh",
    "production",  # output of production meters, in the site's production unit
)


@dataclass
class SiteBuckets:
    """Per (site, base bucket), ordered by bucket then site."""

    site: NDArray[np.int32]
    bucket: NDArray[np.int64]
    values: dict[str, NDArray[np.float64]]
    residual_lineage: NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.site)


@dataclass
class Uncounted:
    """Intervals that were not counted (reset, gap, implausible): each one a flag an
    auditor sees on its meter, not only a number in the quality counts."""

    meter: NDArray[np.int32]
    t0: NDArray[np.int64]
    t1: NDArray[np.int64]
    flags: NDArray[np.uint16]

    def __len__(self) -> int:
        return len(self.meter)


@dataclass
class BatchResult:
    lines: EmissionLines
    sites: SiteBuckets
    allocation: Allocation
    counts: Counts
    uncounted: Uncounted | None = None


class Engine:
    def __init__(self, plant: Plant, library: FactorLibrary, base_s: int = 60) -> None:
        if base_s not in ALLOWED_BASE_S:
            raise ValueError(f"base bucket must be one of {ALLOWED_BASE_S} s, got {base_s}")
        self.plant = plant
        self.library = library
        self.base_ns = base_s * NS_PER_S
        self.params: MeterParams = build_params(plant, library)
        self.resolver = Resolver(plant, library, self.params)
        self.instruments: list[InstrumentSpec] = instrument_specs(plant)
        self._zone = plant.zone

    @property
    def lineages(self) -> list[Lineage]:
        return self.resolver.lineages

    def new_state(self) -> EngineState:
        return EngineState.empty(len(self.params))

    def check_factors(self, year: int) -> None:
        """Fail now, not mid-stream, if any meter lacks a factor for ``year``."""
        self.resolver.check(year)

    def process(self, batch: ReadingBatch, state: EngineState) -> BatchResult:
        iv = to_intervals(batch, self.params, state.meters)
        lines = to_lines(iv, self.base_ns, self.params.scale)
        buckets, line_bucket = _bucket_index(lines.bucket, self.base_ns)
        months, bucket_month = self._months(buckets)
        emission = self._emissions(lines, months, bucket_month[line_bucket])
        sites, allocation = self._sites(emission, buckets, line_bucket, months, bucket_month, state)
        uncounted = None
        if not iv.counted.all():
            sel = np.flatnonzero(~iv.counted)
            uncounted = Uncounted(iv.meter[sel], iv.t0[sel], iv.t1[sel], iv.flags[sel])
        return BatchResult(emission, sites, allocation, iv.counts, uncounted)

    def site_sums(self, lines: EmissionLines, state: EngineState) -> tuple[SiteBuckets, Allocation]:
        """Site sums and instrument allocation of given lines (e.g. a stored bucket rebuilt
        after late data): the same step ``process`` runs, on lines instead of readings."""
        buckets, line_bucket = _bucket_index(lines.lines.bucket, self.base_ns)
        months, bucket_month = self._months(buckets)
        return self._sites(lines, buckets, line_bucket, months, bucket_month, state)

    # --- steps ----------------------------------------------------------------

    def _months(self, bucket: NDArray[np.int64]) -> tuple[list[MonthFactors], NDArray[np.intp]]:
        """The factor months the buckets fall in, and each bucket's slot in that list."""
        if not len(bucket):
            return [], np.empty(0, dtype=np.intp)
        lo = dt.datetime.fromtimestamp(int(bucket.min()) // NS_PER_S, self._zone)
        hi = dt.datetime.fromtimestamp(int(bucket.max()) // NS_PER_S, self._zone)
        starts, labels = month_starts(lo, hi, self._zone)
        if len(starts) == 1:
            return [self.resolver.month(*labels[0])], np.zeros(len(bucket), dtype=np.intp)
        slot = np.searchsorted(starts, bucket, side="right") - 1
        present = np.unique(slot)
        factors = [self.resolver.month(*labels[int(i)]) for i in present]
        return factors, np.searchsorted(present, slot)

    def _emissions(
        self, lines: Lines, months: list[MonthFactors], slot: NDArray[np.intp]
    ) -> EmissionLines:
        m, q = lines.meter, lines.quantity
        if not months:
            z = np.zeros(0)
            return EmissionLines(lines, z, z, z, z, np.zeros(0, np.int32), lines.flags, False)
        non_co2 = any(f.non_co2 for f in months)
        if len(months) == 1:
            f = months[0]
            co2 = q * f.ef_co2[m]
            lin = f.lineage[m]
            flags = lines.flags | f.flags[m] if f.any_flags else lines.flags
            if not non_co2:
                z = np.zeros(len(q))
                return EmissionLines(lines, co2, z, z, co2, lin, flags, False)
            ef_ch4, ef_n2o, ef_co2e = f.ef_ch4[m], f.ef_n2o[m], f.ef_co2e[m]
        else:
            co2 = q * np.stack([f.ef_co2 for f in months])[slot, m]
            ef_ch4 = np.stack([f.ef_ch4 for f in months])[slot, m]
            ef_n2o = np.stack([f.ef_n2o for f in months])[slot, m]
            ef_co2e = np.stack([f.ef_co2e for f in months])[slot, m]
            lin = np.stack([f.lineage for f in months])[slot, m]
            flags = lines.flags | np.stack([f.flags for f in months])[slot, m]
        return EmissionLines(
            lines=lines,
            co2_t=co2,
            ch4_t=q * ef_ch4,
            n2o_t=q * ef_n2o,
            co2e_t=q * ef_co2e,
            lineage=lin,
            flags=flags,
            non_co2=non_co2,
        )

    def _sites(
        self,
        e: EmissionLines,
        buckets: NDArray[np.int64],
        line_bucket: NDArray[np.intp],
        months: list[MonthFactors],
        bucket_month: NDArray[np.intp],
        state: EngineState,
    ) -> tuple[SiteBuckets, Allocation]:
        n_sites = len(self.plant.sites)
        n_roles = len(Role)
        size = len(buckets) * n_sites
        # One gather gives site and role: key = (bucket, site), role_key = (key, role).
        role_key = line_bucket * (n_sites * n_roles) + self.params.site_role[e.lines.meter]
        key = role_key // n_roles

        def by_role(values: NDArray[np.float64]) -> NDArray[np.float64]:
            # One bincount per value array, keyed by (row, role); columns pick roles.
            b = np.bincount(role_key, weights=values, minlength=size * n_roles)
            return np.asarray(b, dtype=np.float64).reshape(size, n_roles)

        zero = np.zeros((size, n_roles))
        tq, te, tco2 = by_role(e.lines.quantity), by_role(e.co2e_t), by_role(e.co2_t)
        tch4 = by_role(e.ch4_t) if e.non_co2 else zero
        tn2o = by_role(e.n2o_t) if e.non_co2 else zero

        def total(table: NDArray[np.float64], *roles: Role) -> NDArray[np.float64]:
            out: NDArray[np.float64] = table[rows, int(roles[0])]
            for r in roles[1:]:
                out = out + table[rows, int(r)]
            return out

        # A site bucket exists where counted time falls; a line that only carries the
        # flags of an uncounted interval (no covered time) makes none: no minute with data.
        timed = e.lines.covered_ns > 0
        counted_key = key if timed.all() else key[timed]  # the common case: no flag-only line
        present = np.bincount(counted_key, minlength=size) > 0
        rows = np.flatnonzero(present)
        site = (rows % n_sites).astype(np.int32)
        row_bucket = rows // n_sites
        bucket = buckets[row_bucket] if len(buckets) else np.empty(0, np.int64)
        v = {
            "scope1_t": total(te, Role.FUEL),
            "scope1_co2_t": total(tco2, Role.FUEL),
            "scope1_ch4_t": total(tch4, Role.FUEL),
            "scope1_n2o_t": total(tn2o, Role.FUEL),
            "scope2_heat_t": total(te, Role.HEAT_IMPORT),
            "grid_import_mwh": total(tq, Role.GRID_IMPORT),
            "heat_import_gj": total(tq, Role.HEAT_IMPORT),
            "grid_export_mwh": total(tq, Role.GRID_EXPORT),
            "heat_export_gj": total(tq, Role.HEAT_EXPORT),
            "export_deduction_t": total(te, Role.GRID_EXPORT, Role.HEAT_EXPORT),
            "generation_mwh": total(tq, Role.GENERATION),
            "production": total(tq, Role.PRODUCTION),
        }
        v["scope2_location_t"] = total(te, Role.GRID_IMPORT) + v["scope2_heat_t"]
        if len(rows):
            slot = bucket_month[row_bucket]
            if len(months) == 1:
                residual_ef = months[0].residual_ef[site]
                residual_lin = months[0].residual_ids[site]
            else:
                residual_ef = np.stack([f.residual_ef for f in months])[slot, site]
                residual_lin = np.stack([f.residual_ids for f in months])[slot, site]
        else:
            residual_ef, residual_lin = np.zeros(0), np.zeros(0, np.int32)
        mk = allocate(
            site,
            bucket,
            v["grid_import_mwh"],
            residual_ef,
            self.instruments,
            state.instrument_used_mwh,
        )
        v["covered_mwh"] = mk.covered_mwh
        v["supplier_mwh"] = mk.supplier_mwh
        v["residual_mwh"] = mk.residual_mwh
        v["scope2_market_t"] = mk.emissions_t + v["scope2_heat_t"]
        return SiteBuckets(site, bucket, v, residual_lin), mk.allocation


_DENSE_LIMIT = 1 << 16


def _bucket_index(
    bucket: NDArray[np.int64], base_ns: int
) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Sorted candidate buckets and each line's index into them.

    A batch usually spans a few minutes: a dense range is then cheaper than a
    sort; a batch that spans long gaps falls back to ``np.unique``.
    """
    if not len(bucket):
        return np.empty(0, np.int64), np.empty(0, np.intp)
    lo, hi = int(bucket.min()), int(bucket.max())
    span = (hi - lo) // base_ns + 1
    if span <= _DENSE_LIMIT:
        return lo + np.arange(span, dtype=np.int64) * base_ns, (bucket - lo) // base_ns
    uniq, inv = np.unique(bucket, return_inverse=True)
    return uniq, inv
