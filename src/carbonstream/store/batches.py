"""Signed batches: stored once per digest, referenced by the readings they brought."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from carbonstream.store.common import Cur


@dataclass(frozen=True, slots=True)
class BatchRow:
    digest: bytes  # SHA-256 of body
    gateway: str
    kid: str
    signature: bytes
    body: bytes  # the exact signed bytes
    received_at: dt.datetime


def store(cur: Cur, rows: Sequence[BatchRow]) -> NDArray[np.int64]:
    """The id of each row's batch, storing those not stored yet (an exact replay finds its own).

    Rows go in digest order, so two writers storing the same batches lock them in
    the same order (no deadlock)."""
    if not rows:
        return np.empty(0, np.int64)
    unique = {r.digest: r for r in rows}
    ordered = sorted(unique.values(), key=lambda r: r.digest)
    got = cur.execute(
        "INSERT INTO batches (digest, gateway, kid, signature, body, received_at)"
        " SELECT * FROM unnest(%s::bytea[], %s::text[], %s::text[], %s::bytea[], %s::bytea[],"
        " %s::timestamptz[])"
        " ON CONFLICT (digest) DO NOTHING RETURNING digest, id",
        (
            [r.digest for r in ordered],
            [r.gateway for r in ordered],
            [r.kid for r in ordered],
            [r.signature for r in ordered],
            [r.body for r in ordered],
            [r.received_at for r in ordered],
        ),
        binary=True,
    ).fetchall()
    ids = {bytes(d): int(i) for d, i in got}
    if len(ids) < len(ordered):  # stored before (an exact replay, another writer)
        missing = [d for d in unique if d not in ids]
        for d, i in cur.execute(
            "SELECT digest, id FROM batches WHERE digest = ANY(%s::bytea[])", (missing,)
        ).fetchall():
            ids[bytes(d)] = int(i)
    return np.array([ids[r.digest] for r in rows], dtype=np.int64)


HOUR_NS = 3_600_000_000_000


def count_readings(
    cur: Cur,
    meter_keys: NDArray[np.int32],
    ts_ns: NDArray[np.int64],
    batch: NDArray[np.int64],
) -> None:
    """Add stored readings to reading_counts per (meter, hour): all, and those unsigned."""
    if not len(meter_keys):
        return
    hour = ts_ns // HOUR_NS
    pairs, inverse = np.unique(
        np.stack([meter_keys.astype(np.int64), hour]), axis=1, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    total = np.bincount(inverse, minlength=pairs.shape[1])
    unsigned = np.bincount(inverse, weights=(batch < 0), minlength=pairs.shape[1])
    # unique() sorts by (meter, hour): rows are locked in key order (no deadlocks).
    cur.execute(
        "INSERT INTO reading_counts (meter, hour, readings, unsigned)"
        " SELECT u.meter, to_timestamp(u.h * 3600), u.n, u.un"
        " FROM unnest(%s::int[], %s::int8[], %s::int8[], %s::int8[]) AS u (meter, h, n, un)"
        " ON CONFLICT (meter, hour) DO UPDATE SET"
        " readings = reading_counts.readings + excluded.readings,"
        " unsigned = reading_counts.unsigned + excluded.unsigned",
        (
            pairs[0].tolist(),
            pairs[1].tolist(),
            total.tolist(),
            unsigned.astype(np.int64).tolist(),
        ),
    )
