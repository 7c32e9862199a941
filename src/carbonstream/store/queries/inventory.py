"""The stored figures an inventory is made of, for a period [start, end).

Everything comes from what ingest committed: site minute rollups (scopes,
grid and heat, market-based coverage), per-meter lines (activity, gases,
coverage, lineage), the lineage records and the factors they name,
instrument allocations, and offset retirements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from psycopg import sql

from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.store.db import AsyncConn

SITE_SUMS_SQL = sql.SQL(
    "SELECT s.id, count(*), {sums} FROM site_minute AS m JOIN sites AS s ON s.key = m.site"
    " WHERE m.site = ANY(%(sites)s) AND m.bucket >= %(start)s AND m.bucket < %(end)s"
    " GROUP BY s.id ORDER BY s.id"
).format(
    sums=sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(c)) for c in SITE_COLUMNS)
)

METER_SUMS_SQL = """
SELECT m.id, e.lineage_id, sum(e.quantity), sum(e.co2_t), sum(e.ch4_t), sum(e.n2o_t),
       sum(e.co2e_t), sum(e.covered_s), bit_or(e.flags), count(*)
FROM emission_lines AS e JOIN meters AS m ON m.key = e.meter
WHERE e.site = ANY(%(sites)s) AND e.bucket >= %(start)s AND e.bucket < %(end)s
GROUP BY m.id, e.lineage_id ORDER BY m.id, e.lineage_id
"""

# Stored readings per meter, how many came unsigned (accepted by configuration), and how
# many were implausible (stored with their quality, not in the account).
READING_COUNTS_SQL = """
SELECT m.id, sum(c.readings), sum(c.unsigned), sum(c.implausible)
FROM reading_counts AS c JOIN meters AS m ON m.key = c.meter
WHERE m.site = ANY(%(sites)s) AND c.hour >= %(start)s AND c.hour < %(end)s
GROUP BY m.id
"""

RESIDUAL_LINEAGE_SQL = """
SELECT DISTINCT residual_lineage_id FROM site_minute
WHERE site = ANY(%(sites)s) AND bucket >= %(start)s AND bucket < %(end)s
  AND residual_lineage_id IS NOT NULL AND residual_mwh > 0
"""

LINEAGE_SQL = """
SELECT l.id, l.subject, l.month, l.method, l.gwp, l.quantity_unit, l.ef_co2e,
       coalesce(l.record -> 'notes', '[]'::jsonb),
       lf.role, lf.fallback, f.factor_id, f.version, f.value, f.unit, f.source,
       f.source_table, f.data_year, f.verified,
       coalesce(l.record -> 'factors', '[]'::jsonb)
FROM lineage AS l
LEFT JOIN lineage_factors AS lf ON lf.lineage_id = l.id
LEFT JOIN factors AS f ON f.factor_id = lf.factor_id AND f.version = lf.version
WHERE l.id = ANY(%(ids)s)
ORDER BY l.id, lf.role
"""

ALLOCATIONS_SQL = """
SELECT a.instrument, i.type, s.id, sum(a.mwh), i.mwh, i.serials, i.claim_start, i.claim_end,
       i.ef_t_per_mwh, i.source, ca.contract
FROM allocations AS a
JOIN instruments AS i ON i.id = a.instrument
JOIN sites AS s ON s.key = a.site
LEFT JOIN contract_allocations AS ca ON ca.instrument = i.id
WHERE a.site = ANY(%(sites)s) AND a.bucket >= %(start)s AND a.bucket < %(end)s
GROUP BY a.instrument, i.type, s.id, i.mwh, i.serials, i.claim_start, i.claim_end,
         i.ef_t_per_mwh, i.source, ca.contract
ORDER BY a.instrument, s.id
"""

# Retirements count in an inventory when the period they offset lies inside it;
# plant-wide ones (no site) only in a plant-wide inventory.
RETIREMENTS_SQL = """
SELECT r.id, r.offset_id, o.project, o.registry, o.vintage, r.serial_prefix, r.serial_start,
       r.serial_end, r.retired_on, r.purpose, s.id, r.period_start, r.period_end, o.standard,
       o.corresponding_adjustment
FROM offset_retirements AS r
JOIN offsets AS o ON o.id = r.offset_id
LEFT JOIN sites AS s ON s.key = r.site
WHERE r.period_start >= %(first_day)s AND r.period_end <= %(last_day)s
  AND (r.site = ANY(%(sites)s) OR (r.site IS NULL AND %(plant_wide)s))
ORDER BY r.id
"""


@dataclass
class MeterLine:
    meter: str
    lineage: int
    quantity: float
    co2_t: float
    ch4_t: float
    n2o_t: float
    co2e_t: float
    covered_s: float
    flags: int


@dataclass
class FactorRef:
    role: str
    fallback: str | None
    factor_id: str
    version: int
    value: float
    unit: str
    source: str
    table: str
    data_year: int | None
    verified: str


@dataclass
class LineageRow:
    id: int
    subject: str
    month: str
    method: str
    gwp: str
    quantity_unit: str
    ef_co2e: float
    notes: list[str]
    factors: list[FactorRef] = field(default_factory=list)
    # role -> why that factor serves the lineage's month (pinned or looked up, validity)
    basis: dict[str, str] = field(default_factory=dict)


@dataclass
class AllocationRow:
    instrument: str
    type: str
    site: str
    allocated_mwh: float
    instrument_mwh: float | None
    serials: str
    claim_start: dt.date
    claim_end: dt.date
    ef_t_per_mwh: float
    source: str
    contract: str | None


@dataclass
class RetirementRow:
    id: int
    offset: str
    project: str
    registry: str
    vintage: int
    serial_prefix: str
    serial_start: int
    serial_end: int
    retired_on: dt.date
    purpose: str
    site: str | None
    period_start: dt.date
    period_end: dt.date
    standard: str = "ccer"
    corresponding_adjustment: str = "not_applicable"

    @property
    def serials(self) -> str:
        return f"{self.serial_prefix}{self.serial_start}-{self.serial_prefix}{self.serial_end}"

    @property
    def tco2e(self) -> float:
        return float(self.serial_end - self.serial_start + 1)


@dataclass
class Stored:
    site_minutes: dict[str, int]  # site -> minute rows with data
    site_sums: dict[str, dict[str, float]]
    meter_lines: list[MeterLine]
    lineages: dict[int, LineageRow]
    allocations: list[AllocationRow]
    retirements: list[RetirementRow]
    # meter -> (stored readings, of which unsigned, of which implausible) in the period
    reading_counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)


async def load(
    conn: AsyncConn,
    sites: list[int],
    plant_wide: bool,
    start: dt.datetime,
    end: dt.datetime,
    first_day: dt.date,
    last_day: dt.date,
) -> Stored:
    p = {"sites": sites, "start": start, "end": end}
    rows = await (await conn.execute(SITE_SUMS_SQL, p)).fetchall()
    site_minutes = {str(r[0]): int(r[1]) for r in rows}
    site_sums = {
        str(r[0]): {c: float(v or 0.0) for c, v in zip(SITE_COLUMNS, r[2:], strict=True)}
        for r in rows
    }
    lines = [
        MeterLine(
            str(r[0]),
            int(r[1]),
            float(r[2]),
            float(r[3]),
            float(r[4]),
            float(r[5]),
            float(r[6]),
            float(r[7]),
            int(r[8]),
        )
        for r in await (await conn.execute(METER_SUMS_SQL, p)).fetchall()
    ]
    ids = {x.lineage for x in lines}
    ids |= {int(r[0]) for r in await (await conn.execute(RESIDUAL_LINEAGE_SQL, p)).fetchall()}
    lineages: dict[int, LineageRow] = {}
    for r in await (await conn.execute(LINEAGE_SQL, {"ids": sorted(ids)})).fetchall():
        lin = lineages.get(int(r[0]))
        if lin is None:
            lin = lineages[int(r[0])] = LineageRow(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                float(r[6]),
                [str(n) for n in r[7]],
                basis={
                    str(f["role"]): str(f["basis"])
                    for f in r[18]
                    if isinstance(f, dict) and f.get("basis")
                },
            )
        if r[8] is not None and r[10] is not None:
            lin.factors.append(
                FactorRef(
                    role=str(r[8]),
                    fallback=r[9],
                    factor_id=str(r[10]),
                    version=int(r[11]),
                    value=float(r[12]),
                    unit=str(r[13]),
                    source=str(r[14]),
                    table=str(r[15]),
                    data_year=None if r[16] is None else int(r[16]),
                    verified=str(r[17]),
                )
            )
    allocations = [
        AllocationRow(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            float(r[3]),
            None if r[4] is None else float(r[4]),
            str(r[5]),
            r[6],
            r[7],
            float(r[8]),
            str(r[9]),
            r[10],
        )
        for r in await (await conn.execute(ALLOCATIONS_SQL, p)).fetchall()
    ]
    q = {"sites": sites, "first_day": first_day, "last_day": last_day, "plant_wide": plant_wide}
    retirements = [
        RetirementRow(
            int(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            int(r[4]),
            str(r[5]),
            int(r[6]),
            int(r[7]),
            r[8],
            str(r[9]),
            r[10],
            r[11],
            r[12],
            str(r[13]),
            str(r[14]),
        )
        for r in await (await conn.execute(RETIREMENTS_SQL, q)).fetchall()
    ]
    counts = {
        str(r[0]): (int(r[1]), int(r[2]), int(r[3]))
        for r in await (await conn.execute(READING_COUNTS_SQL, p)).fetchall()
    }
    return Stored(site_minutes, site_sums, lines, lineages, allocations, retirements, counts)
