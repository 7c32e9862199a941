"""Market-based Scope 2 bookkeeping: instrument usage and allocations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from carbonstream.store.common import Cur, ns_to_datetime

# --- market-based instruments --------------------------------------------------


def lock_usage(cur: Cur, instruments: list[str]) -> dict[str, float]:
    if not instruments:
        return {}
    rows = cur.execute(
        "SELECT instrument, used_mwh FROM instrument_usage WHERE instrument = ANY(%s)"
        " ORDER BY instrument FOR NO KEY UPDATE",
        (sorted(instruments),),
    ).fetchall()
    return {str(i): float(u) for i, u in rows}


def save_usage(cur: Cur, used: dict[str, float]) -> None:
    if not used:
        return
    ids = sorted(used)
    cur.execute(
        "UPDATE instrument_usage AS s SET used_mwh = u.used"
        " FROM unnest(%s::text[], %s::float8[]) AS u (id, used) WHERE s.instrument = u.id",
        (ids, [used[i] for i in ids]),
    )


def add_allocations(
    cur: Cur,
    instrument: list[str],
    site: NDArray[np.int32],
    bucket: NDArray[np.int64],
    mwh: NDArray[np.float64],
) -> None:
    if not instrument:
        return
    cur.execute(
        "INSERT INTO allocations (instrument, site, bucket, mwh)"
        " SELECT * FROM unnest(%s::text[], %s::int[], %s::timestamptz[], %s::float8[])"
        " ON CONFLICT (instrument, site, bucket)"
        " DO UPDATE SET mwh = allocations.mwh + excluded.mwh",
        (instrument, site.tolist(), [ns_to_datetime(t) for t in bucket.tolist()], mwh.tolist()),
    )


def take_allocations(cur: Cur, keys: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Delete the allocations of these (site, bucket)s; returns MWh per instrument given back."""
    if not keys:
        return {}
    rows = cur.execute(
        "WITH gone AS (DELETE FROM allocations AS a"
        " USING unnest(%s::int[], %s::timestamptz[]) AS u (site, b)"
        " WHERE a.site = u.site AND a.bucket = u.b RETURNING a.instrument, a.mwh)"
        " SELECT instrument, sum(mwh) FROM gone GROUP BY instrument",
        ([k[0] for k in keys], [ns_to_datetime(k[1]) for k in keys]),
    ).fetchall()
    return {str(i): float(m) for i, m in rows}
