"""The flexible-load history's hours are the plant's hours, whatever the session's zone.

A plant in Asia/Kolkata (+05:30): its hours start at :30 UTC. Worked by hand: grid
import at 10:20, 10:40 and 11:10 UTC (15:50, 16:10, 16:40 local) is 1 MWh in the local
hour 15:00 and 6 MWh in 16:00. UTC hours (the session's date_trunc the query used to
run) would say 3 MWh at 10:00 and 4 at 11:00 UTC.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from carbonstream.store.queries.energy import site_meter_hours

UTC = dt.UTC
LOCAL = dt.timezone(dt.timedelta(hours=5, minutes=30))


def _store(url: str) -> None:
    with psycopg.connect(url) as conn:
        site = conn.execute("INSERT INTO sites (id) VALUES ('press') RETURNING key").fetchone()
        assert site is not None
        meters = {}
        for mid, kind in (("press-grid", "grid_import"), ("press-gas", "fuel")):
            row = conn.execute(
                "INSERT INTO meters (id, site, kind, measures, unit, config)"
                " VALUES (%s, %s, %s, 'energy', 'MWh', '{}') RETURNING key",
                (mid, site[0], kind),
            ).fetchone()
            assert row is not None
            meters[mid] = row[0]
        for meter, hh, mm, qty in [
            ("press-grid", 10, 20, 1.0),
            ("press-grid", 10, 40, 2.0),
            ("press-grid", 11, 10, 4.0),
            ("press-gas", 10, 40, 8.0),  # another kind: not asked for
        ]:
            conn.execute(
                "INSERT INTO emission_lines (meter, bucket, site, role, quantity, covered_s,"
                " n_intervals, flags, co2_t, ch4_t, n2o_t, co2e_t, lineage_id)"
                " VALUES (%s, %s, %s, 1, %s, 60, 1, 0, 0, 0, 0, %s, 1)",
                (
                    meters[meter],
                    dt.datetime(2026, 11, 3, hh, mm, tzinfo=UTC),
                    site[0],
                    qty,
                    qty / 2,
                ),
            )


async def test_hours_are_the_plants_in_a_half_hour_zone(migrated_url: str) -> None:
    _store(migrated_url)
    start = dt.datetime(2026, 11, 3, tzinfo=UTC)
    async with await psycopg.AsyncConnection.connect(
        migrated_url, options="-c TimeZone=UTC"
    ) as conn:
        rows = await site_meter_hours(
            conn, "press", ["grid_import"], start, start + dt.timedelta(days=1), "Asia/Kolkata"
        )
    assert sorted(rows) == [
        (dt.datetime(2026, 11, 3, 15, tzinfo=LOCAL), "grid_import", 1.0, 0.5),
        (dt.datetime(2026, 11, 3, 16, tzinfo=LOCAL), "grid_import", 6.0, 3.0),
    ]
