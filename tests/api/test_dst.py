"""Calendar buckets on a DST night, plant in Europe/Berlin: the fall-back day has 25 hours
and its repeated 02:00 hour is two buckets; spring-forward has 23. Data is committed
through ingest's own commit path (Committer), one reading a minute."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carbonstream.config.loader import load_plant
from carbonstream.core.batch import NS_PER_S
from carbonstream.core.calendar import bucket_start
from carbonstream.core.engine import Engine
from carbonstream.core.library import FactorLibrary
from carbonstream.ingest.commit import Committer, Part
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import sync_plant
from tests.api import data
from tests.api.conftest import Api, serve

KWH_PER_MIN = 0.3  # raw register units; x80 CT ratio = 24 kWh a minute (1.44 MW)
MWH_PER_H = KWH_PER_MIN * 80 * 60 / 1000


def _commit(db_url: str, plant_file: Path, start: str, end: str) -> None:
    plant = load_plant(plant_file)
    engine = Engine(plant, FactorLibrary.load(plant.factor_files))
    with connect(db_url) as conn:
        migrate(conn)
        conn.autocommit = False
        keys = sync_plant(conn, plant)
        c = Committer(engine, keys, lateness_s=86400)
        t0 = int(dt.datetime.fromisoformat(start).timestamp()) * NS_PER_S
        t1 = int(dt.datetime.fromisoformat(end).timestamp()) * NS_PER_S
        ts = np.arange(t0, t1 + 1, 60 * NS_PER_S, dtype=np.int64)
        meter = np.full(len(ts), engine.params.ids.index("assembly-grid"), np.int32)
        value = 1000.0 + KWH_PER_MIN * np.arange(len(ts), dtype=np.float64)
        c.commit(conn, Part(meter, ts, value, np.zeros(len(ts), np.uint8)), None)


@pytest.fixture
def berlin(migrated_db: str, tmp_path: Path) -> Iterator[Api]:
    plant_file = data.plant_variant(tmp_path / "berlin.yaml", timezone="Europe/Berlin")
    _commit(migrated_db, plant_file, "2026-03-28T20:00:00+00:00", "2026-03-30T04:00:00+00:00")
    _commit(migrated_db, plant_file, "2026-10-24T20:00:00+00:00", "2026-10-26T04:00:00+00:00")
    yield from serve(migrated_db, plant_file)


def _series(api: Api, bucket: str, start: str, end: str) -> list[dict[str, Any]]:
    r = api.client.get(
        "/v1/emissions",
        params={"bucket": bucket, "start": start, "end": end, "site": "assembly"},
        headers=api.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    points: list[dict[str, Any]] = r.json()["points"]
    return points


def test_fall_back_day_has_25_hours(berlin: Api) -> None:
    day = _series(berlin, "day", "2026-10-25T00:00", "2026-10-26T00:00")
    assert [p["start"] for p in day] == ["2026-10-25T00:00:00+02:00"]
    assert day[0]["grid_import_mwh"] == pytest.approx(25 * MWH_PER_H, rel=1e-9)
    hours = _series(berlin, "hour", "2026-10-25T00:00", "2026-10-26T00:00")
    starts = [str(p["start"]) for p in hours]
    assert len(starts) == 25
    assert starts[1:5] == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    assert all(p["grid_import_mwh"] == pytest.approx(MWH_PER_H, rel=1e-9) for p in hours)
    assert sum(float(p["scope2_location_t"]) for p in hours) == pytest.approx(
        float(day[0]["scope2_location_t"]),
        rel=1e-12,
    )


def test_spring_forward_day_has_23_hours(berlin: Api) -> None:
    day = _series(berlin, "day", "2026-03-29T00:00", "2026-03-30T00:00")
    assert [p["start"] for p in day] == ["2026-03-29T00:00:00+01:00"]
    assert day[0]["grid_import_mwh"] == pytest.approx(23 * MWH_PER_H, rel=1e-9)
    hours = _series(berlin, "hour", "2026-03-29T00:00", "2026-03-30T00:00")
    assert [p["start"] for p in hours][1:3] == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]


def test_buckets_agree_with_the_core_calendar(berlin: Api) -> None:
    """Every 15-minute, hour and day bucket the API returns starts where the core's
    calendar puts it, for a range over the whole fall-back night."""
    zone = load_plant(data.PLANT).model_copy(update={"timezone": "Europe/Berlin"}).zone
    for bucket in ("15min", "hour", "day"):
        pts = _series(berlin, bucket, "2026-10-24T23:00", "2026-10-26T03:00")
        for p in pts:
            t = dt.datetime.fromisoformat(str(p["start"]))
            ns = int(t.timestamp()) * NS_PER_S
            assert bucket_start(ns, bucket, zone) == ns, (bucket, p["start"])
        assert sum(float(p["grid_import_mwh"]) for p in pts) == pytest.approx(
            29 * MWH_PER_H,
            rel=1e-9,  # 23:00 to 03:00 two days on: 28 h on the clock + 1
        )


def _energy(api: Api, bucket: str, start: str, end: str) -> list[dict[str, Any]]:
    r = api.client.get(
        "/v1/energy",
        params={"bucket": bucket, "start": start, "end": end, "by": "meter"},
        headers=api.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    return [b for b in r.json()["buckets"] if b["meter"] == "assembly-grid"]


def test_energy_rows_follow_the_series_grid(berlin: Api) -> None:
    """/v1/energy has the emission series' buckets: 25 hours on the fall-back day (the
    repeated 02:00 twice), each fully covered, and a day without data as zeros."""
    hours = _energy(berlin, "hour", "2026-10-25T00:00", "2026-10-26T00:00")
    series = _series(berlin, "hour", "2026-10-25T00:00", "2026-10-26T00:00")
    assert [r["start"] for r in hours] == [p["start"] for p in series]
    assert len(hours) == 25
    for r in hours:
        assert r["coverage_pct"] == pytest.approx(100.0, rel=1e-12)
        assert r["electricity_mwh"] == pytest.approx(MWH_PER_H, rel=1e-9)
    days = _energy(berlin, "day", "2026-10-24T00:00", "2026-10-28T00:00")
    assert [r["start"][:10] for r in days] == [f"2026-10-{d}" for d in (24, 25, 26, 27)]
    assert days[1]["coverage_pct"] == pytest.approx(100.0, rel=1e-12)  # all 25 hours
    assert days[1]["electricity_mwh"] == pytest.approx(25 * MWH_PER_H, rel=1e-9)
    assert 0 < days[2]["coverage_pct"] < 100
    assert (
        days[3]["coverage_pct"] == 0
        and days[3]["electricity_mwh"] == 0
        and days[3]["total_tce"] == 0
    )
