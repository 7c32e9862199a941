"""The SQL time truncation (store.queries.series.bucket_start), run on the real PostgreSQL,
puts every instant in the bucket the Python side (floor_bucket, behind bucket_spans)
starts it in: every bucket, across both DST changes of Berlin and in zones whose offsets
are not whole hours, so a series' rows and its bucket grid pair up."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from psycopg import sql

from carbonstream.store.db import connect
from carbonstream.store.queries.series import Bucket, bucket_start, floor_bucket

ZONES = ["Europe/Berlin", "Asia/Shanghai", "Asia/Kolkata", "America/St_Johns"]
# Instants 7 min 13 s apart over three days around each of Berlin's 2026 changes (29 March,
# 25 October), and over a month's end: every minute, quarter and hour boundary is crossed.
STARTS = [
    dt.datetime(2026, 3, 28, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 24, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
]
INSTANTS = [t0 + dt.timedelta(seconds=433 * i) for t0 in STARTS for i in range(3 * 86400 // 433)]


@pytest.mark.parametrize("bucket", list(Bucket))
def test_sql_bucket_start_equals_floor_bucket(db_url: str, bucket: Bucket) -> None:
    q = sql.SQL("SELECT t, {b} FROM unnest(%(ts)s::timestamptz[]) AS t ORDER BY t").format(
        b=bucket_start(bucket, sql.Identifier("t"))
    )
    with connect(db_url) as conn:
        for zone in ZONES:
            rows = conn.execute(q, {"ts": INSTANTS, "zone": zone}).fetchall()
            assert len(rows) == len(INSTANTS)
            # Compared in UTC: an aware time of a repeated hour equals no time of another zone.
            wrong = [
                (t, b, want)
                for t, b in rows
                if b.astimezone(dt.UTC)
                != (want := floor_bucket(t, bucket, ZoneInfo(zone)).astimezone(dt.UTC))
            ]
            assert wrong == [], (zone, bucket, wrong[:3])
