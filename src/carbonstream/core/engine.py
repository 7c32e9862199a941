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

    def __len__(self) -> int:
        return len(self.lines)


SITE_COLUMNS = (
    "scope1_t",
    "scope1_co2_t",
    "scope1_ch4_t",
    "scope1_n2o_t",
    "scope2_location_t",
    "scope2_market_t",
    "scope2_heat_t",
    "grid_import_mwh",
    "covered_mwh",
    "supplier_mwh",
    "residual_mwh",
    "heat_import_gj",
    "grid_export_mwh",
    "heat_export_gj",
    "export_deduction_t",
    "generation_mwh",
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
class BatchResult:
    lines: EmissionLines
    sites: SiteBuckets
    allocation: Allocation
    counts: Counts


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
        lines = to_lines(iv, self.base_ns)
        months, slot = self._months(lines.bucket)
        emission = self._emissions(lines, months, slot)
        sites = self._sites(emission, months, state)
        return BatchResult(emission, sites[0], sites[1], iv.counts)

    def site_sums(self, lines: EmissionLines, state: EngineState) -> tuple[SiteBuckets, Allocation]:
        """Site sums and instrument allocation of given lines (e.g. a stored bucket rebuilt
        after late data): the same step ``process`` runs, on lines instead of readings."""
        months, _ = self._months(lines.lines.bucket)
        return self._sites(lines, months, state)

    # --- steps ----------------------------------------------------------------

    def _months(self, bucket: NDArray[np.int64]) -> tuple[list[MonthFactors], NDArray[np.intp]]:
        if not len(bucket):
            return [], np.empty(0, dtype=np.intp)
        lo = dt.datetime.fromtimestamp(int(bucket.min()) // NS_PER_S, self._zone)
        hi = dt.datetime.fromtimestamp(int(bucket.max()) // NS_PER_S, self._zone)
        starts, labels = month_starts(lo, hi, self._zone)
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
            return EmissionLines(lines, z, z, z, z, np.zeros(0, np.int32), lines.flags)
        if len(months) == 1:
            f = months[0]
            ef_co2, ef_ch4, ef_n2o = f.ef_co2[m], f.ef_ch4[m], f.ef_n2o[m]
            ef_co2e, lin, fl = f.ef_co2e[m], f.lineage[m], f.flags[m]
        else:
            ef_co2 = np.stack([f.ef_co2 for f in months])[slot, m]
            ef_ch4 = np.stack([f.ef_ch4 for f in months])[slot, m]
            ef_n2o = np.stack([f.ef_n2o for f in months])[slot, m]
            ef_co2e = np.stack([f.ef_co2e for f in months])[slot, m]
            lin = np.stack([f.lineage for f in months])[slot, m]
            fl = np.stack([f.flags for f in months])[slot, m]
        return EmissionLines(
            lines=lines,
            co2_t=q * ef_co2,
            ch4_t=q * ef_ch4,
            n2o_t=q * ef_n2o,
            co2e_t=q * ef_co2e,
            lineage=lin,
            flags=lines.flags | fl,
        )

    def _sites(
        self, e: EmissionLines, months: list[MonthFactors], state: EngineState
    ) -> tuple[SiteBuckets, Allocation]:
        n_sites = len(self.plant.sites)
        buckets, inv = np.unique(e.lines.bucket, return_inverse=True)
        site_of_line = self.params.site[e.lines.meter]
        key = inv * n_sites + site_of_line
        size = len(buckets) * n_sites
        role = self.params.role[e.lines.meter]

        def total(values: NDArray[np.float64], *roles: Role) -> NDArray[np.float64]:
            w = np.where(np.isin(role, [int(r) for r in roles]), values, 0.0)
            return np.asarray(np.bincount(key, weights=w, minlength=size), dtype=np.float64)

        present = np.bincount(key, minlength=size) > 0
        rows = np.flatnonzero(present)
        site = (rows % n_sites).astype(np.int32)
        bucket = buckets[rows // n_sites] if len(buckets) else np.empty(0, np.int64)
        q, co2e = e.lines.quantity, e.co2e_t
        v = {
            "scope1_t": total(co2e, Role.FUEL)[rows],
            "scope1_co2_t": total(e.co2_t, Role.FUEL)[rows],
            "scope1_ch4_t": total(e.ch4_t, Role.FUEL)[rows],
            "scope1_n2o_t": total(e.n2o_t, Role.FUEL)[rows],
            "scope2_heat_t": total(co2e, Role.HEAT_IMPORT)[rows],
            "grid_import_mwh": total(q, Role.GRID_IMPORT)[rows],
            "heat_import_gj": total(q, Role.HEAT_IMPORT)[rows],
            "grid_export_mwh": total(q, Role.GRID_EXPORT)[rows],
            "heat_export_gj": total(q, Role.HEAT_EXPORT)[rows],
            "export_deduction_t": total(co2e, Role.GRID_EXPORT, Role.HEAT_EXPORT)[rows],
            "generation_mwh": total(q, Role.GENERATION)[rows],
        }
        v["scope2_location_t"] = total(co2e, Role.GRID_IMPORT)[rows] + v["scope2_heat_t"]
        residual_ef, residual_lin = self._residual(bucket, site, months)
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

    def _residual(
        self, bucket: NDArray[np.int64], site: NDArray[np.int32], months: list[MonthFactors]
    ) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
        if not len(bucket):
            return np.zeros(0), np.zeros(0, np.int32)
        _, slot = self._months(bucket)
        ef = np.stack([f.residual_ef for f in months])
        lin = np.array([[x.id for x in f.residual_lineage] for f in months], dtype=np.int32)
        return ef[slot, site], lin[slot, site]
