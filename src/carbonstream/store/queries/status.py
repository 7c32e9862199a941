"""Live status of sites and meters: newest reading, quality, silence (rates: domain.live)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carbonstream.store.db import AsyncConn

SITES_SQL = "SELECT key, id, name, grid_region FROM sites ORDER BY id"

# The newest reading of each meter comes from the readings primary key
# (meter, ts) backwards: one index probe per meter.
METERS_SQL = """
SELECT m.key, m.id, s.id, m.kind, m.measures, m.unit,
       ms.last_ts_ns, r.ts, r.value, r.quality,
       cn.n, lc.ts, lc.stored_value, lc.value, lc.last_seen, ms.implausible
FROM meters AS m
JOIN sites AS s ON s.key = m.site
LEFT JOIN meter_state AS ms ON ms.meter = m.key
LEFT JOIN LATERAL (
    SELECT ts, value, quality FROM readings
    WHERE meter = m.key ORDER BY ts DESC LIMIT 1
) AS r ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS n FROM reading_conflicts WHERE meter = m.key
) AS cn ON true
LEFT JOIN LATERAL (
    SELECT ts, stored_value, value, last_seen FROM reading_conflicts
    WHERE meter = m.key ORDER BY last_seen DESC, ts DESC LIMIT 1
) AS lc ON true
WHERE (%(site)s::text IS NULL OR s.id = %(site)s)
  AND (%(meter)s::text IS NULL OR m.id = %(meter)s)
ORDER BY m.id
"""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SiteRow:
    key: int
    id: str
    name: str
    grid_region: str | None


@dataclass(frozen=True)
class Conflict:
    ts: dt.datetime  # the reading's source time
    stored_value: float | None  # what is stored (None: a bad-quality reading)
    value: float | None  # what arrived and was not stored
    seen_at: dt.datetime  # when it last arrived


@dataclass(frozen=True)
class MeterRow:
    key: int
    id: str
    site: str
    kind: str
    measures: str
    unit: str
    last_good_at: dt.datetime | None
    last_reading_at: dt.datetime | None
    last_value: float | None
    last_quality: int | None
    conflicts: int = 0  # readings that arrived for a stored (meter, time) with another value
    last_conflict: Conflict | None = None
    implausible: int = 0  # readings stored with an implausible quality (core.plausible)


async def sites(conn: AsyncConn) -> list[SiteRow]:
    rows = await (await conn.execute(SITES_SQL)).fetchall()
    return [SiteRow(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


async def meters(
    conn: AsyncConn, site: str | None = None, meter: str | None = None
) -> list[MeterRow]:
    rows = await (await conn.execute(METERS_SQL, {"site": site, "meter": meter})).fetchall()
    out = []
    for r in rows:
        good = None if r[6] is None else _EPOCH + dt.timedelta(microseconds=int(r[6]) // 1000)
        out.append(
            MeterRow(
                key=int(r[0]),
                id=str(r[1]),
                site=str(r[2]),
                kind=str(r[3]),
                measures=str(r[4]),
                unit=str(r[5]),
                last_good_at=good,
                last_reading_at=r[7],
                last_value=None if r[8] is None else float(r[8]),
                last_quality=None if r[9] is None else int(r[9]),
                conflicts=int(r[10] or 0),
                last_conflict=None
                if r[11] is None
                else Conflict(
                    r[11],
                    None if r[12] is None else float(r[12]),
                    None if r[13] is None else float(r[13]),
                    r[14],
                ),
                implausible=int(r[15] or 0),
            )
        )
    return out


# Prometheus /metrics: every stored minute summed per site, and each meter's newest time.
SITE_TOTALS_SQL = """
SELECT s.id, sum(m.scope1_t), sum(m.scope2_location_t), sum(m.scope2_market_t)
FROM site_minute AS m JOIN sites AS s ON s.key = m.site GROUP BY s.id
"""
NEWEST_SQL = """
SELECT m.id, s.id, ms.max_ts_ns FROM meters AS m
JOIN sites AS s ON s.key = m.site LEFT JOIN meter_state AS ms ON ms.meter = m.key
ORDER BY m.id
"""


async def site_totals(conn: AsyncConn) -> dict[str, tuple[float, float, float]]:
    """Per site id: Scope 1, Scope 2 location- and market-based tCO2e of every stored
    minute."""
    rows = await (await conn.execute(SITE_TOTALS_SQL)).fetchall()
    return {str(r[0]): (float(r[1] or 0), float(r[2] or 0), float(r[3] or 0)) for r in rows}


async def meter_newest(conn: AsyncConn) -> list[tuple[str, str, float | None]]:
    """(meter id, site id, source time of its newest reading in Unix seconds, None before
    any) of every meter, by meter id."""
    rows = await (await conn.execute(NEWEST_SQL)).fetchall()
    return [(str(r[0]), str(r[1]), None if r[2] is None else int(r[2]) / 1e9) for r in rows]


async def schema_version(conn: AsyncConn) -> int:
    """The newest migration applied (0: none)."""
    row = await (
        await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    ).fetchone()
    return int(row[0]) if row else 0
