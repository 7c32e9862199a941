"""Readings and per-meter state: lock, de-dup lookups, COPY, late bookkeeping.

Bulk rows go by binary COPY from numpy-built buffers; small sets by one
statement over arrays. All SQL is parameterised.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.state import NO_TIME
from carbonstream.store import binary
from carbonstream.store.binary import Column
from carbonstream.store.common import Cur, ns_to_datetime

# --- meter state -------------------------------------------------------------


@dataclass
class StateRows:
    """Stored state of some meters (keys ascending); NO_TIME where never seen."""

    meter: NDArray[np.int32]
    last_ts: NDArray[np.int64]
    last_value: NDArray[np.float64]
    max_ts: NDArray[np.int64]
    # The previous plausible reading (core.plausible: the next jump check's reference).
    plausible_ts: NDArray[np.int64]
    plausible_value: NDArray[np.float64]
    implausible: NDArray[np.int64]  # implausible readings so far (saved: added to the stored)


def lock_state(cur: Cur, meter_keys: NDArray[np.int32]) -> StateRows:
    """Read and row-lock the state of these meters, in key order (no deadlocks between workers)."""
    rows = cur.execute(
        "SELECT meter, last_ts_ns, last_value, max_ts_ns, plausible_ts_ns, plausible_value"
        " FROM meter_state WHERE meter = ANY(%s) ORDER BY meter FOR NO KEY UPDATE",
        (meter_keys.tolist(),),
    ).fetchall()
    n = len(rows)
    out = StateRows(
        np.empty(n, np.int32),
        np.empty(n, np.int64),
        np.empty(n, np.float64),
        np.empty(n, np.int64),
        np.empty(n, np.int64),
        np.empty(n, np.float64),
        np.zeros(n, np.int64),
    )
    for i, (m, lt, lv, mx, pt, pv) in enumerate(rows):
        out.meter[i] = m
        out.last_ts[i] = NO_TIME if lt is None else lt
        out.last_value[i] = lv
        out.max_ts[i] = NO_TIME if mx is None else mx
        out.plausible_ts[i] = NO_TIME if pt is None else pt
        out.plausible_value[i] = pv
    return out


def save_state(cur: Cur, s: StateRows) -> None:
    """Write back the state of these meters: binary COPY into a per-session temporary
    table, then one UPDATE from it (about 2x faster than an UPDATE over array params)."""
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS meter_state_v2_in (meter int, last_ts_ns int8,"
        " last_value float8, max_ts_ns int8, plausible_ts_ns int8, plausible_value float8,"
        " implausible int8) ON COMMIT DELETE ROWS"
    )
    buf = binary.encode(
        [
            Column("int4", s.meter),
            Column("int8", s.last_ts, null=s.last_ts == NO_TIME),
            Column("float8", s.last_value),
            Column("int8", s.max_ts, null=s.max_ts == NO_TIME),
            Column("int8", s.plausible_ts, null=s.plausible_ts == NO_TIME),
            Column("float8", s.plausible_value),
            Column("int8", s.implausible),
        ]
    )
    with cur.copy("COPY meter_state_v2_in FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(buf)
    cur.execute(
        "UPDATE meter_state AS s SET last_ts_ns = u.last_ts_ns, last_value = u.last_value,"
        " max_ts_ns = u.max_ts_ns, plausible_ts_ns = u.plausible_ts_ns,"
        " plausible_value = u.plausible_value, implausible = s.implausible + u.implausible,"
        " updated_at = now() FROM meter_state_v2_in AS u WHERE s.meter = u.meter"
    )


# --- readings ----------------------------------------------------------------


def stored(cur: Cur, meter_keys: NDArray[np.int32], ts_ns: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which of these (meter, time) pairs are already in ``readings``."""
    if not len(meter_keys):
        return np.zeros(0, dtype=bool)
    rows = cur.execute(
        "SELECT u.i FROM unnest(%s::int[], %s::timestamptz[]) WITH ORDINALITY AS u (meter, ts, i)"
        " JOIN readings AS r ON r.meter = u.meter AND r.ts = u.ts",
        (meter_keys.tolist(), [ns_to_datetime(t) for t in ts_ns.tolist()]),
    ).fetchall()
    out = np.zeros(len(meter_keys), dtype=bool)
    if rows:
        out[np.array([r[0] for r in rows], dtype=np.int64) - 1] = True
    return out


def stored_values(
    cur: Cur, meter_keys: NDArray[np.int32], ts_ns: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.int16]]:
    """Which of these (meter, time) pairs are in ``readings``, with the stored value (NaN
    when not good) and quality of each found one."""
    n = len(meter_keys)
    there = np.zeros(n, dtype=bool)
    value = np.full(n, np.nan)
    quality = np.zeros(n, dtype=np.int16)
    if not n:
        return there, value, quality
    rows = cur.execute(
        "SELECT u.i, r.value, r.quality"
        " FROM unnest(%s::int[], %s::timestamptz[]) WITH ORDINALITY AS u (meter, ts, i)"
        " JOIN readings AS r ON r.meter = u.meter AND r.ts = u.ts",
        (meter_keys.tolist(), [ns_to_datetime(t) for t in ts_ns.tolist()]),
    ).fetchall()
    for i, v, q in rows:
        there[int(i) - 1] = True
        value[int(i) - 1] = np.nan if v is None else float(v)
        quality[int(i) - 1] = int(q)
    return there, value, quality


@dataclass
class ConflictRows:
    """Readings that arrived for a stored (meter, time) with another value or quality."""

    meter: NDArray[np.int32]  # keys
    ts: NDArray[np.int64]
    stored_value: NDArray[np.float64]  # NaN: not good
    stored_quality: NDArray[np.int16]
    value: NDArray[np.float64]
    quality: NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.meter)


def record_conflicts(cur: Cur, c: ConflictRows) -> None:
    """One row per distinct arriving value; a repeat (a redelivered message) counts in seen."""
    if not len(c):
        return
    # Conflicts are rare: plain Python here. Repeats within the call are merged first (one
    # statement may not update a row twice), in key order (one lock order for all workers).
    rows: dict[tuple[int, int, int, float], list[object]] = {}
    for i in range(len(c)):
        v = float(c.value[i])
        key = (int(c.meter[i]), int(c.ts[i]), int(c.quality[i]), -math.inf if v != v else v)
        if key in rows:
            seen = rows[key][6]
            assert isinstance(seen, int)
            rows[key][6] = seen + 1
        else:
            sv = float(c.stored_value[i])
            rows[key] = [
                key[0],
                ns_to_datetime(key[1]),
                None if sv != sv else sv,
                int(c.stored_quality[i]),
                None if v != v else v,
                key[2],
                1,
            ]
    cols = list(zip(*(rows[k] for k in sorted(rows)), strict=True))
    cur.execute(
        "INSERT INTO reading_conflicts (meter, ts, stored_value, stored_quality, value, quality,"
        " seen) SELECT * FROM unnest(%s::int[], %s::timestamptz[], %s::float8[], %s::int2[],"
        " %s::float8[], %s::int2[], %s::int[])"
        " ON CONFLICT (meter, ts, quality, (coalesce(value, 'NaN'::float8)))"
        " DO UPDATE SET seen = reading_conflicts.seen + excluded.seen, last_seen = now()",
        [list(col) for col in cols],
    )


def copy_readings(
    cur: Cur,
    meter_keys: NDArray[np.int32],
    ts_ns: NDArray[np.int64],
    value: NDArray[np.float64],
    quality: NDArray[np.uint8],
    batch: NDArray[np.int64] | None = None,
    null: NDArray[np.bool_] | None = None,
) -> None:
    """COPY readings; ``batch`` is each one's signed batch id (-1 or none: unsigned, NULL); a
    value is NULL where ``null`` says (default: where not good)."""
    if batch is None:
        batch = np.full(len(meter_keys), -1, np.int64)
    buf = binary.encode(
        [
            Column("int4", meter_keys),
            Column("timestamptz", ts_ns),
            Column("float8", value, null=quality != 0 if null is None else null),
            Column("int2", quality.astype(np.int16)),
            Column("int8", batch, null=batch < 0),
        ]
    )
    with cur.copy(
        "COPY readings (meter, ts, value, quality, batch) FROM STDIN (FORMAT BINARY)"
    ) as cp:
        cp.write(buf)


def good_readings_between(
    cur: Cur,
    meter_keys: NDArray[np.int32],
    since_ns: NDArray[np.int64],
    until_ns: NDArray[np.int64],
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.float64]]:
    """Good readings of each meter in its own [since, until] (meter key, ts ns, value), by time."""
    rows = cur.execute(
        "SELECT r.meter, (extract(epoch FROM r.ts) * 1000000)::int8, r.value"
        " FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) AS u (meter, lo, hi)"
        " JOIN readings AS r ON r.meter = u.meter AND r.ts >= u.lo AND r.ts <= u.hi"
        " AND r.quality = 0 ORDER BY r.ts",
        (
            meter_keys.tolist(),
            [ns_to_datetime(t) for t in since_ns.tolist()],
            [ns_to_datetime(t) for t in until_ns.tolist()],
        ),
    ).fetchall()
    m = np.array([r[0] for r in rows], dtype=np.int32)
    t = np.array([r[1] for r in rows], dtype=np.int64) * 1000
    v = np.array([r[2] for r in rows], dtype=np.float64)
    return m, t, v


_NEIGHBOUR = (
    "SELECT u.i, (SELECT (extract(epoch FROM r.ts) * 1000000)::int8 FROM readings AS r"
    " WHERE r.meter = u.meter AND r.quality = 0 AND r.ts {op} u.t ORDER BY r.ts {dir} LIMIT 1)"
    " FROM unnest(%s::int[], %s::timestamptz[]) WITH ORDINALITY AS u (meter, t, i)"
)
_NEIGHBOURS = {
    (True, False): _NEIGHBOUR.replace("{op}", "<").replace("{dir}", "DESC"),
    (True, True): _NEIGHBOUR.replace("{op}", "<=").replace("{dir}", "DESC"),
    (False, False): _NEIGHBOUR.replace("{op}", ">").replace("{dir}", "ASC"),
    (False, True): _NEIGHBOUR.replace("{op}", ">=").replace("{dir}", "ASC"),
}


@contextmanager
def index_probes(cur: Cur) -> Iterator[None]:
    """Plan the per-reading neighbour look-ups as index probes (LIMIT 1 on the primary key).

    Right after a bulk load the statistics still say a meter has a few rows, and
    the planner picks a bitmap scan that reads and sorts all of a meter's readings
    for every probe (0.5 ms instead of 10 µs each here). Off for this transaction's
    late-reading work only, then back to what it was."""
    row = cur.execute("SELECT current_setting('enable_bitmapscan')").fetchone()
    previous = str(row[0]) if row else "on"
    cur.execute("SELECT set_config('enable_bitmapscan', 'off', true)")
    yield  # on an error the transaction rolls back, and the setting with it
    cur.execute("SELECT set_config('enable_bitmapscan', %s, true)", (previous,))


def neighbour_good(
    cur: Cur, meter_keys: NDArray[np.int32], at_ns: NDArray[np.int64], before: bool, inclusive: bool
) -> NDArray[np.int64]:
    """Time of each meter's nearest good reading before (or after) a time; NO_TIME if none."""
    rows = cur.execute(
        _NEIGHBOURS[(before, inclusive)],
        (meter_keys.tolist(), [ns_to_datetime(t) for t in at_ns.tolist()]),
    ).fetchall()
    out = np.full(len(meter_keys), NO_TIME, dtype=np.int64)
    for i, us in rows:
        if us is not None:
            out[int(i) - 1] = int(us) * 1000
    return out


def record_late(
    cur: Cur,
    meter_keys: NDArray[np.int32],
    ts_ns: NDArray[np.int64],
    lateness_s: NDArray[np.float64],
) -> None:
    cur.execute(
        "INSERT INTO late_readings (meter, ts, lateness_s)"
        " SELECT * FROM unnest(%s::int[], %s::timestamptz[], %s::float8[])"
        " ON CONFLICT DO NOTHING",
        (meter_keys.tolist(), [ns_to_datetime(t) for t in ts_ns.tolist()], lateness_s.tolist()),
    )
