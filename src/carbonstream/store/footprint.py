"""Lots, bills of materials, upstream factors, and a production line's minute series.

The line's series is read from the stored account: its meters' emission lines (Scope 1 of
fuel meters, location-based Scope 2 of grid and heat imports, with quantities) and, for
market-based Scope 2, the site's market-based tonnes per grid MWh of the same minute
(instruments cover a site's consumption in time order, not a meter's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from psycopg.types.json import Jsonb

from carbonstream.config.plant import MeterKind, Plant
from carbonstream.core.allocation import FUEL_PREFIX, LineSeries
from carbonstream.core.lots import Lot
from carbonstream.core.upstream import Bom, BomLine, UpstreamFactor
from carbonstream.store.db import AsyncConn

_SELECT_LOTS = (
    "SELECT id, product, line, start_ts, end_ts, quantity, declared_unit, given_quantity,"
    " given_unit, source FROM lots"
)


def _lot(r: Sequence[object]) -> Lot:
    return Lot(
        id=str(r[0]),
        product=str(r[1]),
        line=str(r[2]),
        start=r[3],  # type: ignore[arg-type]
        end=r[4],  # type: ignore[arg-type]
        quantity=float(r[5]),  # type: ignore[arg-type]
        declared_unit=str(r[6]),
        given_quantity=float(r[7]),  # type: ignore[arg-type]
        given_unit=str(r[8]),
        source=str(r[9]),
    )


async def insert_lots(conn: AsyncConn, lots: Sequence[Lot], who: str) -> None:
    """All or nothing (the caller's transaction); a known lot id raises UniqueViolation."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO lots (id, product, line, start_ts, end_ts, quantity, declared_unit,"
            " given_quantity, given_unit, source, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    x.id,
                    x.product,
                    x.line,
                    x.start,
                    x.end,
                    x.quantity,
                    x.declared_unit,
                    x.given_quantity,
                    x.given_unit,
                    x.source,
                    who,
                )
                for x in lots
            ],
        )


async def known_lot_ids(conn: AsyncConn, ids: Sequence[str]) -> list[str]:
    rows = await (
        await conn.execute("SELECT id FROM lots WHERE id = ANY(%s) ORDER BY id", (list(ids),))
    ).fetchall()
    return [str(r[0]) for r in rows]


async def get_lot(conn: AsyncConn, lot_id: str) -> Lot | None:
    row = await (await conn.execute(_SELECT_LOTS + " WHERE id = %s", (lot_id,))).fetchone()
    return None if row is None else _lot(row)


async def lots_overlapping(
    conn: AsyncConn, line: str, start: dt.datetime, end: dt.datetime
) -> list[Lot]:
    rows = await (
        await conn.execute(
            _SELECT_LOTS + " WHERE line = %s AND start_ts < %s AND end_ts > %s"
            " ORDER BY start_ts, id",
            (line, end, start),
        )
    ).fetchall()
    return [_lot(r) for r in rows]


async def lots_ending(
    conn: AsyncConn, products: Sequence[str] | None, start: dt.datetime, end: dt.datetime
) -> list[Lot]:
    """Lots that ended in (start, end]: a lot belongs to the period it was finished in."""
    rows = await (
        await conn.execute(
            _SELECT_LOTS + " WHERE (%(p)s::text[] IS NULL OR product = ANY(%(p)s))"
            " AND end_ts > %(s)s AND end_ts <= %(e)s ORDER BY end_ts, id",
            {"p": list(products) if products is not None else None, "s": start, "e": end},
        )
    ).fetchall()
    return [_lot(r) for r in rows]


async def list_lots(
    conn: AsyncConn, product: str | None, start: dt.datetime, end: dt.datetime, limit: int
) -> list[Lot]:
    rows = await (
        await conn.execute(
            _SELECT_LOTS + " WHERE (%(p)s::text IS NULL OR product = %(p)s)"
            " AND start_ts < %(e)s AND end_ts > %(s)s ORDER BY start_ts, id LIMIT %(n)s",
            {"p": product, "s": start, "e": end, "n": limit},
        )
    ).fetchall()
    return [_lot(r) for r in rows]


# --- upstream factors and bills of materials ----------------------------------------------


async def insert_factors(conn: AsyncConn, rows: Sequence[UpstreamFactor], who: str) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO upstream_factors (id, version, kind, subject, row, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (f.id, f.version, f.kind.value, f.subject, Jsonb(f.model_dump(mode="json")), who)
                for f in rows
            ],
        )


async def stored_factors(conn: AsyncConn) -> list[UpstreamFactor]:
    rows = await (
        await conn.execute("SELECT row FROM upstream_factors ORDER BY id, version")
    ).fetchall()
    return [UpstreamFactor.model_validate(r[0]) for r in rows]


async def insert_bom(
    conn: AsyncConn, product: str, valid_from: dt.date, lines: Sequence[BomLine], who: str
) -> int:
    """A new version of the product's bill of materials; returns its version."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('boms:' || %s))", (product,))
    row = await (
        await conn.execute(
            "INSERT INTO boms (product, version, valid_from, lines, created_by)"
            " SELECT %s, coalesce(max(version), 0) + 1, %s, %s, %s FROM boms WHERE product = %s"
            " RETURNING version",
            (
                product,
                valid_from,
                Jsonb([x.model_dump(mode="json") for x in lines]),
                who,
                product,
            ),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def boms(conn: AsyncConn, products: Sequence[str] | None = None) -> dict[str, list[Bom]]:
    rows = await (
        await conn.execute(
            "SELECT product, version, valid_from, lines FROM boms"
            " WHERE %(p)s::text[] IS NULL OR product = ANY(%(p)s) ORDER BY product, version",
            {"p": list(products) if products is not None else None},
        )
    ).fetchall()
    out: dict[str, list[Bom]] = {}
    for r in rows:
        lines = tuple(BomLine.model_validate(x) for x in r[3])
        out.setdefault(str(r[0]), []).append(Bom(str(r[0]), int(r[1]), r[2], lines))
    return out


# --- a line's minute series -----------------------------------------------------------------

_LINE_SQL = """
SELECT m.id, extract(epoch FROM e.bucket)::bigint, sum(e.quantity), sum(e.co2e_t)
FROM emission_lines AS e JOIN meters AS m ON m.key = e.meter
WHERE m.id = ANY(%(meters)s) AND e.bucket >= %(start)s AND e.bucket < %(end)s
GROUP BY 1, 2
"""
_LINEAGE_SQL = """
SELECT DISTINCT e.lineage_id FROM emission_lines AS e JOIN meters AS m ON m.key = e.meter
WHERE m.id = ANY(%(meters)s) AND e.bucket >= %(start)s AND e.bucket < %(end)s
ORDER BY 1
"""
_SITE_SQL = """
SELECT extract(epoch FROM s.bucket)::bigint, s.scope2_market_t - s.scope2_heat_t,
       s.grid_import_mwh
FROM site_minute AS s JOIN sites AS x ON x.key = s.site
WHERE x.id = %(site)s AND s.bucket >= %(start)s AND s.bucket < %(end)s
"""


def line_meters(plant: Plant, line: str) -> list[tuple[str, str, MeterKind, str | None]]:
    """(meter, site, kind, fuel) of the line's emission meters."""
    kinds = (MeterKind.FUEL, MeterKind.GRID_IMPORT, MeterKind.HEAT_IMPORT)
    return [
        (m.id, m.site, m.kind, str(m.fuel) if m.fuel is not None else None)
        for m in plant.meters
        if m.line == line and m.kind in kinds
    ]


def minute_floor(t: dt.datetime) -> int:
    s = int(t.timestamp())
    return s - s % 60


async def line_series(
    conn: AsyncConn, plant: Plant, line: str, start: dt.datetime, end: dt.datetime
) -> LineSeries:
    """The line's dense minute grid over [start, end) (bucket edges widened to minutes)."""
    meters = line_meters(plant, line)
    site = next((m[1] for m in meters), None) or next(
        m.site for m in plant.meters if m.line == line
    )
    t0 = minute_floor(start)
    t1 = minute_floor(end) + (60 if int(end.timestamp()) % 60 else 0)
    n = max((t1 - t0) // 60, 0)
    buckets = np.arange(n, dtype=np.int64) * 60 + t0
    cols: dict[str, np.ndarray] = {}

    def col(name: str) -> np.ndarray:
        if name not in cols:
            cols[name] = np.zeros(n)
        return cols[name]

    for name in ("scope1_t", "grid_location_t", "grid_market_t", "heat_t", "grid_mwh"):
        col(name)
    by_id = {m[0]: m for m in meters}
    lo = dt.datetime.fromtimestamp(t0, dt.UTC)
    hi = dt.datetime.fromtimestamp(t1, dt.UTC)
    params = {"meters": list(by_id), "start": lo, "end": hi}
    rows = await (await conn.execute(_LINE_SQL, params)).fetchall() if by_id else []
    for meter, ts, qty, co2e in rows:
        i = (int(ts) - t0) // 60
        _, _, kind, fuel = by_id[str(meter)]
        match kind:
            case MeterKind.FUEL:
                col("scope1_t")[i] += float(co2e)
                col(FUEL_PREFIX + str(fuel))[i] += float(qty)
            case MeterKind.GRID_IMPORT:
                col("grid_location_t")[i] += float(co2e)
                col("grid_mwh")[i] += float(qty)
            case MeterKind.HEAT_IMPORT:
                col("heat_t")[i] += float(co2e)
            case _:
                raise AssertionError(f"meter kind {kind} is not an emission meter of a line")
    if np.any(cols["grid_mwh"] > 0):
        srows = await (await conn.execute(_SITE_SQL, {**params, "site": site})).fetchall()
        if srows:
            idx = (np.array([int(r[0]) for r in srows]) - t0) // 60
            market = np.array([float(r[1] or 0.0) for r in srows])
            mwh = np.array([float(r[2] or 0.0) for r in srows])
            per_mwh = np.zeros(n)
            per_mwh[idx] = np.divide(market, mwh, out=np.zeros_like(market), where=mwh > 0)
            cols["grid_market_t"] = cols["grid_mwh"] * per_mwh
    lineage = (
        [int(r[0]) for r in await (await conn.execute(_LINEAGE_SQL, params)).fetchall()]
        if by_id
        else []
    )
    return LineSeries(line, site, buckets, cols, tuple(sorted(by_id)), tuple(lineage))


_METER_SUMS_SQL = """
SELECT m.id, sum(e.quantity), sum(e.co2e_t)
FROM emission_lines AS e JOIN meters AS m ON m.key = e.meter
WHERE e.bucket >= %(start)s AND e.bucket < %(end)s
GROUP BY 1
"""


async def meter_sums(
    conn: AsyncConn, start: dt.datetime, end: dt.datetime
) -> dict[str, tuple[float, float]]:
    """Per meter over [start, end): canonical quantity and tCO2e of its emission lines."""
    rows = await (await conn.execute(_METER_SUMS_SQL, {"start": start, "end": end})).fetchall()
    return {str(r[0]): (float(r[1] or 0.0), float(r[2] or 0.0)) for r in rows}


async def meter_minutes(
    conn: AsyncConn, meter: str, start: dt.datetime, end: dt.datetime
) -> tuple[np.ndarray, np.ndarray]:
    """One meter's quantity per minute bucket over [start, end): (bucket seconds, quantity)."""
    rows = await (
        await conn.execute(
            "SELECT extract(epoch FROM e.bucket)::bigint, sum(e.quantity)"
            " FROM emission_lines AS e JOIN meters AS m ON m.key = e.meter"
            " WHERE m.id = %s AND e.bucket >= %s AND e.bucket < %s GROUP BY 1 ORDER BY 1",
            (meter, start, end),
        )
    ).fetchall()
    return (
        np.array([int(r[0]) for r in rows], dtype=np.int64),
        np.array([float(r[1] or 0.0) for r in rows], dtype=np.float64),
    )


_MONTHLY_SQL = """
SELECT to_char(m.bucket AT TIME ZONE %(tz)s, 'YYYY-MM'),
       sum(m.scope1_t), sum(m.scope2_location_t), sum(m.scope2_market_t),
       sum(m.grid_import_mwh), sum(m.covered_mwh), sum(m.generation_mwh),
       sum(m.grid_export_mwh)
FROM site_minute AS m
WHERE m.bucket >= %(start)s AND m.bucket < %(end)s
GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True)
class MonthSums:
    month: str  # YYYY-MM, plant time
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float
    grid_import_mwh: float
    covered_mwh: float  # by contractual instruments (GECs, green-power trades, PPAs)
    generation_mwh: float  # on-site
    grid_export_mwh: float


async def monthly_sums(
    conn: AsyncConn, tz: str, start: dt.datetime, end: dt.datetime
) -> list[MonthSums]:
    """Plant-wide (all sites) sums per local month over [start, end)."""
    rows = await (
        await conn.execute(_MONTHLY_SQL, {"tz": tz, "start": start, "end": end})
    ).fetchall()
    return [MonthSums(str(r[0]), *(float(x or 0.0) for x in r[1:])) for r in rows]


async def chain_head(conn: AsyncConn, last: dt.date) -> tuple[dt.date, str, int] | None:
    """The newest sealed day up to ``last`` in the readings hash chain."""
    row = await (
        await conn.execute(
            "SELECT day, digest, readings FROM evidence_chain WHERE day <= %s"
            " ORDER BY day DESC LIMIT 1",
            (last,),
        )
    ).fetchone()
    return None if row is None else (row[0], str(row[1]), int(row[2]))
