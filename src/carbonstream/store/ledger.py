"""Contracts (certificates, green-power trades, PPAs) and offsets (CCER) in the database.

Serial ranges are stored as (prefix, start, end) and protected by exclusion
constraints (migration 0004): a serial is held once, allocated once, retired
once, whatever the application does. The functions here read and write rows;
the rules with readable reasons are :mod:`carbonstream.ledger`, applied by the
API inside the same transaction, under a lock (``lock_ledger``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from carbonstream.ledger import SerialRange
from carbonstream.store.db import AsyncConn


@dataclass(frozen=True)
class ContractRow:
    id: str
    type: str
    serials: SerialRange
    generation_start: dt.date
    generation_end: dt.date
    market: str
    ef_t_per_mwh: float
    project: str
    source: str
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class AllocationRow:
    instrument: str
    contract: str
    serials: SerialRange
    site: str
    period_start: dt.date
    period_end: dt.date
    allocated_on: dt.date
    used_mwh: float
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class OffsetRow:
    id: str
    project: str
    registry: str
    serials: SerialRange
    vintage: int
    site: str | None
    note: str
    created_at: dt.datetime
    created_by: str | None
    standard: str = "ccer"
    corresponding_adjustment: str = "not_applicable"
    ets_surrendered: bool = False


@dataclass(frozen=True)
class RetirementRow:
    id: int
    offset: str
    serials: SerialRange
    retired_on: dt.date
    purpose: str
    site: str | None
    period_start: dt.date
    period_end: dt.date
    created_at: dt.datetime
    created_by: str


def _range(prefix: str, start: int, end: int) -> SerialRange:
    return SerialRange(str(prefix), int(start), int(end))


# --- locks ------------------------------------------------------------------------


async def lock_ledger(conn: AsyncConn) -> int:
    """Serialise instrument changes and tell ingest to reload (same transaction)."""
    row = await (
        await conn.execute("UPDATE ledger_version SET version = version + 1 RETURNING version")
    ).fetchone()
    assert row is not None
    return int(row[0])


async def site_key(conn: AsyncConn, site: str) -> int | None:
    row = await (await conn.execute("SELECT key FROM sites WHERE id = %s", (site,))).fetchone()
    return None if row is None else int(row[0])


# --- contracts ----------------------------------------------------------------------

_CONTRACTS_SQL = (
    "SELECT id, type, serial_prefix, serial_start, serial_end, generation_start, generation_end,"
    " market, ef_t_per_mwh, project, source, created_at, created_by FROM contracts"
    " WHERE (%(id)s::text IS NULL OR id = %(id)s) ORDER BY id"
)


def _contract(r: tuple[Any, ...]) -> ContractRow:
    return ContractRow(
        id=str(r[0]),
        type=str(r[1]),
        serials=_range(r[2], r[3], r[4]),
        generation_start=r[5],
        generation_end=r[6],
        market=str(r[7]),
        ef_t_per_mwh=float(r[8]),
        project=str(r[9]),
        source=str(r[10]),
        created_at=r[11],
        created_by=str(r[12]),
    )


async def contracts(
    conn: AsyncConn, contract_id: str | None = None, lock: bool = False
) -> list[ContractRow]:
    q = _CONTRACTS_SQL + (" FOR UPDATE" if lock else "")
    rows = await (await conn.execute(q, {"id": contract_id})).fetchall()
    return [_contract(r) for r in rows]


async def holding_overlap(conn: AsyncConn, table: str, serials: SerialRange) -> str | None:
    """The id of a contract (or offset) already holding any of these serials."""
    if table not in ("contracts", "offsets"):
        raise ValueError(table)
    row = await (
        await conn.execute(
            sql.SQL(
                "SELECT id FROM {} WHERE serial_prefix = %s"
                " AND int8range(serial_start, serial_end, '[]')"
                " && int8range(%s::int8, %s::int8, '[]') LIMIT 1"
            ).format(sql.Identifier(table)),
            (serials.prefix, serials.start, serials.end),
        )
    ).fetchone()
    return None if row is None else str(row[0])


async def insert_contract(conn: AsyncConn, c: ContractRow) -> None:
    await conn.execute(
        "INSERT INTO contracts (id, type, serial_prefix, serial_start, serial_end,"
        " generation_start, generation_end, market, ef_t_per_mwh, project, source, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            c.id,
            c.type,
            c.serials.prefix,
            c.serials.start,
            c.serials.end,
            c.generation_start,
            c.generation_end,
            c.market,
            c.ef_t_per_mwh,
            c.project,
            c.source,
            c.created_by,
        ),
    )


async def delete_contract(conn: AsyncConn, contract_id: str) -> None:
    await conn.execute("DELETE FROM contracts WHERE id = %s", (contract_id,))


async def allocations(conn: AsyncConn, contract_id: str | None = None) -> list[AllocationRow]:
    rows = await (
        await conn.execute(
            "SELECT a.instrument, a.contract, a.serial_prefix, a.serial_start, a.serial_end, s.id,"
            " a.period_start, a.period_end, a.allocated_on, coalesce(u.used_mwh, 0),"
            " a.created_at, a.created_by"
            " FROM contract_allocations AS a JOIN sites AS s ON s.key = a.site"
            " LEFT JOIN instrument_usage AS u ON u.instrument = a.instrument"
            " WHERE (%(c)s::text IS NULL OR a.contract = %(c)s)"
            " ORDER BY a.contract, a.serial_start",
            {"c": contract_id},
        )
    ).fetchall()
    return [
        AllocationRow(
            instrument=str(r[0]),
            contract=str(r[1]),
            serials=_range(r[2], r[3], r[4]),
            site=str(r[5]),
            period_start=r[6],
            period_end=r[7],
            allocated_on=r[8],
            used_mwh=float(r[9]),
            created_at=r[10],
            created_by=str(r[11]),
        )
        for r in rows
    ]


async def consumption_mwh(
    conn: AsyncConn, site: int, start: dt.datetime, end: dt.datetime
) -> float:
    row = await (
        await conn.execute(
            "SELECT coalesce(sum(grid_import_mwh), 0) FROM site_minute"
            " WHERE site = %s AND bucket >= %s AND bucket < %s",
            (site, start, end),
        )
    ).fetchone()
    return float(row[0]) if row else 0.0


async def claimed_mwh(conn: AsyncConn, site: int, first: dt.date, last: dt.date) -> float:
    """MWh of the site's certificates and contracts whose claim period overlaps [first, last]."""
    row = await (
        await conn.execute(
            "SELECT coalesce(sum(mwh), 0) FROM instruments WHERE site = %s"
            " AND type <> 'supplier_factor' AND claim_start <= %s AND claim_end >= %s",
            (site, last, first),
        )
    ).fetchone()
    return float(row[0]) if row else 0.0


async def insert_allocation(
    conn: AsyncConn,
    contract: ContractRow,
    instrument: str,
    serials: SerialRange,
    site: int,
    period: tuple[dt.date, dt.date],
    allocated_on: dt.date,
    created_by: str,
) -> None:
    """The allocation and the instrument ingest allocates to consumption, in one go."""
    await conn.execute(
        "INSERT INTO instruments (id, type, site, mwh, generation_start, generation_end,"
        " claim_start, claim_end, ef_t_per_mwh, market, source, serials)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            instrument,
            contract.type,
            site,
            float(serials.count),
            contract.generation_start,
            contract.generation_end,
            period[0],
            period[1],
            contract.ef_t_per_mwh,
            contract.market,
            contract.source or contract.project,
            str(serials),
        ),
    )
    await conn.execute("INSERT INTO instrument_usage (instrument) VALUES (%s)", (instrument,))
    await conn.execute(
        "INSERT INTO contract_allocations (instrument, contract, serial_prefix, serial_start,"
        " serial_end, site, period_start, period_end, allocated_on, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            instrument,
            contract.id,
            serials.prefix,
            serials.start,
            serials.end,
            site,
            period[0],
            period[1],
            allocated_on,
            created_by,
        ),
    )


# --- offsets --------------------------------------------------------------------------

_OFFSETS_SQL = (
    "SELECT o.id, o.project, o.registry, o.serial_prefix, o.serial_start, o.serial_end,"
    " o.vintage, s.id, o.note, o.created_at, o.created_by, o.standard,"
    " o.corresponding_adjustment, o.ets_surrendered"
    " FROM offsets AS o LEFT JOIN sites AS s ON s.key = o.site"
    " WHERE o.serial_prefix IS NOT NULL AND (%(id)s::text IS NULL OR o.id = %(id)s)"
    " ORDER BY o.id"
)


async def offsets(
    conn: AsyncConn, offset_id: str | None = None, lock: bool = False
) -> list[OffsetRow]:
    q = _OFFSETS_SQL + (" FOR UPDATE OF o" if lock else "")
    rows = await (await conn.execute(q, {"id": offset_id})).fetchall()
    return [
        OffsetRow(
            id=str(r[0]),
            project=str(r[1]),
            registry=str(r[2]),
            serials=_range(r[3], r[4], r[5]),
            vintage=int(r[6]),
            site=r[7],
            note=str(r[8]),
            created_at=r[9],
            created_by=r[10],
            standard=str(r[11]),
            corresponding_adjustment=str(r[12]),
            ets_surrendered=bool(r[13]),
        )
        for r in rows
    ]


async def insert_offset(conn: AsyncConn, o: OffsetRow, site: int | None) -> None:
    await conn.execute(
        "INSERT INTO offsets (id, project, registry, serials, vintage, tco2e, site, note,"
        " serial_prefix, serial_start, serial_end, created_by, standard,"
        " corresponding_adjustment, ets_surrendered)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            o.id,
            o.project,
            o.registry,
            str(o.serials),
            o.vintage,
            float(o.serials.count),
            site,
            o.note,
            o.serials.prefix,
            o.serials.start,
            o.serials.end,
            o.created_by,
            o.standard,
            o.corresponding_adjustment,
            o.ets_surrendered,
        ),
    )


async def retirements(conn: AsyncConn, offset_id: str | None = None) -> list[RetirementRow]:
    rows = await (
        await conn.execute(
            "SELECT r.id, r.offset_id, r.serial_prefix, r.serial_start, r.serial_end,"
            " r.retired_on, r.purpose, s.id, r.period_start, r.period_end, r.created_at,"
            " r.created_by FROM offset_retirements AS r LEFT JOIN sites AS s ON s.key = r.site"
            " WHERE (%(o)s::text IS NULL OR r.offset_id = %(o)s) ORDER BY r.id",
            {"o": offset_id},
        )
    ).fetchall()
    return [
        RetirementRow(
            id=int(r[0]),
            offset=str(r[1]),
            serials=_range(r[2], r[3], r[4]),
            retired_on=r[5],
            purpose=str(r[6]),
            site=r[7],
            period_start=r[8],
            period_end=r[9],
            created_at=r[10],
            created_by=str(r[11]),
        )
        for r in rows
    ]


async def insert_retirement(
    conn: AsyncConn,
    offset_id: str,
    serials: SerialRange,
    retired_on: dt.date,
    purpose: str,
    site: int | None,
    period: tuple[dt.date, dt.date],
    created_by: str,
) -> int:
    row = await (
        await conn.execute(
            "INSERT INTO offset_retirements (offset_id, serial_prefix, serial_start, serial_end,"
            " retired_on, purpose, site, period_start, period_end, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                offset_id,
                serials.prefix,
                serials.start,
                serials.end,
                retired_on,
                purpose,
                site,
                period[0],
                period[1],
                created_by,
            ),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


def free_block(held: SerialRange, taken: list[SerialRange], count: int) -> SerialRange | None:
    """The lowest run of ``count`` serials of ``held`` that none of ``taken`` overlaps."""
    nxt = held.start
    for t in sorted(taken, key=lambda r: r.start):
        if t.start - nxt >= count:
            break
        nxt = max(nxt, t.end + 1)
    if held.end - nxt + 1 < count:
        return None
    return SerialRange(held.prefix, nxt, nxt + count - 1)
