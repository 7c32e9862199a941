"""Emission lines and per-(site, minute) rollups: COPY, replace a range, rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from psycopg import sql

from carbonstream.core.engine import SITE_COLUMNS
from carbonstream.store import binary
from carbonstream.store.binary import Column
from carbonstream.store.common import Cur, array_literal, ns_to_datetime, timestamptz_literal

# --- emission lines and rollups ------------------------------------------------


@dataclass
class LineRows:
    meter: NDArray[np.int32]  # meter key
    bucket: NDArray[np.int64]  # ns
    site: NDArray[np.int32]  # site key
    role: NDArray[np.int16]
    quantity: NDArray[np.float64]
    covered_ns: NDArray[np.int64]
    n_intervals: NDArray[np.int64]
    flags: NDArray[np.uint16]
    co2_t: NDArray[np.float64]
    ch4_t: NDArray[np.float64]
    n2o_t: NDArray[np.float64]
    co2e_t: NDArray[np.float64]
    lineage: NDArray[np.int64]  # database lineage id

    def __len__(self) -> int:
        return len(self.meter)


def copy_lines(cur: Cur, ln: LineRows) -> None:
    if not len(ln):
        return
    buf = binary.encode(
        [
            Column("int4", ln.meter),
            Column("timestamptz", ln.bucket),
            Column("int4", ln.site),
            Column("int2", ln.role),
            Column("float8", ln.quantity),
            Column("float8", ln.covered_ns / 1e9),
            Column("int4", ln.n_intervals.astype(np.int32)),
            Column("int4", ln.flags.astype(np.int32)),
            Column("float8", ln.co2_t),
            Column("float8", ln.ch4_t),
            Column("float8", ln.n2o_t),
            Column("float8", ln.co2e_t),
            Column("int8", ln.lineage),
        ]
    )
    with cur.copy(
        "COPY emission_lines (meter, bucket, site, role, quantity, covered_s, n_intervals, flags,"
        " co2_t, ch4_t, n2o_t, co2e_t, lineage_id) FROM STDIN (FORMAT BINARY)"
    ) as cp:
        cp.write(buf)


def delete_lines_between(
    cur: Cur, meter_keys: NDArray[np.int32], lo_ns: NDArray[np.int64], hi_ns: NDArray[np.int64]
) -> set[tuple[int, int]]:
    """Delete each meter's lines with lo <= bucket <= hi; returns the (site key, bucket ns)."""
    rows = cur.execute(
        "DELETE FROM emission_lines AS e"
        " USING unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS u (meter, lo, hi)"
        " WHERE e.meter = u.meter AND e.bucket >= u.lo AND e.bucket <= u.hi"
        " RETURNING e.site, (extract(epoch FROM e.bucket) * 1000000)::int8",
        (
            meter_keys.tolist(),
            [ns_to_datetime(t) for t in lo_ns.tolist()],
            [ns_to_datetime(t) for t in hi_ns.tolist()],
        ),
    ).fetchall()
    return {(int(s), int(us) * 1000) for s, us in rows}


@dataclass
class SiteRows:
    site: NDArray[np.int32]  # site key
    bucket: NDArray[np.int64]  # ns
    values: dict[str, NDArray[np.float64]]
    residual_lineage: NDArray[np.int64]  # database lineage id

    def __len__(self) -> int:
        return len(self.site)


def _site_upsert(replace: bool) -> sql.Composed:
    cols = [sql.Identifier(c) for c in SITE_COLUMNS]
    if replace:
        sets = [sql.SQL("{0} = excluded.{0}").format(c) for c in cols]
    else:
        sets = [sql.SQL("{0} = site_minute.{0} + excluded.{0}").format(c) for c in cols]
    return sql.SQL(
        "INSERT INTO site_minute (site, bucket, {cols}, residual_lineage_id)"
        " SELECT * FROM unnest(%s::int[], %s::timestamptz[], {types}, %s::int8[])"
        " ON CONFLICT (site, bucket) DO UPDATE SET {sets},"
        " residual_lineage_id = excluded.residual_lineage_id"
    ).format(
        cols=sql.SQL(", ").join(cols),
        types=sql.SQL(", ").join([sql.SQL("%s::float8[]")] * len(cols)),
        sets=sql.SQL(", ").join(sets),
    )


_ADD_SITES = _site_upsert(replace=False)
_SET_SITES = _site_upsert(replace=True)


def add_site_minutes(cur: Cur, rows: SiteRows, replace: bool = False) -> None:
    """Add (or with ``replace``, set) per-(site, bucket) sums, in key order."""
    if not len(rows):
        return
    order = np.lexsort((rows.bucket, rows.site))
    params = [array_literal(rows.site[order]), timestamptz_literal(rows.bucket[order])]
    params += [array_literal(rows.values[c][order]) for c in SITE_COLUMNS]
    params.append(array_literal(rows.residual_lineage[order]))
    cur.execute(_SET_SITES if replace else _ADD_SITES, params)


def lock_site_minutes(cur: Cur, keys: Sequence[tuple[int, int]]) -> None:
    """Make sure these (site, bucket) rows exist and lock them (key order)."""
    if not keys:
        return
    ordered = sorted(keys)
    sites = [k[0] for k in ordered]
    buckets = [ns_to_datetime(k[1]) for k in ordered]
    cur.execute(
        "INSERT INTO site_minute (site, bucket) SELECT * FROM unnest(%s::int[], %s::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        (sites, buckets),
    )
    cur.execute(
        "SELECT 1 FROM site_minute AS s JOIN unnest(%s::int[], %s::timestamptz[]) AS u (site, b)"
        " ON s.site = u.site AND s.bucket = u.b ORDER BY s.site, s.bucket FOR NO KEY UPDATE OF s",
        (sites, buckets),
    )


def lines_of_site_buckets(cur: Cur, keys: Sequence[tuple[int, int]]) -> LineRows:
    """All lines of these (site, bucket)s, summed per (meter, bucket)."""
    rows = cur.execute(
        "SELECT e.meter, (extract(epoch FROM e.bucket) * 1000000)::int8,"
        " min(e.site), min(e.role), sum(e.quantity), sum(e.covered_s), sum(e.n_intervals),"
        " bit_or(e.flags), sum(e.co2_t), sum(e.ch4_t), sum(e.n2o_t), sum(e.co2e_t),"
        " min(e.lineage_id)"
        " FROM emission_lines AS e JOIN unnest(%s::int[], %s::timestamptz[]) AS u (site, b)"
        " ON e.site = u.site AND e.bucket = u.b GROUP BY 1, 2 ORDER BY 2, 1",
        ([k[0] for k in keys], [ns_to_datetime(k[1]) for k in keys]),
    ).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 13

    def arr(i: int, dtype: type[np.generic]) -> NDArray[np.generic]:
        return np.array(cols[i], dtype=dtype)

    return LineRows(
        meter=arr(0, np.int32).astype(np.int32),
        bucket=arr(1, np.int64).astype(np.int64) * 1000,
        site=arr(2, np.int32).astype(np.int32),
        role=arr(3, np.int16).astype(np.int16),
        quantity=arr(4, np.float64).astype(np.float64),
        covered_ns=(arr(5, np.float64).astype(np.float64) * 1e9).round().astype(np.int64),
        n_intervals=arr(6, np.int64).astype(np.int64),
        flags=arr(7, np.int64).astype(np.uint16),
        co2_t=arr(8, np.float64).astype(np.float64),
        ch4_t=arr(9, np.float64).astype(np.float64),
        n2o_t=arr(10, np.float64).astype(np.float64),
        co2e_t=arr(11, np.float64).astype(np.float64),
        lineage=arr(12, np.int64).astype(np.int64),
    )


# --- compaction of partial lines ----------------------------------------------------

# Each batch appends one partial row per (meter, minute) it touches: at plant rates
# (a batch every 100 ms, a reading a second per meter) that is a row per reading,
# 60 per meter-minute. Once a meter's minute is closed (its newest stored reading is
# in a later minute, so normal processing appends nothing more to it; late data
# replaces the whole window instead) its rows are merged into one. Totals are sums,
# so every reader sees the same figures; the meter's state row is locked first, the
# lock writers take, so a concurrent batch or late-data rebuild of the same meter
# waits (or makes this wait) and never sees half a merge.
_COMPACT_SQL = """
WITH locked AS (
    SELECT meter, max_ts_ns FROM meter_state
    WHERE meter = ANY(%(meters)s) AND max_ts_ns IS NOT NULL
    ORDER BY meter FOR NO KEY UPDATE
), closed AS (
    SELECT meter, date_trunc('minute', to_timestamp(max_ts_ns / 1000000000)) AS before
    FROM locked
), split AS (
    SELECT e.meter, e.bucket FROM emission_lines AS e JOIN closed AS c ON c.meter = e.meter
    WHERE e.bucket >= c.before - %(window)s * interval '1 second' AND e.bucket < c.before
    GROUP BY e.meter, e.bucket HAVING count(*) > count(DISTINCT e.lineage_id)
), gone AS (
    DELETE FROM emission_lines AS e USING split AS s
    WHERE e.meter = s.meter AND e.bucket = s.bucket
    RETURNING e.*
), merged AS (
    INSERT INTO emission_lines (meter, bucket, site, role, quantity, covered_s, n_intervals,
        flags, co2_t, ch4_t, n2o_t, co2e_t, lineage_id)
    SELECT meter, bucket, site, role, sum(quantity), sum(covered_s), sum(n_intervals),
        bit_or(flags), sum(co2_t), sum(ch4_t), sum(n2o_t), sum(co2e_t), lineage_id
    FROM gone GROUP BY meter, bucket, site, role, lineage_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM merged)
"""


def compact_lines(cur: Cur, meter_keys: NDArray[np.int32], window_s: float) -> tuple[int, int]:
    """Merge the partial lines of these meters' closed minutes (the last ``window_s``
    before each meter's newest reading) into one row per (meter, minute, lineage).
    Returns (rows removed, rows written)."""
    if not len(meter_keys):
        return 0, 0
    # The statement locks the state rows in key order itself.
    row = cur.execute(
        _COMPACT_SQL, {"meters": meter_keys.tolist(), "window": float(window_s)}
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
