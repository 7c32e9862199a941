"""The storage side of restating market-based Scope 2 after a site's instruments changed.

Statements only: the site's instruments, its usage and stored minutes locked in
ingest's order (instrument usage rows by id, then site minutes by bucket, so ingest
and the API wait for each other instead of double-counting), the allocations taken
back, and the new allocation written. The use case that runs the core's allocation
over them is :mod:`carbonstream.domain.reallocate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from carbonstream.config.plant import Instrument, InstrumentType, Period, Plant
from carbonstream.core.market import InstrumentSpec, instrument_specs
from carbonstream.store.common import Cur
from carbonstream.store.db import AsyncConn


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


async def site_instruments(conn: AsyncConn, site_key: int) -> list[tuple[Any, ...]]:
    """The site's ``instruments`` rows, by id (the shape :func:`instruments_of` reads)."""
    return await (
        await conn.execute(
            "SELECT id, type, mwh, generation_start, generation_end, claim_start, claim_end,"
            " ef_t_per_mwh, market FROM instruments WHERE site = %s ORDER BY id",
            (site_key,),
        )
    ).fetchall()


async def lock_usage(conn: AsyncConn, instruments: Sequence[str]) -> dict[str, float]:
    """MWh used per instrument, its rows locked (by id, ingest's order)."""
    usage = await (
        await conn.execute(
            "SELECT instrument, used_mwh FROM instrument_usage WHERE instrument = ANY(%s)"
            " ORDER BY instrument FOR NO KEY UPDATE",
            (sorted(instruments),),
        )
    ).fetchall()
    return {str(i): float(u) for i, u in usage}


async def lock_minutes(
    conn: AsyncConn, site_key: int, start: dt.datetime, end: dt.datetime
) -> list[tuple[Any, ...]]:
    """(bucket, grid_import_mwh, residual EF) of the site's stored minutes, locked by bucket."""
    return await (
        await conn.execute(
            "SELECT m.bucket, m.grid_import_mwh, coalesce(l.ef_co2e, 0)"
            " FROM site_minute AS m LEFT JOIN lineage AS l ON l.id = m.residual_lineage_id"
            " WHERE m.site = %s AND m.bucket >= %s AND m.bucket < %s"
            " ORDER BY m.bucket FOR NO KEY UPDATE OF m",
            (site_key, start, end),
        )
    ).fetchall()


async def take_back(
    conn: AsyncConn, site_key: int, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, float]]:
    """Delete the site's allocations in [start, end): MWh given back per instrument."""
    rows = await (
        await conn.execute(
            "WITH gone AS (DELETE FROM allocations WHERE site = %s AND bucket >= %s"
            " AND bucket < %s RETURNING instrument, mwh)"
            " SELECT instrument, sum(mwh) FROM gone GROUP BY instrument",
            (site_key, start, end),
        )
    ).fetchall()
    return [(str(i), float(m)) for i, m in rows]


async def write_market(
    conn: AsyncConn,
    site_key: int,
    buckets: Sequence[dt.datetime],
    covered_mwh: Sequence[float],
    supplier_mwh: Sequence[float],
    residual_mwh: Sequence[float],
    electricity_t: Sequence[float],
) -> None:
    """Set the minutes' market-based split; Scope 2 market = electricity_t + their heat."""
    await conn.execute(
        "UPDATE site_minute AS m SET covered_mwh = u.c, supplier_mwh = u.s, residual_mwh = u.r,"
        " scope2_market_t = u.e + m.scope2_heat_t"
        " FROM unnest(%s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])"
        " AS u (b, c, s, r, e) WHERE m.site = %s AND m.bucket = u.b",
        (
            list(buckets),
            list(covered_mwh),
            list(supplier_mwh),
            list(residual_mwh),
            list(electricity_t),
            site_key,
        ),
    )


async def insert_allocations(
    conn: AsyncConn,
    site_key: int,
    instruments: Sequence[str],
    buckets: Sequence[dt.datetime],
    mwh: Sequence[float],
) -> None:
    if not instruments:
        return
    await conn.execute(
        "INSERT INTO allocations (instrument, site, bucket, mwh)"
        " SELECT u.i, %s, u.b, u.m FROM unnest(%s::text[], %s::timestamptz[], %s::float8[])"
        " AS u (i, b, m)",
        (site_key, list(instruments), list(buckets), list(mwh)),
    )


async def save_usage(conn: AsyncConn, used: dict[str, float]) -> None:
    """Store MWh used per instrument (never below 0)."""
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
