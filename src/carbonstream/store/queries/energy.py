"""Stored quantities for the energy account and the opportunity detectors.

Per-minute quantities (``emission_lines``, canonical units) are summed per meter
into UTC 15-minute bins first, then into plant-local hour, day or month buckets
(the two-stage pattern of ``series``: the zone conversion runs on a fifteenth of
the rows). Green power covered per site comes from ``site_minute.covered_mwh``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.typing import NDArray
from psycopg import sql

from carbonstream.store.db import AsyncConn
from carbonstream.store.queries.series import Bucket, bucket_start

_WHERE = sql.SQL("bucket >= %(start)s AND bucket < %(end)s")


def _binned(table: str, key: str, values: tuple[str, ...], bucket: Bucket) -> sql.Composed:
    """(bucket start, key, sum of each value as v0, v1, ...) of a minute table in
    plant-local buckets."""
    names = [sql.Identifier(f"v{i}") for i in range(len(values))]
    sums = sql.SQL(", ").join(
        sql.SQL("sum({v}) AS {n}").format(v=sql.Identifier(v), n=n)
        for v, n in zip(values, names, strict=True)
    )
    again = sql.SQL(", ").join(sql.SQL("sum({n}) AS {n}").format(n=n) for n in names)
    cols = sql.SQL(", ").join(names)
    if bucket is Bucket.MINUTE:
        return sql.SQL("SELECT bucket AS b, {k} AS k, {s} FROM {t} WHERE {w} GROUP BY 1, 2").format(
            k=sql.Identifier(key), s=sums, t=sql.Identifier(table), w=_WHERE
        )
    quarter = sql.SQL("SELECT {q} AS q, {k} AS k, {s} FROM {t} WHERE {w} GROUP BY 1, 2").format(
        q=bucket_start(Bucket.QUARTER, sql.Identifier("bucket")),
        k=sql.Identifier(key),
        s=sums,
        t=sql.Identifier(table),
        w=_WHERE,
    )
    if bucket is Bucket.QUARTER:
        return sql.SQL("SELECT q AS b, k, {c} FROM ({inner}) AS x").format(c=cols, inner=quarter)
    return sql.SQL("SELECT {b} AS b, k, {a} FROM ({inner}) AS x GROUP BY 1, 2").format(
        b=bucket_start(bucket, sql.Identifier("q")), a=again, inner=quarter
    )


async def meter_quantities(
    conn: AsyncConn, start: dt.datetime, end: dt.datetime, bucket: Bucket, zone: str
) -> list[tuple[dt.datetime, str, float, float]]:
    """(bucket start, meter id, quantity in the canonical unit, covered seconds) for every
    meter."""
    q = sql.SQL(
        "SELECT x.b, m.id, x.v0, x.v1 FROM ({inner}) AS x JOIN meters m ON m.key = x.k"
        " ORDER BY 1, 2"
    ).format(inner=_binned("emission_lines", "meter", ("quantity", "covered_s"), bucket))
    cur = await conn.execute(q, {"start": start, "end": end, "zone": zone})
    return [(r[0], str(r[1]), float(r[2]), float(r[3])) for r in await cur.fetchall()]


async def meter_coverage(
    conn: AsyncConn,
    meters: list[str],
    start: dt.datetime,
    end: dt.datetime,
    bucket: Bucket,
    zone: str,
) -> list[tuple[dt.datetime, str, float, float]]:
    """(bucket start, meter id, quantity, covered seconds) of the named meters, for the
    few whose bucket value is a mean (temperatures: degree-hours over covered hours)."""
    q = sql.SQL(
        "SELECT {b} AS b, m.id, sum(e.quantity),"
        " sum(e.covered_s) FROM emission_lines e JOIN meters m ON m.key = e.meter"
        " WHERE m.id = ANY(%(meters)s) AND e.bucket >= %(start)s AND e.bucket < %(end)s"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    ).format(b=bucket_start(bucket, sql.Identifier("e", "bucket")))
    cur = await conn.execute(q, {"meters": meters, "start": start, "end": end, "zone": zone})
    return [(r[0], str(r[1]), float(r[2]), float(r[3])) for r in await cur.fetchall()]


async def site_green(
    conn: AsyncConn, start: dt.datetime, end: dt.datetime, bucket: Bucket, zone: str
) -> list[tuple[dt.datetime, str, float]]:
    """(bucket start, site id, MWh covered by certificates, trades and PPAs)."""
    q = sql.SQL(
        "SELECT x.b, s.id, x.v0 FROM ({inner}) AS x JOIN sites s ON s.key = x.k"
        " WHERE x.v0 <> 0 ORDER BY 1, 2"
    ).format(inner=_binned("site_minute", "site", ("covered_mwh",), bucket))
    cur = await conn.execute(q, {"start": start, "end": end, "zone": zone})
    return [(r[0], str(r[1]), float(r[2])) for r in await cur.fetchall()]


async def quarter_matrix(
    conn: AsyncConn, meters: list[int], start: dt.datetime, n_quarters: int
) -> NDArray[np.float64]:
    """Quantities of the given meters (keys) per UTC 15-minute bin from ``start``, as a
    (meter, quarter) matrix; NaN where the meter has no line in a bin (no data, never 0)."""
    out = np.full((len(meters), n_quarters), np.nan)
    if not meters or n_quarters <= 0:
        return out
    end = start + dt.timedelta(minutes=15 * n_quarters)
    cur = await conn.execute(
        "SELECT meter, (extract(epoch FROM date_bin('15 minutes', bucket, %(start)s)"
        " - %(start)s) / 900)::int AS i, sum(quantity) FROM emission_lines"
        " WHERE meter = ANY(%(meters)s) AND bucket >= %(start)s AND bucket < %(end)s"
        " GROUP BY 1, 2",
        {"meters": meters, "start": start, "end": end},
    )
    rows = await cur.fetchall()
    if rows:
        index = {k: i for i, k in enumerate(meters)}
        m = np.array([index[int(r[0])] for r in rows], dtype=np.intp)
        q = np.array([int(r[1]) for r in rows], dtype=np.intp)
        out[m, q] = np.array([float(r[2]) for r in rows])
    return out


async def meter_keys(conn: AsyncConn) -> dict[str, int]:
    rows = await (await conn.execute("SELECT id, key FROM meters")).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


async def meter_sums(
    conn: AsyncConn, meters: list[int], start: dt.datetime, end: dt.datetime
) -> dict[int, tuple[float, float]]:
    """Per meter key: (quantity, tCO2e) stored for [start, end)."""
    cur = await conn.execute(
        "SELECT meter, sum(quantity), sum(co2e_t) FROM emission_lines"
        " WHERE meter = ANY(%s) AND bucket >= %s AND bucket < %s GROUP BY 1",
        (meters, start, end),
    )
    return {int(r[0]): (float(r[1]), float(r[2])) for r in await cur.fetchall()}


async def site_meter_hours(
    conn: AsyncConn,
    site: str,
    kinds: list[str],
    start: dt.datetime,
    end: dt.datetime,
    zone: str,
) -> list[tuple[dt.datetime, str, float, float]]:
    """(plant-local hour start, meter kind, quantity in the canonical unit, tCO2e) of the
    site's meters of the given kinds in [start, end), summed per hour and kind."""
    q = sql.SQL(
        "SELECT {h} AS h, m.kind, sum(e.quantity), sum(e.co2e_t)"
        " FROM emission_lines e JOIN meters m ON m.key = e.meter JOIN sites s ON s.key = m.site"
        " WHERE s.id = %(site)s AND m.kind = ANY(%(kinds)s)"
        " AND e.bucket >= %(start)s AND e.bucket < %(end)s GROUP BY 1, 2"
    ).format(h=bucket_start(Bucket.HOUR, sql.Identifier("e", "bucket")))
    params = {"site": site, "kinds": kinds, "start": start, "end": end, "zone": zone}
    cur = await conn.execute(q, params)
    return [(r[0], str(r[1]), float(r[2]), float(r[3])) for r in await cur.fetchall()]


async def site_ppa_hours(
    conn: AsyncConn, site: str, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, float]]:
    """(start of a plant-local hour, MWh) generated in [start, end) by the PPAs allocated to
    the site (``contract_hourly`` keeps plant-local hours)."""
    cur = await conn.execute(
        "SELECT c.hour, sum(c.mwh) FROM contract_hourly c JOIN contracts k ON k.id = c.contract"
        " WHERE k.type = 'ppa' AND c.hour >= %(start)s AND c.hour < %(end)s AND c.contract IN"
        " (SELECT a.contract FROM contract_allocations a JOIN sites s ON s.key = a.site"
        "  WHERE s.id = %(site)s) GROUP BY 1",
        {"site": site, "start": start, "end": end},
    )
    return [(r[0], float(r[1])) for r in await cur.fetchall()]
