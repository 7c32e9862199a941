"""GET /v1/energy on the ingested example plant equals `carbonstream compute`'s energy block
on the same readings (stored per-minute quantities vs the batch account)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from psycopg import sql

from carbonstream import report
from carbonstream.compute import run
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.store.db import connect
from tests.api.conftest import Api, serve
from tests.ingest import helpers as h

ZONE = ZoneInfo("Asia/Shanghai")  # the example plant's


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    ex = h.example()
    acc = run(Engine(ex.plant, FactorLibrary.load(ex.plant.factor_files)), ex.batch)
    energy: dict[str, Any] = report.build(acc, "day")["energy"]
    return energy


def get(api: Api, **params: Any) -> Any:
    r = api.client.get("/v1/energy", params=params, headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def close(a: dict[str, Any], b: dict[str, Any]) -> None:
    for k, v in b.items():
        if isinstance(v, float):
            assert a[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
        else:
            assert a[k] == v, k


def test_stored_energy_equals_compute(example: Api, computed: dict[str, Any]) -> None:
    body = get(example, month="2026-11")
    t = body["totals"]
    close(t["plant"], computed["totals"]["plant"])
    for group in ("site", "line", "meter"):
        assert t[group].keys() == computed["totals"][group].keys()
        for name, want in computed["totals"][group].items():
            close(t[group][name], want)
    assert t["plant"]["total_tce"] > 0
    # On-site PV is apart from the total, green power inside it and deducted beside it.
    assert t["plant"]["onsite_renewable_tce"] > 0 and t["plant"]["green_power_mwh"] > 0
    assert t["plant"]["total_excl_green_tce"] == pytest.approx(
        t["plant"]["total_tce"] - 0.1229 * t["plant"]["green_power_mwh"], rel=1e-12
    )
    assert body["equal_values"][0]["verified"] == "memory"
    assert body["equal_values"][0]["fallback"]


def test_per_bucket_rows_by_meter_and_day(example: Api, computed: dict[str, Any]) -> None:
    body = get(example, month="2026-11", by="meter", bucket="day")
    rows = body["buckets"]
    assert {r["meter"] for r in rows} <= set(computed["totals"]["meter"])
    total = sum(r["total_tce"] for r in rows)
    assert total == pytest.approx(computed["totals"]["plant"]["total_tce"], rel=1e-9)
    days = sorted({r["start"][:10] for r in rows})
    assert days == [f"2026-11-{d:02d}" for d in range(1, 31)]  # every day of the month
    assert all(r["start"].endswith("+08:00") for r in rows)
    assert min(r["start"][:10] for r in rows if r["coverage_pct"] > 0) == "2026-11-22"
    plant = get(example, month="2026-11", by="plant", bucket="month")["buckets"]
    assert len(plant) == 1
    assert plant[0]["total_tce"] == pytest.approx(total, rel=1e-9)


def test_bad_requests_are_problems(example: Api) -> None:
    h_ = example.headers("viewer")
    r = example.client.get("/v1/energy", params={"month": "2026-13"}, headers=h_)
    assert r.status_code == 422
    r = example.client.get(
        "/v1/energy", params={"month": "2026-11", "start": "2026-11-01"}, headers=h_
    )
    assert r.status_code == 422 and r.json()["type"].endswith("invalid-period")
    r = example.client.get(
        "/v1/energy",
        params={"start": "2026-01-01", "end": "2026-11-30", "bucket": "minute"},
        headers=h_,
    )
    assert r.status_code == 422
    assert example.client.get("/v1/energy").status_code == 401


def _local_day(t: dt.datetime) -> dt.datetime:
    d = t.astimezone(ZONE).date()
    return dt.datetime(d.year, d.month, d.day, tzinfo=ZONE)


def test_a_day_without_data_is_a_row_of_zeros(example_db: str) -> None:
    """The stored day in the middle of the data is deleted: /v1/energy still has a row per
    day and group, the empty day's zeros with coverage_pct 0, and every meter's coverage is
    the one its own series shows."""
    with connect(example_db) as conn:
        row = conn.execute("SELECT min(bucket), max(bucket) FROM emission_lines").fetchone()
        assert row is not None
        lo, hi = row
        first, last = _local_day(lo), _local_day(hi) + dt.timedelta(days=1)
        days = (last - first).days
        assert days >= 3
        gap = first + dt.timedelta(days=days // 2)
        for table in ("emission_lines", "site_minute"):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE bucket >= %s AND bucket < %s").format(
                    sql.Identifier(table)
                ),
                (gap, gap + dt.timedelta(days=1)),
            )
        conn.commit()
    period = {
        "start": first.strftime("%Y-%m-%dT00:00:00"),
        "end": last.strftime("%Y-%m-%dT00:00:00"),
    }
    for api in serve(example_db):
        by_site = get(api, **period, bucket="day", by="site")
        sites = list(by_site["totals"]["site"])
        rows = by_site["buckets"]
        want = [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]
        assert [r["start"] for r in rows] == [d for d in want for _ in sites]
        assert [r["site"] for r in rows] == sites * days
        empty = [r for r in rows if r["start"] == gap.isoformat()]
        assert len(empty) == len(sites)
        for r in empty:
            assert r["coverage_pct"] == 0 and r["total_tce"] == 0 and r["total_equal_tce"] == 0
            assert r["green_power_mwh"] == 0
        assert all(
            r["coverage_pct"] > 0
            for r in rows
            if r["start"] == first.isoformat()
            and by_site["totals"]["site"][r["site"]]["total_tce"] > 0
        )
        total = sum(r["total_tce"] for r in rows)
        assert total == pytest.approx(by_site["totals"]["plant"]["total_tce"], rel=1e-9)
        # The empty day's hours are there too, in order, as zeros.
        hours = get(
            api,
            start=gap.strftime("%Y-%m-%dT00:00:00"),
            end=(gap + dt.timedelta(days=1)).strftime("%Y-%m-%dT00:00:00"),
            bucket="hour",
            by="plant",
        )["buckets"]
        assert [r["start"] for r in hours] == [
            (gap + dt.timedelta(hours=i)).isoformat() for i in range(24)
        ]
        assert all(r["coverage_pct"] == 0 and r["total_tce"] == 0 for r in hours)
        # A meter's coverage per day is its series' coverage_pct, the gap day included.
        by_meter = get(api, **period, bucket="day", by="meter")["buckets"]
        for meter in {r["meter"] for r in by_meter}:
            s = api.client.get(
                f"/v1/meters/{meter}/emissions",
                params={**period, "bucket": "day"},
                headers=api.headers("viewer"),
            ).json()["points"]
            mine = [r for r in by_meter if r["meter"] == meter]
            assert [r["start"] for r in mine] == [p["start"] for p in s]
            for r, p in zip(mine, s, strict=True):
                assert r["coverage_pct"] == pytest.approx(p["coverage_pct"], rel=1e-12)
        assert any(r["coverage_pct"] > 0 for r in by_meter)
