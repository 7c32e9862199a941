"""Emission time series in calendar buckets of the plant's time zone.

Minute rows (``site_minute``, ``emission_lines``) are summed into buckets in
SQL. Hour, day and month buckets use ``date_trunc(unit, ts, zone)``, which is
DST-correct (a 23- or 25-hour day is one bucket; the repeated hour of a
fall-back night is two); 15-minute buckets are UTC-aligned bins, the same in
every zone (all offsets in use are multiples of 15 minutes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from psycopg import sql

from carbonstream.store.db import AsyncConn


class Bucket(StrEnum):
    MINUTE = "minute"
    QUARTER = "15min"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_BUCKET_SQL = {
    Bucket.MINUTE: sql.SQL("bucket"),
    Bucket.QUARTER: sql.SQL("date_bin('15 minutes', bucket, timestamptz '2000-01-01 00:00+00')"),
    Bucket.HOUR: sql.SQL("date_trunc('hour', bucket, %(zone)s)"),
    Bucket.DAY: sql.SQL("date_trunc('day', bucket, %(zone)s)"),
    Bucket.MONTH: sql.SQL("date_trunc('month', bucket, %(zone)s)"),
}

SCOPE_COLUMNS = ("scope1_t", "scope2_location_t", "scope2_market_t")


def site_series_sql(bucket: Bucket) -> sql.Composed:
    """Per (bucket, site): Scope 1, Scope 2 location- and market-based, grid MWh."""
    return sql.SQL(
        "SELECT {b} AS b, s.id, sum(m.scope1_t), sum(m.scope2_location_t),"
        " sum(m.scope2_market_t), sum(m.grid_import_mwh)"
        " FROM site_minute AS m JOIN sites AS s ON s.key = m.site"
        " WHERE m.site = ANY(%(sites)s) AND m.bucket >= %(start)s AND m.bucket < %(end)s"
        " GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %(limit)s"
    ).format(b=_BUCKET_SQL[bucket])


def meter_series_sql(bucket: Bucket) -> sql.Composed:
    """Per bucket of one meter: quantity (canonical unit), CO2e, covered seconds."""
    return sql.SQL(
        "SELECT {b} AS b, sum(quantity), sum(co2e_t), sum(covered_s), bit_or(flags)"
        " FROM emission_lines"
        " WHERE meter = %(meter)s AND bucket >= %(start)s AND bucket < %(end)s"
        " GROUP BY 1 ORDER BY 1 LIMIT %(limit)s"
    ).format(b=_BUCKET_SQL[bucket])


@dataclass(frozen=True)
class SitePoint:
    start: dt.datetime
    site: str
    scope1_t: float
    scope2_location_t: float
    scope2_market_t: float
    grid_import_mwh: float


@dataclass(frozen=True)
class MeterPoint:
    start: dt.datetime
    quantity: float
    co2e_t: float
    covered_s: float
    flags: int


async def site_keys(conn: AsyncConn, ids: list[str] | None) -> dict[str, int]:
    if ids is None:
        rows = await (await conn.execute("SELECT id, key FROM sites")).fetchall()
    else:
        rows = await (
            await conn.execute("SELECT id, key FROM sites WHERE id = ANY(%s)", (ids,))
        ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


async def meter_key(conn: AsyncConn, meter: str) -> int | None:
    row = await (await conn.execute("SELECT key FROM meters WHERE id = %s", (meter,))).fetchone()
    return None if row is None else int(row[0])


async def site_series(
    conn: AsyncConn,
    sites: list[int],
    start: dt.datetime,
    end: dt.datetime,
    bucket: Bucket,
    zone: str,
    limit: int,
) -> list[SitePoint]:
    params = {"sites": sites, "start": start, "end": end, "zone": zone, "limit": limit}
    cur = await conn.execute(site_series_sql(bucket), params)
    return [
        SitePoint(r[0], str(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
        for r in await cur.fetchall()
    ]


async def meter_series(
    conn: AsyncConn,
    meter: int,
    start: dt.datetime,
    end: dt.datetime,
    bucket: Bucket,
    zone: str,
    limit: int,
) -> list[MeterPoint]:
    params = {"meter": meter, "start": start, "end": end, "zone": zone, "limit": limit}
    cur = await conn.execute(meter_series_sql(bucket), params)
    return [
        MeterPoint(r[0], float(r[1]), float(r[2]), float(r[3]), int(r[4]))
        for r in await cur.fetchall()
    ]


def estimate_buckets(start: dt.datetime, end: dt.datetime, bucket: Bucket) -> int:
    """Upper bound of the buckets in [start, end) (months counted as 28 days)."""
    seconds = (end - start).total_seconds()
    size = {
        Bucket.MINUTE: 60,
        Bucket.QUARTER: 900,
        Bucket.HOUR: 3600,
        Bucket.DAY: 82800,  # a 23-hour DST day
        Bucket.MONTH: 28 * 86400,
    }[bucket]
    return int(seconds // size) + 2
