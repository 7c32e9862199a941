"""Evidence queries: readings of a period, the sealed hash chain, appending sealed days."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from carbonstream.core.chain import DayDigest
from carbonstream.store.db import AsyncConn, Conn


@dataclass
class StoredReadings:
    meter_ids: list[str]
    meter: NDArray[np.int32]  # index into meter_ids
    ts_ns: NDArray[np.int64]
    value: NDArray[np.float64]  # NaN where the stored value is NULL (quality not good)
    quality: NDArray[np.uint8]
    batch: NDArray[np.int64] | None = None  # signed batch id; -1: unsigned


def local_bounds(first: dt.date, last: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of first, local midnight after last) as aware datetimes."""
    after = last + dt.timedelta(days=1)
    return (
        dt.datetime(first.year, first.month, first.day, tzinfo=zone),
        dt.datetime(after.year, after.month, after.day, tzinfo=zone),
    )


def readings(conn: Conn, start: dt.datetime, end: dt.datetime) -> StoredReadings:
    rows = conn.execute(
        "SELECT m.id, (extract(epoch FROM r.ts) * 1000000)::bigint, r.value, r.quality, r.batch"
        " FROM readings r JOIN meters m ON m.key = r.meter"
        " WHERE r.ts >= %s AND r.ts < %s ORDER BY m.id, r.ts",
        (start, end),
    ).fetchall()
    ids = sorted({r[0] for r in rows})
    index = {m: i for i, m in enumerate(ids)}
    return StoredReadings(
        meter_ids=ids,
        meter=np.array([index[r[0]] for r in rows], dtype=np.int32),
        ts_ns=np.array([int(r[1]) * 1000 for r in rows], dtype=np.int64),
        value=np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64),
        quality=np.array([r[3] for r in rows], dtype=np.uint8),
        batch=np.array([-1 if r[4] is None else r[4] for r in rows], dtype=np.int64),
    )


def batches(conn: Conn, start: dt.datetime, end: dt.datetime) -> list[dict[str, object]]:
    """The signed batches the period's readings came in: exact bytes, signature, key id."""
    rows = conn.execute(
        "SELECT b.id, b.digest, b.gateway, b.kid, b.signature, b.body, b.received_at"
        " FROM batches b WHERE b.id IN"
        " (SELECT DISTINCT batch FROM readings WHERE ts >= %s AND ts < %s AND batch IS NOT NULL)"
        " ORDER BY b.id",
        (start, end),
    ).fetchall()
    return [
        {
            "id": int(r[0]),
            "digest": bytes(r[1]).hex(),
            "gateway": r[2],
            "kid": r[3],
            "signature": base64.b64encode(bytes(r[4])).decode(),
            "body": base64.b64encode(bytes(r[5])).decode(),
            "received_at": r[6].isoformat(),
        }
        for r in rows
    ]


def context(conn: Conn, start: dt.datetime, end: dt.datetime, ids: list[str]) -> StoredReadings:
    """Per meter: the last good reading before ``start`` and the first after ``end``.

    They close the intervals that cross the period's edges, so a period's
    account can be re-derived on its own. ``ids`` is the meter index order.
    """
    rows = conn.execute(
        "SELECT m.id, (extract(epoch FROM x.ts) * 1000000)::bigint, x.value, x.quality"
        " FROM meters m, LATERAL ("
        "  (SELECT ts, value, quality FROM readings"
        "   WHERE meter = m.key AND ts < %s AND quality = 0 ORDER BY ts DESC LIMIT 1)"
        "  UNION ALL"
        "  (SELECT ts, value, quality FROM readings"
        "   WHERE meter = m.key AND ts >= %s AND quality = 0 ORDER BY ts LIMIT 1)) x"
        " ORDER BY 1, 2",
        (start, end),
    ).fetchall()
    index = {m: i for i, m in enumerate(ids)}
    rows = [r for r in rows if r[0] in index]
    return StoredReadings(
        meter_ids=ids,
        meter=np.array([index[r[0]] for r in rows], dtype=np.int32),
        ts_ns=np.array([int(r[1]) * 1000 for r in rows], dtype=np.int64),
        value=np.array([r[2] for r in rows], dtype=np.float64),
        quality=np.array([r[3] for r in rows], dtype=np.uint8),
    )


def late(conn: Conn, start: dt.datetime, end: dt.datetime) -> set[tuple[str, int]]:
    """Readings stored but older than the lateness: not in the account."""
    rows = conn.execute(
        "SELECT m.id, (extract(epoch FROM l.ts) * 1000000)::bigint * 1000"
        " FROM late_readings l JOIN meters m ON m.key = l.meter"
        " WHERE l.ts >= %s AND l.ts < %s",
        (start, end),
    ).fetchall()
    return {(str(r[0]), int(r[1])) for r in rows}


def usage_before(conn: Conn, start: dt.datetime) -> dict[str, float]:
    """Instrument MWh allocated before ``start``: the market-based state at the period start."""
    rows = conn.execute(
        "SELECT instrument, sum(mwh) FROM allocations WHERE bucket < %s GROUP BY 1", (start,)
    ).fetchall()
    return {str(k): float(v) for k, v in rows}


def chain(conn: Conn, first: dt.date | None = None, last: dt.date | None = None) -> list[DayDigest]:
    rows = conn.execute(
        "SELECT day, readings, digest, prev FROM evidence_chain"
        " WHERE (%s::date IS NULL OR day >= %s) AND (%s::date IS NULL OR day <= %s) ORDER BY day",
        (first, first, last, last),
    ).fetchall()
    return [DayDigest(r[0].isoformat(), int(r[1]), r[2], r[3]) for r in rows]


def lock_chain(conn: Conn) -> tuple[dt.date, str] | None:
    """Lock the chain against concurrent sealing (until the transaction ends) and return
    its head: the last sealed day and its digest (None: nothing sealed yet)."""
    conn.execute("LOCK TABLE evidence_chain IN EXCLUSIVE MODE")
    head = conn.execute(
        "SELECT day, digest FROM evidence_chain ORDER BY day DESC LIMIT 1"
    ).fetchone()
    return None if head is None else (head[0], str(head[1]))


def first_reading_at(conn: Conn, after: dt.datetime | None) -> dt.datetime | None:
    """Time of the first stored reading at or after ``after`` (any reading: None)."""
    row = conn.execute(
        "SELECT min(ts) FROM readings WHERE %s::timestamptz IS NULL OR ts >= %s", (after, after)
    ).fetchone()
    return None if row is None else row[0]


def append_day(conn: Conn, day: dt.date, readings: int, digest: str, prev: str) -> None:
    conn.execute(
        "INSERT INTO evidence_chain (day, readings, digest, prev) VALUES (%s, %s, %s, %s)",
        (day, readings, digest, prev),
    )


async def sealed_days(
    conn: AsyncConn, first: dt.date, last: dt.date
) -> list[tuple[dt.date, str, int]]:
    """(day, digest, readings) of the days from ``first`` to ``last`` in the readings hash
    chain, in order (the monthly report's evidence section)."""
    rows = await (
        await conn.execute(
            "SELECT day, digest, readings FROM evidence_chain"
            " WHERE day >= %s AND day <= %s ORDER BY day",
            (first, last),
        )
    ).fetchall()
    return [(r[0], str(r[1]), int(r[2])) for r in rows]
