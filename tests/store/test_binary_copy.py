"""The numpy-built binary COPY buffers, read back by a real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import psycopg
import pytest

from carbonstream.store import binary
from carbonstream.store.binary import Column


def test_round_trip_with_nulls_and_extremes(db_url: str) -> None:
    ts = np.array(
        [
            0,
            1_764_489_600_123_000_000,
            946_684_800_000_000_000,
            253_402_300_799_999_000_000 // 1000,
        ],
        dtype=np.int64,
    )
    value = np.array([1.5, -0.0, np.inf, 1e-300])
    null = np.array([False, True, False, True])
    with psycopg.connect(db_url) as c:
        c.execute("CREATE TABLE t (a int, b timestamptz, c double precision, d smallint, e bigint)")
        buf = binary.encode(
            [
                Column("int4", np.array([1, -2, 2**31 - 1, 0], np.int32)),
                Column("timestamptz", ts),
                Column("float8", value, null=null),
                Column("int2", np.array([0, 7, -1, 32767], np.int16)),
                Column("int8", np.array([2**62, -1, 0, 5], np.int64)),
            ]
        )
        with c.cursor().copy("COPY t FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(buf)
        rows = c.execute("SELECT a, b, c, d, e FROM t ORDER BY a").fetchall()
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    want = sorted(
        [
            (1, epoch, 1.5, 0, 2**62),
            (-2, epoch + dt.timedelta(microseconds=1_764_489_600_123_000), None, 7, -1),
            (2**31 - 1, epoch + dt.timedelta(microseconds=946_684_800_000_000), np.inf, -1, 0),
            (0, epoch + dt.timedelta(microseconds=int(ts[3]) // 1000), None, 32767, 5),
        ]
    )
    assert rows == want


def test_empty_and_mismatched_columns() -> None:
    assert binary.encode([Column("int4", np.zeros(0, np.int32))]) == binary.HEADER + binary.TRAILER
    with pytest.raises(ValueError, match="equal length"):
        binary.encode([Column("int4", np.zeros(2, np.int32)), Column("int8", np.zeros(1))])
