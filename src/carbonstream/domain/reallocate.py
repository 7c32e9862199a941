"""Restate market-based Scope 2 of stored minutes after the site's instruments changed.

Ingest allocates instruments to consumption as it arrives (first come, first
covered). A certificate allocated afterwards (the usual case: certificates are
claimed for consumption that happened) must cover that stored consumption, so
the API reruns the core's own allocation (``core.market.allocate``) over the
stored (site, minute) rows of every claim period it can touch — the connected
span of overlapping claim periods of the site's instruments — taking back the
allocations made there and allocating again with every instrument, in one
transaction. Location-based Scope 2 and Scope 1 are never touched. The statements
(and the lock order they keep with ingest) are :mod:`carbonstream.store.reallocate`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from carbonstream.config.plant import Plant
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.market import allocate, instrument_specs
from carbonstream.store import reallocate as q
from carbonstream.store.db import AsyncConn

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Restated:
    start: dt.datetime
    end: dt.datetime
    minutes: int
    covered_mwh: float


def _span(claims: list[tuple[int, int]], first: tuple[int, int]) -> tuple[int, int]:
    """The connected span of overlapping [start, end) periods that contains ``first``."""
    lo, hi = first
    grown = True
    while grown:
        grown = False
        for s, e in claims:
            if s < hi and e > lo and (s < lo or e > hi):
                lo, hi = min(lo, s), max(hi, e)
                grown = True
    return lo, hi


def _ns(t: dt.datetime) -> int:
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * NS_PER_S + d.microseconds * 1000


async def restate(
    conn: AsyncConn, plant: Plant, site_id: str, site_key: int, instrument: str
) -> Restated:
    """Reallocate the site's instruments over the span ``instrument``'s claim period touches.

    Runs inside the caller's transaction.
    """
    rows = await q.site_instruments(conn, site_key)
    site_index = next(i for i, s in enumerate(plant.sites) if s.id == site_id)
    model = plant.model_copy(update={"instruments": q.instruments_of(rows, site_id)})
    specs = [s for s in instrument_specs(model) if s.site == site_index]
    ids = [s.id for s in specs]
    this = specs[ids.index(instrument)]
    lo, hi = _span([(s.start_ns, s.end_ns) for s in specs], (this.start_ns, this.end_ns))
    touched = [s for s in specs if s.start_ns < hi and s.end_ns > lo]
    start = _EPOCH + dt.timedelta(microseconds=lo // 1000)
    end = _EPOCH + dt.timedelta(microseconds=hi // 1000)

    used = await q.lock_usage(conn, [s.id for s in touched])
    minutes = await q.lock_minutes(conn, site_key, start, end)
    for ins, mwh in await q.take_back(conn, site_key, start, end):
        used[ins] = used.get(ins, 0.0) - mwh
    if not minutes:
        await q.save_usage(conn, used)
        return Restated(start, end, 0, 0.0)

    buckets = [r[0] for r in minutes]
    bucket_ns = np.array([_ns(b) for b in buckets], dtype=np.int64)
    grid = np.array([float(r[1]) for r in minutes])
    residual_ef = np.array([float(r[2]) for r in minutes])
    site = np.full(len(minutes), site_index, dtype=np.int32)
    mk = allocate(site, bucket_ns, grid, residual_ef, touched, used)
    await q.write_market(
        conn,
        site_key,
        buckets,
        mk.covered_mwh.tolist(),
        mk.supplier_mwh.tolist(),
        mk.residual_mwh.tolist(),
        mk.emissions_t.tolist(),
    )
    a = mk.allocation
    await q.insert_allocations(
        conn,
        site_key,
        [touched[int(k)].id for k in a.instrument],
        [buckets[int(i)] for i in np.searchsorted(bucket_ns, a.bucket)],
        a.mwh.tolist(),
    )
    await q.save_usage(conn, used)
    return Restated(start, end, len(minutes), float(mk.covered_mwh.sum()))
