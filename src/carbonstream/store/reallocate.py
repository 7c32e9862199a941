"""Restate market-based Scope 2 of stored minutes after the site's instruments changed.

Ingest allocates instruments to consumption as it arrives (first come, first
covered). A certificate allocated afterwards (the usual case: certificates are
claimed for consumption that happened) must cover that stored consumption, so
the API reruns the core's own allocation (``core.market.allocate``) over the
stored (site, minute) rows of every claim period it can touch — the connected
span of overlapping claim periods of the site's instruments — taking back the
allocations made there and allocating again with every instrument, in one
transaction. Location-based Scope 2 and Scope 1 are never touched.

Locks follow ingest's order (instrument usage rows by id, then site minutes by
bucket), so ingest and the API wait for each other instead of double-counting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from carbonstream.config.plant import Instrument, InstrumentType, Period, Plant
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.market import InstrumentSpec, allocate, instrument_specs
from carbonstream.store.common import Cur
from carbonstream.store.db import AsyncConn

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Restated:
    start: dt.datetime
    end: dt.datetime
    minutes: int
    covered_mwh: float


def instruments_of(rows: list[tuple[Any, ...]], site_id: str) -> list[Instrument]:
    """Plant-model instruments from ``instruments`` rows (id, type, mwh, generation, claim, ...)."""
    out = []
    for r in rows:
        out.append(
            Instrument.model_construct(
                id=str(r[0]),
                type=InstrumentType(str(r[1])),
                site=site_id,
                mwh=None if r[2] is None else float(r[2]),
                generation=Period.model_construct(start=r[3], end=r[4]),
                claim=Period.model_construct(start=r[5], end=r[6]),
                emission_factor_t_per_mwh=float(r[7]),
                market=str(r[8]),
                source="",
                serials="",
            )
        )
    return out


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
    rows = await (
        await conn.execute(
            "SELECT id, type, mwh, generation_start, generation_end, claim_start, claim_end,"
            " ef_t_per_mwh, market FROM instruments WHERE site = %s ORDER BY id",
            (site_key,),
        )
    ).fetchall()
    site_index = next(i for i, s in enumerate(plant.sites) if s.id == site_id)
    model = plant.model_copy(update={"instruments": instruments_of(rows, site_id)})
    specs = [s for s in instrument_specs(model) if s.site == site_index]
    ids = [s.id for s in specs]
    this = specs[ids.index(instrument)]
    lo, hi = _span([(s.start_ns, s.end_ns) for s in specs], (this.start_ns, this.end_ns))
    touched = [s for s in specs if s.start_ns < hi and s.end_ns > lo]
    start = _EPOCH + dt.timedelta(microseconds=lo // 1000)
    end = _EPOCH + dt.timedelta(microseconds=hi // 1000)

    usage = await (
        await conn.execute(
            "SELECT instrument, used_mwh FROM instrument_usage WHERE instrument = ANY(%s)"
            " ORDER BY instrument FOR NO KEY UPDATE",
            (sorted(s.id for s in touched),),
        )
    ).fetchall()
    used = {str(i): float(u) for i, u in usage}
    minutes = await (
        await conn.execute(
            "SELECT m.bucket, m.grid_import_mwh, coalesce(l.ef_co2e, 0)"
            " FROM site_minute AS m LEFT JOIN lineage AS l ON l.id = m.residual_lineage_id"
            " WHERE m.site = %s AND m.bucket >= %s AND m.bucket < %s"
            " ORDER BY m.bucket FOR NO KEY UPDATE OF m",
            (site_key, start, end),
        )
    ).fetchall()
    given_back = await (
        await conn.execute(
            "WITH gone AS (DELETE FROM allocations WHERE site = %s AND bucket >= %s"
            " AND bucket < %s RETURNING instrument, mwh)"
            " SELECT instrument, sum(mwh) FROM gone GROUP BY instrument",
            (site_key, start, end),
        )
    ).fetchall()
    for ins, mwh in given_back:
        used[str(ins)] = used.get(str(ins), 0.0) - float(mwh)
    if not minutes:
        await _save_usage(conn, used)
        return Restated(start, end, 0, 0.0)

    buckets = [r[0] for r in minutes]
    bucket_ns = np.array([_ns(b) for b in buckets], dtype=np.int64)
    grid = np.array([float(r[1]) for r in minutes])
    residual_ef = np.array([float(r[2]) for r in minutes])
    site = np.full(len(minutes), site_index, dtype=np.int32)
    mk = allocate(site, bucket_ns, grid, residual_ef, touched, used)
    await conn.execute(
        "UPDATE site_minute AS m SET covered_mwh = u.c, supplier_mwh = u.s, residual_mwh = u.r,"
        " scope2_market_t = u.e + m.scope2_heat_t"
        " FROM unnest(%s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])"
        " AS u (b, c, s, r, e) WHERE m.site = %s AND m.bucket = u.b",
        (
            buckets,
            mk.covered_mwh.tolist(),
            mk.supplier_mwh.tolist(),
            mk.residual_mwh.tolist(),
            mk.emissions_t.tolist(),
            site_key,
        ),
    )
    a = mk.allocation
    if len(a.instrument):
        await conn.execute(
            "INSERT INTO allocations (instrument, site, bucket, mwh)"
            " SELECT u.i, %s, u.b, u.m FROM unnest(%s::text[], %s::timestamptz[], %s::float8[])"
            " AS u (i, b, m)",
            (
                site_key,
                [touched[int(k)].id for k in a.instrument],
                [buckets[int(i)] for i in np.searchsorted(bucket_ns, a.bucket)],
                a.mwh.tolist(),
            ),
        )
    await _save_usage(conn, used)
    return Restated(start, end, len(minutes), float(mk.covered_mwh.sum()))


async def _save_usage(conn: AsyncConn, used: dict[str, float]) -> None:
    if not used:
        return
    ids = sorted(used)
    await conn.execute(
        "UPDATE instrument_usage AS s SET used_mwh = u.used"
        " FROM unnest(%s::text[], %s::float8[]) AS u (id, used) WHERE s.instrument = u.id",
        (ids, [max(used[i], 0.0) for i in ids]),
    )


# --- ingest: instruments from the database -------------------------------------------

VERSION_SQL = "SELECT version FROM ledger_version"
INSTRUMENTS_SQL = (
    "SELECT i.id, i.type, i.mwh, i.generation_start, i.generation_end, i.claim_start,"
    " i.claim_end, i.ef_t_per_mwh, i.market, s.id FROM instruments AS i"
    " JOIN sites AS s ON s.key = i.site ORDER BY i.id"
)


def ledger_version(cur: Cur) -> int:
    row = cur.execute(VERSION_SQL).fetchone()
    return int(row[0]) if row else 0


def load_specs(cur: Cur, plant: Plant) -> list[InstrumentSpec]:
    """Every instrument in the database (the plant file's, synced at start, and the API's),
    as the core's specs in allocation order; instruments of sites not in the plant are skipped."""
    rows = cur.execute(INSTRUMENTS_SQL).fetchall()
    sites = {s.id for s in plant.sites}
    ins = [x for r in rows if str(r[9]) in sites for x in instruments_of([r], str(r[9]))]
    return instrument_specs(plant.model_copy(update={"instruments": ins}))
