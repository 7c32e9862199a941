"""Factor versions added through the API (table ``factor_library``), as library factors.

The built-in tables and the plant's factor files stay files; ingest adds these
rows to its library when it starts, so a new version applies from then on to
months it has not resolved yet. Stored figures are never recomputed by it.
"""

from __future__ import annotations

from typing import Any

from carbonstream.core.library import Factor
from carbonstream.store.db import AsyncConn, Conn

ORIGIN = "api"
SELECT_SQL = (
    "SELECT factor_id, version, series, region, value, unit, gas, valid_from, valid_to,"
    " data_year, source, source_table, verified, description, created_by, created_at"
    " FROM factor_library ORDER BY factor_id, version"
)
INSERT_SQL = (
    "INSERT INTO factor_library (factor_id, version, series, region, value, unit, gas,"
    " valid_from, valid_to, data_year, source, source_table, verified, description, created_by)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
USED_SQL = "SELECT DISTINCT factor_id, version FROM lineage_factors"


def factor_of(r: Any) -> Factor:
    return Factor(
        id=str(r[0]),
        version=int(r[1]),
        series=str(r[2]),
        region=str(r[3]),
        value=float(r[4]),
        unit=str(r[5]),
        gas=str(r[6]),
        valid_from=r[7],
        valid_to=r[8],
        data_year=None if r[9] is None else int(r[9]),
        source=str(r[10]),
        table=str(r[11]),
        verified=str(r[12]),
        description=str(r[13]),
        origin=ORIGIN,
    )


def load_added(conn: Conn) -> list[Factor]:
    """For ingest at start (sync connection)."""
    return [factor_of(r) for r in conn.execute(SELECT_SQL).fetchall()]


async def added(conn: AsyncConn) -> list[tuple[Factor, str, Any]]:
    """(factor, created_by, created_at) of every version added through the API."""
    rows = await (await conn.execute(SELECT_SQL)).fetchall()
    return [(factor_of(r), str(r[14]), r[15]) for r in rows]


async def used(conn: AsyncConn) -> set[tuple[str, int]]:
    rows = await (await conn.execute(USED_SQL)).fetchall()
    return {(str(r[0]), int(r[1])) for r in rows}


async def add(conn: AsyncConn, f: Factor, created_by: str) -> None:
    await conn.execute(
        INSERT_SQL,
        (
            f.id,
            f.version,
            f.series,
            f.region,
            f.value,
            f.unit,
            f.gas,
            f.valid_from,
            f.valid_to,
            f.data_year,
            f.source,
            f.table,
            f.verified,
            f.description,
            created_by,
        ),
    )
