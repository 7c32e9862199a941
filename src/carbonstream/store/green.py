"""Queries behind matching, zero-carbon status, intensity and restated versions.

Reads only what ingest, the ledgers and ``carbonstream restate`` stored: site
minutes (grid import, market-based coverage, production), the residual factor
each minute used (its lineage), instruments and the hourly generation loaded
for contracts, offset retirements, per-meter emission lines of production
lines, and restated site days. No accounting here: matching and net are the
ledger's functions, applied by the API.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.store.db import AsyncConn, Conn
from carbonstream.store.queries.series import Bucket, bucket_start

# --- hourly instrument data -------------------------------------------------------------------


async def hourly_existing(
    conn: AsyncConn, contract: str, hours: list[dt.datetime]
) -> dict[dt.datetime, float]:
    rows = await (
        await conn.execute(
            "SELECT hour, mwh FROM contract_hourly WHERE contract = %s AND hour = ANY(%s)",
            (contract, hours),
        )
    ).fetchall()
    return {r[0]: float(r[1]) for r in rows}


async def hourly_total(conn: AsyncConn, contract: str) -> float:
    row = await (
        await conn.execute(
            "SELECT coalesce(sum(mwh), 0) FROM contract_hourly WHERE contract = %s", (contract,)
        )
    ).fetchone()
    return float(row[0]) if row else 0.0


async def hourly_insert(
    conn: AsyncConn, contract: str, rows: list[tuple[dt.datetime, float]], who: str
) -> None:
    if not rows:
        return
    await conn.execute(
        "INSERT INTO contract_hourly (contract, hour, mwh, created_by)"
        " SELECT %s, u.h, u.m, %s FROM unnest(%s::timestamptz[], %s::float8[]) AS u (h, m)",
        (contract, who, [r[0] for r in rows], [r[1] for r in rows]),
    )


async def hourly_delete(conn: AsyncConn, contract: str) -> int:
    cur = await conn.execute("DELETE FROM contract_hourly WHERE contract = %s", (contract,))
    return cur.rowcount


@dataclass(frozen=True)
class HourlySummary:
    hours: int
    mwh: float
    first: dt.datetime | None
    last: dt.datetime | None


async def hourly_summary(conn: AsyncConn, contract: str) -> HourlySummary:
    row = await (
        await conn.execute(
            "SELECT count(*), coalesce(sum(mwh), 0), min(hour), max(hour) FROM contract_hourly"
            " WHERE contract = %s",
            (contract,),
        )
    ).fetchone()
    assert row is not None
    return HourlySummary(int(row[0]), float(row[1]), row[2], row[3])


async def hourly_rows(
    conn: AsyncConn,
    contracts: list[str],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[str, list[tuple[dt.datetime, float]]]:
    rows = await (
        await conn.execute(
            "SELECT contract, hour, mwh FROM contract_hourly WHERE contract = ANY(%(c)s)"
            " AND (%(s)s::timestamptz IS NULL OR hour >= %(s)s)"
            " AND (%(e)s::timestamptz IS NULL OR hour < %(e)s) ORDER BY contract, hour",
            {"c": contracts, "s": start, "e": end},
        )
    ).fetchall()
    out: dict[str, list[tuple[dt.datetime, float]]] = defaultdict(list)
    for c, h, m in rows:
        out[str(c)].append((h, float(m)))
    return out


# --- matching ---------------------------------------------------------------------------------

# Per local hour of one site: grid import, the residual factor its minutes used, and the
# account as stored (covered MWh, electricity's market- and location-based tonnes).
# Minutes go to UTC quarter hours first, then to local hours (DST-correct, as the series).
HOURLY_CONSUMPTION_SQL = sql.SQL("""
SELECT {hour} AS h, sum(mwh), max(ef), sum(covered),
       sum(market_t), sum(location_t)
FROM (
    SELECT {quarter} AS q,
           sum(m.grid_import_mwh) AS mwh, max(l.ef_co2e) AS ef, sum(m.covered_mwh) AS covered,
           sum(m.scope2_market_t - m.scope2_heat_t) AS market_t,
           sum(m.scope2_location_t - m.scope2_heat_t) AS location_t
    FROM site_minute AS m LEFT JOIN lineage AS l ON l.id = m.residual_lineage_id
    WHERE m.site = %(site)s AND m.bucket >= %(start)s AND m.bucket < %(end)s
    GROUP BY 1
) AS quarters
GROUP BY 1 ORDER BY 1
""").format(
    hour=bucket_start(Bucket.HOUR, sql.Identifier("q")),
    quarter=bucket_start(Bucket.QUARTER, sql.Identifier("m", "bucket")),
)

SITE_INSTRUMENTS_SQL = """
SELECT i.id, i.type, i.mwh, i.claim_start, i.claim_end, i.ef_t_per_mwh, i.source, i.serials,
       ca.contract, c.serial_end - c.serial_start + 1
FROM instruments AS i
LEFT JOIN contract_allocations AS ca ON ca.instrument = i.id
LEFT JOIN contracts AS c ON c.id = ca.contract
WHERE i.site = %(site)s AND i.type <> 'supplier_factor'
  AND i.claim_start <= %(last)s AND i.claim_end >= %(first)s
ORDER BY i.claim_end, i.id
"""


@dataclass(frozen=True)
class HourUse:
    hour: dt.datetime
    mwh: float
    residual_ef: float | None
    covered_mwh: float
    market_t: float
    location_t: float


@dataclass(frozen=True)
class SiteInstrument:
    id: str
    type: str
    mwh: float
    claim_start: dt.date
    claim_end: dt.date
    ef_t_per_mwh: float
    source: str
    serials: str
    contract: str | None
    contract_mwh: float | None  # certificates of the whole contract


async def hourly_consumption(
    conn: AsyncConn, site: int, start: dt.datetime, end: dt.datetime, zone: str
) -> list[HourUse]:
    rows = await (
        await conn.execute(
            HOURLY_CONSUMPTION_SQL, {"site": site, "start": start, "end": end, "zone": zone}
        )
    ).fetchall()
    return [
        HourUse(
            r[0],
            float(r[1] or 0.0),
            None if r[2] is None else float(r[2]),
            float(r[3] or 0.0),
            float(r[4] or 0.0),
            float(r[5] or 0.0),
        )
        for r in rows
    ]


async def site_instruments(
    conn: AsyncConn, site: int, first: dt.date, last: dt.date
) -> list[SiteInstrument]:
    rows = await (
        await conn.execute(SITE_INSTRUMENTS_SQL, {"site": site, "first": first, "last": last})
    ).fetchall()
    return [
        SiteInstrument(
            id=str(r[0]),
            type=str(r[1]),
            mwh=float(r[2] or 0.0),
            claim_start=r[3],
            claim_end=r[4],
            ef_t_per_mwh=float(r[5]),
            source=str(r[6]),
            serials=str(r[7]),
            contract=None if r[8] is None else str(r[8]),
            contract_mwh=None if r[9] is None else float(r[9]),
        )
        for r in rows
    ]


# --- retirements (zero-carbon) ----------------------------------------------------------------

# Retirements whose offset period lies inside [first, last]: per site, or plant-wide (NULL).
RETIREMENTS_SQL = """
SELECT r.id, s.id, r.serial_end - r.serial_start + 1
FROM offset_retirements AS r LEFT JOIN sites AS s ON s.key = r.site
WHERE r.period_start >= %(first)s AND r.period_end <= %(last)s
ORDER BY r.id
"""


@dataclass(frozen=True)
class Retired:
    id: int
    site: str | None
    tco2e: float


async def retirements_inside(conn: AsyncConn, first: dt.date, last: dt.date) -> list[Retired]:
    rows = await (await conn.execute(RETIREMENTS_SQL, {"first": first, "last": last})).fetchall()
    return [Retired(int(r[0]), None if r[1] is None else str(r[1]), float(r[2])) for r in rows]


# --- site sums, live or restated --------------------------------------------------------------

LIVE_SUMS_SQL = sql.SQL(
    "SELECT s.id, {sums} FROM site_minute AS m JOIN sites AS s ON s.key = m.site"
    " WHERE m.site = ANY(%(sites)s) AND m.bucket >= %(start)s AND m.bucket < %(end)s"
    " GROUP BY s.id"
).format(
    sums=sql.SQL(", ").join(sql.SQL("sum(m.{})").format(sql.Identifier(c)) for c in SITE_COLUMNS)
)

RESTATED_SUMS_SQL = """
SELECT s.id, r.totals FROM restated_site_day AS r JOIN sites AS s ON s.key = r.site
WHERE r.restatement = %(id)s AND r.site = ANY(%(sites)s)
  AND r.day >= %(first)s AND r.day <= %(last)s
"""


async def live_sums(
    conn: AsyncConn, sites: list[int], start: dt.datetime, end: dt.datetime
) -> dict[str, dict[str, float]]:
    rows = await (
        await conn.execute(LIVE_SUMS_SQL, {"sites": sites, "start": start, "end": end})
    ).fetchall()
    return {
        str(r[0]): {c: float(v or 0.0) for c, v in zip(SITE_COLUMNS, r[1:], strict=True)}
        for r in rows
    }


async def restated_sums(
    conn: AsyncConn, restatement: int, sites: list[int], first: dt.date, last: dt.date
) -> dict[str, dict[str, float]]:
    rows = await (
        await conn.execute(
            RESTATED_SUMS_SQL, {"id": restatement, "sites": sites, "first": first, "last": last}
        )
    ).fetchall()
    out: dict[str, dict[str, float]] = {}
    for site, totals in rows:
        acc = out.setdefault(str(site), dict.fromkeys(SITE_COLUMNS, 0.0))
        for c in SITE_COLUMNS:
            acc[c] += float(totals.get(c, 0.0) or 0.0)
    return out


# --- restatements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RestatementRow:
    id: int
    label: str
    first_day: dt.date
    last_day: dt.date
    created_at: dt.datetime
    code_version: str
    factor_files: list[dict[str, Any]]
    factors: list[dict[str, Any]]
    note: str
    site_days: int


RESTATEMENTS_SQL = """
SELECT r.id, r.label, r.first_day, r.last_day, r.created_at, r.code_version, r.factor_files,
       r.factors, r.note, (SELECT count(*) FROM restated_site_day AS d WHERE d.restatement = r.id)
FROM restatements AS r
WHERE (%(id)s::integer IS NULL OR r.id = %(id)s)
ORDER BY r.id
"""


async def restatements(conn: AsyncConn, rid: int | None = None) -> list[RestatementRow]:
    rows = await (await conn.execute(RESTATEMENTS_SQL, {"id": rid})).fetchall()
    return [
        RestatementRow(
            id=int(r[0]),
            label=str(r[1]),
            first_day=r[2],
            last_day=r[3],
            created_at=r[4],
            code_version=str(r[5]),
            factor_files=list(r[6] or []),
            factors=list(r[7] or []),
            note=str(r[8]),
            site_days=int(r[9]),
        )
        for r in rows
    ]


def insert_restatement(
    conn: Conn,
    label: str,
    first: dt.date,
    last: dt.date,
    code_version: str,
    factor_files: list[dict[str, str]],
    factors: list[dict[str, object]],
) -> int:
    """A new restated version (``carbonstream restate``); its id."""
    row = conn.execute(
        "INSERT INTO restatements (label, first_day, last_day, code_version, factor_files,"
        " factors) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (label, first, last, code_version, Jsonb(factor_files), Jsonb(factors)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def insert_restated_day(
    conn: Conn, restatement: int, site: int, day: dt.date, totals: dict[str, float]
) -> None:
    """One site's totals (column -> tCO2e / MWh / GJ) for one local day of a restatement."""
    conn.execute(
        "INSERT INTO restated_site_day (restatement, site, day, totals) VALUES (%s, %s, %s, %s)",
        (restatement, site, day, Jsonb(totals)),
    )


def list_restatements(conn: Conn) -> list[tuple[int, str, dt.date, dt.date, dt.datetime]]:
    """(id, label, first day, last day, created) of every restatement, oldest first."""
    rows = conn.execute(
        "SELECT id, label, first_day, last_day, created_at FROM restatements ORDER BY id"
    ).fetchall()
    return [(int(r[0]), str(r[1]), r[2], r[3], r[4]) for r in rows]


# --- production lines -------------------------------------------------------------------------

# Per production line, site and meter role: quantity and CO2e of the line's meters.
LINE_SUMS_SQL = """
SELECT m.config ->> 'line', s.id, e.role, sum(e.quantity), sum(e.co2e_t)
FROM emission_lines AS e
JOIN meters AS m ON m.key = e.meter
JOIN sites AS s ON s.key = e.site
WHERE e.meter = ANY(%(meters)s) AND e.bucket >= %(start)s AND e.bucket < %(end)s
GROUP BY 1, 2, 3
"""


@dataclass(frozen=True)
class LineRole:
    line: str
    site: str
    role: int
    quantity: float
    co2e_t: float


async def line_sums(
    conn: AsyncConn, meters: list[int], start: dt.datetime, end: dt.datetime
) -> list[LineRole]:
    if not meters:
        return []
    rows = await (
        await conn.execute(LINE_SUMS_SQL, {"meters": meters, "start": start, "end": end})
    ).fetchall()
    return [
        LineRole(str(r[0]), str(r[1]), int(r[2]), float(r[3] or 0.0), float(r[4] or 0.0))
        for r in rows
    ]


async def line_meter_keys(conn: AsyncConn, sites: list[int] | None = None) -> list[int]:
    rows = await (
        await conn.execute(
            "SELECT key FROM meters WHERE config ->> 'line' IS NOT NULL"
            " AND (%(s)s::int[] IS NULL OR site = ANY(%(s)s)) ORDER BY key",
            {"s": sites},
        )
    ).fetchall()
    return [int(r[0]) for r in rows]


PRODUCTION_SQL = """
SELECT s.id, sum(m.production) FROM site_minute AS m JOIN sites AS s ON s.key = m.site
WHERE m.bucket >= %(lo)s AND m.bucket < %(hi)s GROUP BY s.id
"""


async def production(conn: AsyncConn, lo: dt.datetime, hi: dt.datetime) -> dict[str, float]:
    rows = await (await conn.execute(PRODUCTION_SQL, {"lo": lo, "hi": hi})).fetchall()
    return {str(r[0]): float(r[1] or 0.0) for r in rows}
