"""Emission time series in calendar buckets of the plant's time zone.

Minute rows (``site_minute``, ``emission_lines``) are summed into buckets in
SQL, in two stages: minutes into UTC-aligned 15-minute bins (the same bins in
every zone: all offsets in use are multiples of 15 minutes, as the core
assumes), then bins into hour, day or month buckets with
``date_trunc(unit, ts, zone)``, which is DST-correct (a 23- or 25-hour day is
one bucket; the repeated hour of a fall-back night is two). The time-zone
conversion, the costly part, then runs on a fifteenth of the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never
from zoneinfo import ZoneInfo

from psycopg import sql

from carbonstream.store.db import AsyncConn


class Bucket(StrEnum):
    MINUTE = "minute"
    QUARTER = "15min"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


def bucket_start(bucket: Bucket, ts: sql.Composable) -> sql.Composed:
    """SQL for the start of the ``bucket`` holding the instant ``ts`` (a column or an
    expression) in the plant's zone, the query's ``%(zone)s`` parameter, as
    :func:`floor_bucket` computes it in Python. Quarters are UTC-aligned (the same bins in
    every zone); the rest is ``date_trunc(unit, ts, zone)``, DST-correct. The one home of
    that truncation: every query that buckets time in SQL builds it here.
    """
    match bucket:
        case Bucket.QUARTER:
            # date_bin's origin is a multiple of 900 s, so the bins are UTC quarters.
            return sql.SQL(
                "date_bin('15 minutes', {ts}, timestamptz '2000-01-01 00:00+00')"
            ).format(ts=ts)
        case Bucket.MINUTE | Bucket.HOUR | Bucket.DAY | Bucket.MONTH:
            return sql.SQL("date_trunc({unit}, {ts}, {zone})").format(
                unit=sql.Literal(bucket.value), ts=ts, zone=sql.Placeholder("zone")
            )
        case _:
            assert_never(bucket)


_QUARTER = bucket_start(Bucket.QUARTER, sql.Identifier("bucket"))
SCOPE_COLUMNS = ("scope1_t", "scope2_location_t", "scope2_market_t")


_SITE_SUMS = sql.SQL(
    "sum(scope1_t) AS scope1_t, sum(scope2_location_t) AS scope2_location_t,"
    " sum(scope2_market_t) AS scope2_market_t, sum(grid_import_mwh) AS grid_import_mwh,"
    " count(*) AS minutes"
)
_SITE_WHERE = sql.SQL("site = ANY(%(sites)s) AND bucket >= %(start)s AND bucket < %(end)s")
_METER_SUMS = sql.SQL(
    "sum(quantity) AS quantity, sum(co2e_t) AS co2e_t, sum(covered_s) AS covered_s,"
    " bit_or(flags) AS flags"
)
_METER_WHERE = sql.SQL("meter = %(meter)s AND bucket >= %(start)s AND bucket < %(end)s")


def site_series_sql(bucket: Bucket) -> sql.Composed:
    """Per (bucket, site key): Scope 1, Scope 2 location- and market-based, grid MWh, and
    the minutes with data (rows of site_minute)."""
    if bucket is Bucket.MINUTE:
        return sql.SQL(
            "SELECT bucket, site, scope1_t, scope2_location_t, scope2_market_t, grid_import_mwh,"
            " 1 FROM site_minute WHERE {w} ORDER BY bucket, site LIMIT %(limit)s"
        ).format(w=_SITE_WHERE)
    quarter = sql.SQL(
        "SELECT {q} AS q, site, {sums} FROM site_minute WHERE {w} GROUP BY 1, 2"
    ).format(q=_QUARTER, sums=_SITE_SUMS, w=_SITE_WHERE)
    if bucket is Bucket.QUARTER:
        return sql.SQL("{inner} ORDER BY 1, 2 LIMIT %(limit)s").format(inner=quarter)
    return sql.SQL(
        "SELECT {b} AS b, site, sum(scope1_t), sum(scope2_location_t), sum(scope2_market_t),"
        " sum(grid_import_mwh), sum(minutes)::integer"
        " FROM ({inner}) AS q GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %(limit)s"
    ).format(b=bucket_start(bucket, sql.Identifier("q")), inner=quarter)


def meter_series_sql(bucket: Bucket) -> sql.Composed:
    """Per bucket of one meter: quantity (canonical unit), CO2e, covered seconds, flags."""
    if bucket is Bucket.MINUTE:
        return sql.SQL(
            "SELECT bucket, {sums} FROM emission_lines WHERE {w} GROUP BY 1 ORDER BY 1"
            " LIMIT %(limit)s"
        ).format(sums=_METER_SUMS, w=_METER_WHERE)
    quarter = sql.SQL("SELECT {q} AS q, {sums} FROM emission_lines WHERE {w} GROUP BY 1").format(
        q=_QUARTER, sums=_METER_SUMS, w=_METER_WHERE
    )
    if bucket is Bucket.QUARTER:
        return sql.SQL("{inner} ORDER BY 1 LIMIT %(limit)s").format(inner=quarter)
    return sql.SQL(
        "SELECT {b} AS b, sum(quantity), sum(co2e_t), sum(covered_s), bit_or(flags)"
        " FROM ({inner}) AS q GROUP BY 1 ORDER BY 1 LIMIT %(limit)s"
    ).format(b=bucket_start(bucket, sql.Identifier("q")), inner=quarter)


# (bucket start, site key, scope 1, scope 2 location, scope 2 market, grid MWh, minutes with
# data): plain tuples, as the driver returns them; a month of minutes is 43 200 per site.
SiteRow = tuple[dt.datetime, int, float, float, float, float, int]


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
) -> list[SiteRow]:
    params = {"sites": sites, "start": start, "end": end, "zone": zone, "limit": limit}
    cur = await conn.execute(site_series_sql(bucket), params)
    return await cur.fetchall()


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


def floor_bucket(t: dt.datetime, bucket: Bucket, zone: ZoneInfo) -> dt.datetime:
    """The start of the bucket holding ``t``, as the SQL above computes it."""
    match bucket:
        case Bucket.MINUTE:
            return t.astimezone(dt.UTC).replace(second=0, microsecond=0)
        case Bucket.QUARTER:
            # date_bin('15 minutes', ..., 2000-01-01 UTC): the origin is a multiple of 900 s.
            return dt.datetime.fromtimestamp(int(t.timestamp()) // 900 * 900, dt.UTC)
        case Bucket.HOUR:
            return t.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        case Bucket.DAY:
            d = t.astimezone(zone).date()
            return dt.datetime(d.year, d.month, d.day, tzinfo=zone)
        case Bucket.MONTH:
            d = t.astimezone(zone).date()
            return dt.datetime(d.year, d.month, 1, tzinfo=zone)
        case _:
            assert_never(bucket)


def next_bucket(start: dt.datetime, bucket: Bucket, zone: ZoneInfo) -> dt.datetime:
    """The end of the plant-local bucket starting at ``start`` (an aware instant). Fixed
    sizes are added in UTC: aware arithmetic in a zone is wall-clock arithmetic, which
    would skip the repeated hour of a fall-back night."""
    utc = start.astimezone(dt.UTC)
    match bucket:
        case Bucket.MINUTE:
            return utc + dt.timedelta(minutes=1)
        case Bucket.QUARTER:
            return utc + dt.timedelta(minutes=15)
        case Bucket.HOUR:
            return utc + dt.timedelta(hours=1)
        case Bucket.DAY:
            d = start.astimezone(zone).date() + dt.timedelta(days=1)
            return dt.datetime(d.year, d.month, d.day, tzinfo=zone)
        case Bucket.MONTH:
            d = start.astimezone(zone).date()
            return dt.datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=zone)
        case _:
            assert_never(bucket)


def bucket_spans(
    start: dt.datetime, end: dt.datetime, bucket: Bucket, zone: ZoneInfo
) -> list[tuple[dt.datetime, float]]:
    """Every bucket with a minute in [start, end), and the seconds of those minutes in it:
    a series has a point for each, so an empty bucket is a zero with coverage 0, never a
    gap. The rows are minutes, counted when their start is in the range. Starts are UTC
    (a local time of a repeated hour never equals an instant of another zone)."""
    first, last = _ceil_minute(start), _ceil_minute(end)
    b0 = floor_bucket(first, bucket, zone)
    size = _FIXED.get(bucket)
    if size is not None:  # a month of minutes is 43 200 buckets: no per-bucket calls
        utc0 = b0.astimezone(dt.UTC)
        n = max(0, -(-int((last - utc0).total_seconds()) // size))
        step = dt.timedelta(seconds=size)
        spans = [(utc0 + i * step, float(size)) for i in range(n)]
        for i in {0, n - 1} if n else ():  # the ends, cut by the range
            b = spans[i][0]
            spans[i] = (b, (min(b + step, last) - max(b, first)).total_seconds())
        return spans
    spans = []
    while b0 < last:
        # In UTC: aware times of one zone subtract as wall-clock times (a 25-hour day).
        u0, u1 = b0.astimezone(dt.UTC), next_bucket(b0, bucket, zone).astimezone(dt.UTC)
        spans.append((u0, (min(u1, last) - max(u0, first)).total_seconds()))
        b0 = u1.astimezone(zone)
    return spans


_FIXED = {Bucket.MINUTE: 60, Bucket.QUARTER: 900, Bucket.HOUR: 3600}


def _ceil_minute(t: dt.datetime) -> dt.datetime:
    t = t.astimezone(dt.UTC)
    down = t.replace(second=0, microsecond=0)
    return down if down == t else down + dt.timedelta(minutes=1)


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
