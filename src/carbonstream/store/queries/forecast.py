"""Queries behind forecasts: a site's quarter-hour history and its totals so far.

Both read the ``site_minute`` rollup of one site. Quarter-hours are UTC-aligned
15-minute bins (the same bins in every zone: all offsets in use are multiples of
15 minutes), so a plant-local day, month or year is a whole number of them.
"""

from __future__ import annotations

import datetime as dt

from psycopg import sql

from carbonstream.store.db import AsyncConn, Conn
from carbonstream.store.queries.series import Bucket, bucket_start

# What a forecast can be asked for: the alert rules' measures (heat is in both Scope 2 columns).
MEASURES: dict[str, str] = {
    "scope1": "scope1_t",
    "scope2_location": "scope2_location_t",
    "scope2_market": "scope2_market_t",
    "total_location": "scope1_t + scope2_location_t",
    "total_market": "scope1_t + scope2_market_t",
}

_QUARTERS = sql.SQL(
    "SELECT {q} AS q, sum({m})"
    " FROM site_minute WHERE site = (SELECT key FROM sites WHERE id = %(site)s)"
    " AND bucket >= %(lo)s AND bucket < %(hi)s GROUP BY 1 ORDER BY 1"
)
_TOTAL = sql.SQL(
    "SELECT coalesce(sum({m}), 0) FROM site_minute"
    " WHERE site = (SELECT key FROM sites WHERE id = %(site)s)"
    " AND bucket >= %(lo)s AND bucket < %(hi)s"
)

QuarterRow = tuple[dt.datetime, float]


def _measure(measure: str) -> sql.SQL:
    try:
        return sql.SQL(MEASURES[measure])  # a fixed expression, never user text
    except KeyError:
        raise ValueError(f"unknown measure {measure!r}; one of {', '.join(MEASURES)}") from None


def quarters_sql(measure: str) -> sql.Composed:
    """Per quarter-hour with data in [lo, hi): its start and the measure's tonnes."""
    return _QUARTERS.format(
        q=bucket_start(Bucket.QUARTER, sql.Identifier("bucket")), m=_measure(measure)
    )


def total_sql(measure: str) -> sql.Composed:
    """The measure's tonnes in [lo, hi)."""
    return _TOTAL.format(m=_measure(measure))


def _params(site: str, lo: dt.datetime, hi: dt.datetime) -> dict[str, object]:
    return {"site": site, "lo": lo, "hi": hi}


async def quarters(
    conn: AsyncConn, site: str, measure: str, lo: dt.datetime, hi: dt.datetime
) -> list[QuarterRow]:
    rows = await (await conn.execute(quarters_sql(measure), _params(site, lo, hi))).fetchall()
    return [(r[0], float(r[1])) for r in rows]


async def total(
    conn: AsyncConn, site: str, measure: str, lo: dt.datetime, hi: dt.datetime
) -> float:
    row = await (await conn.execute(total_sql(measure), _params(site, lo, hi))).fetchone()
    return 0.0 if row is None else float(row[0])


def quarters_sync(
    conn: Conn, site: str, measure: str, lo: dt.datetime, hi: dt.datetime
) -> list[QuarterRow]:
    rows = conn.execute(quarters_sql(measure), _params(site, lo, hi)).fetchall()
    return [(r[0], float(r[1])) for r in rows]
