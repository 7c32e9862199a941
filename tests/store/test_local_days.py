"""``site_day`` is the plant's days and ``site_hour`` UTC hours, on both database flavours.

0002 had them differ: on TimescaleDB ``site_day`` was a continuous aggregate of UTC
days, on plain PostgreSQL a view of the plant's days; the plain ``site_hour`` cut hours
in the reading session's TimeZone. 0041 gives each one meaning. A plant in Asia/Kolkata
(+05:30) tells all three apart: its midnight is 18:30 UTC, and its hours are not UTC
hours. Run on the shared PostgreSQL and on TimescaleDB 2.23 (PGlite, as in
tests/api/test_timescale.py, whose server fixture this borrows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from carbonstream.store.migrate import Flavour, migrate
from tests.api.test_timescale import timescale_url  # noqa: F401 - the server fixture

ZONE = "Asia/Kolkata"
UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=5, minutes=30))
# (UTC minute, scope 1 t): local 23:59 on the 21st, then 00:00, 05:20 and 05:40 on the 22nd.
MINUTES = [
    (dt.datetime(2026, 11, 21, 18, 29, tzinfo=UTC), 1.0),
    (dt.datetime(2026, 11, 21, 18, 30, tzinfo=UTC), 2.0),
    (dt.datetime(2026, 11, 21, 23, 50, tzinfo=UTC), 8.0),
    (dt.datetime(2026, 11, 22, 0, 10, tzinfo=UTC), 4.0),
]
# Worked by hand from MINUTES. UTC days would be {21st: 11, 22nd: 4}.
DAYS = [
    (dt.datetime(2026, 11, 21, tzinfo=LOCAL), 1.0),
    (dt.datetime(2026, 11, 22, tzinfo=LOCAL), 14.0),
]
# Session-local hours in Kolkata would start at :30 (17:30 1 t, 18:30 2 t, ...).
HOURS = [
    (dt.datetime(2026, 11, 21, 18, tzinfo=UTC), 3.0),
    (dt.datetime(2026, 11, 21, 23, tzinfo=UTC), 8.0),
    (dt.datetime(2026, 11, 22, 0, tzinfo=UTC), 4.0),
]


def _seed(conn: psycopg.Connection[Any]) -> None:
    conn.execute("INSERT INTO plant (name, timezone, config) VALUES ('pune', %s, '{}')", (ZONE,))
    row = conn.execute("INSERT INTO sites (id) VALUES ('press') RETURNING key").fetchone()
    assert row is not None
    for at, t in MINUTES:
        conn.execute(
            "INSERT INTO site_minute (site, bucket, scope1_t, grid_import_mwh)"
            " VALUES (%s, %s, %s, %s)",
            (row[0], at, t, 2 * t),
        )


def _check(conn: psycopg.Connection[Any]) -> None:
    # The reader's TimeZone must not matter: the plant's zone makes the days.
    conn.execute(f"SET TimeZone = '{ZONE}'")
    days = conn.execute(
        "SELECT bucket, scope1_t, grid_import_mwh FROM site_day ORDER BY bucket"
    ).fetchall()
    assert [(b, t, g) for b, t, g in days] == [(b, t, 2 * t) for b, t in DAYS]
    hours = conn.execute("SELECT bucket, scope1_t FROM site_hour ORDER BY bucket").fetchall()
    assert [(b, t) for b, t in hours] == HOURS


def test_plain_postgresql(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert migrate(conn)[0] is Flavour.PLAIN
        _seed(conn)
        _check(conn)


@pytest.mark.slow
def test_timescaledb(timescale_url: str) -> None:  # noqa: F811 - the fixture
    # PGlite serves one backend session to every client: no named prepared statements.
    with psycopg.connect(timescale_url, autocommit=True, prepare_threshold=None) as conn:
        assert migrate(conn)[0] is Flavour.TIMESCALE
        _seed(conn)
        conn.execute("CALL refresh_continuous_aggregate('site_hour', NULL, NULL)")
        aggregates = conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
        ).fetchall()
        assert [str(r[0]) for r in aggregates] == ["site_hour"]
        _check(conn)
