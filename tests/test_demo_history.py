"""The demo's simulated past weeks: stored through ingest's commit path in the real
PostgreSQL, they make ``/v1/opportunities`` find the planted waste on the right meters,
``/v1/flexible-loads`` plan the planted batch for tomorrow, and the live simulator
carries on from the stored registers without a reset."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from carbonstream.config.loader import load_plant
from carbonstream.config.plant import Plant
from carbonstream.core import Engine, FactorLibrary
from carbonstream.core.energy import for_plant
from carbonstream.core.flags import Flag
from carbonstream.demo.history import (
    BATCH_AT_HOUR,
    BATCH_HOURS,
    BATCH_KW,
    BATCH_METER,
    DRIFT_METER,
    WEEKEND_KW,
    WEEKEND_METER,
    Seeded,
    seed,
)
from carbonstream.energy.flexible import site_history, tomorrow
from carbonstream.energy.stored import stored_opportunities
from carbonstream.ingest.commit import Committer, Part
from carbonstream.sim.plant_sim import PlantSimulator, SimOptions
from carbonstream.store.db import connect
from carbonstream.store.migrate import migrate
from carbonstream.store.plant import sync_plant
from tests.api.data import PLANT
from tests.services import PG_ADMIN_URL, create_db, drop_db, url_with_db

END = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 plant time


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[str, Plant, Seeded]]:
    name = create_db()
    url = url_with_db(PG_ADMIN_URL, name)
    plant = load_plant(PLANT)
    with connect(url) as conn:
        migrate(conn)
        conn.autocommit = False
        sync_plant(conn, plant)
        conn.commit()
    try:
        yield url, plant, seed(url, plant, END)
    finally:
        drop_db(name)


def _opportunities(url: str, plant: Plant) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        ep = for_plant(plant, Engine(plant, FactorLibrary.load(plant.factor_files)).params
                       .canonical_unit)  # fmt: skip
        async with await psycopg.AsyncConnection.connect(url) as conn:
            found, _ = await stored_opportunities(conn, ep, END)
        return found

    return asyncio.run(go())


def test_the_planted_waste_is_found_on_the_right_meters(
    seeded: tuple[str, Plant, Seeded],
) -> None:
    url, plant, s = seeded
    assert s.start == END - dt.timedelta(days=28) and s.readings > 0
    found = {(o["kind"], o["meter"]): o for o in _opportunities(url, plant)}
    idle = found[("idle_load", WEEKEND_METER)]
    drift = found[("drift", DRIFT_METER)]
    assert "sat" in idle["hours"] and "sun" in idle["hours"]
    # 40 kW all weekend, above the feeder's standby: 40 kW x 8 760 h x 2/7 = 100.11 MWh a year.
    assert idle["energy_unit"] == "MWh"
    assert idle["energy_per_year"] == pytest.approx(WEEKEND_KW * 8760 * 2 / 7 / 1000, rel=0.05)
    assert drift["tco2e_per_year"] > 0 and drift["energy_unit"] == "MWh"


def test_the_batch_is_no_false_opportunity(seeded: tuple[str, Plant, Seeded]) -> None:
    url, plant, _ = seeded
    found = _opportunities(url, plant)
    # The chargers run in production hours: the feeder's only idle load is the weekend's,
    # a batch at the same hours every weekday is no drift, and 80 kW is too little of the
    # site's peak to be worth moving for the demand charge: the planted waste is all.
    assert {(o["kind"], o["meter"]) for o in found} == {
        ("idle_load", WEEKEND_METER),
        ("drift", DRIFT_METER),
    }, found
    (idle,) = [o for o in found if o["meter"] == BATCH_METER]
    assert {h.split()[0] for h in idle["hours"].split(", ")} == {"sat", "sun"}, idle["hours"]


def test_the_batch_is_stored_as_planted(seeded: tuple[str, Plant, Seeded]) -> None:
    url, plant, s = seeded
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT e.bucket, e.quantity FROM emission_lines e JOIN meters m ON m.key = e.meter"
            " WHERE m.id = %s ORDER BY e.bucket",
            (BATCH_METER,),
        ).fetchall()
    zone = plant.zone
    first, last = s.start.astimezone(zone).date(), s.end.astimezone(zone).date()
    run: dict[dt.date, float] = {}
    rest: dict[dt.date, float] = {}
    for bucket, mwh in rows:
        local = bucket.astimezone(zone)
        if local.weekday() >= 5 or not first < local.date() < last:
            continue  # weekends carry the idle compressor; the ends are part days
        hour = local.hour + local.minute / 60
        if BATCH_AT_HOUR <= hour < BATCH_AT_HOUR + BATCH_HOURS:
            run[local.date()] = run.get(local.date(), 0.0) + float(mwh)
        elif hour >= BATCH_AT_HOUR + BATCH_HOURS + 1:
            rest[local.date()] = rest.get(local.date(), 0.0) + float(mwh)
    # 19 whole weekdays in the 28 days. Per run, the chargers' 80 kW x 3 h = 240 kWh on top
    # of the feeder's standby, taken as its mean kW from 14:00 to 24:00 of the same day.
    assert len(run) == 19 and run.keys() == rest.keys()
    after = 24 - (BATCH_AT_HOUR + BATCH_HOURS + 1)
    per_run_kwh = [(run[d] - rest[d] / after * BATCH_HOURS) * 1000 for d in run]
    assert BATCH_KW * BATCH_HOURS == 240
    assert float(np.mean(per_run_kwh)) == pytest.approx(240, rel=0.05)
    assert min(per_run_kwh) == pytest.approx(240, rel=0.05)


def test_the_batch_is_planned_for_tomorrow(seeded: tuple[str, Plant, Seeded]) -> None:
    url, plant, _ = seeded
    (load,) = [f for f in plant.energy.flexible_loads if f.meter == BATCH_METER]
    assert (load.kw, load.hours) == (BATCH_KW, BATCH_HOURS)  # the plant file names the batch

    async def go() -> tuple[list[dict[str, Any]], float]:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            factor, _ = await site_history(conn, plant, load.site, END)
            return await tomorrow(conn, plant, END), factor

    plans, factor = asyncio.run(go())
    (plan,) = [p for p in plans if p["load"] == load.id]
    assert plan["day"] == "2026-12-01" and plan["meter"] == BATCH_METER
    start, end = int(plan["start"][:2]), int(plan["end"][:2])
    assert end - start == BATCH_HOURS and start >= 6 and end <= 22
    # With no PV surplus (evenings), 80 kW x 3 h = 0.24 MWh of grid power at the site's
    # own location-based factor of the last 7 days; the weekend's PV export makes midday
    # cheaper, so the plan is neither flat nor the worst.
    assert factor > 0
    assert plan["worst_tco2e"] == pytest.approx(BATCH_KW * BATCH_HOURS / 1000 * factor, rel=1e-9)
    assert 0 < plan["tco2e"] < plan["worst_tco2e"] and not plan["all_hours_alike"]
    assert start >= 9 and end <= 16  # around noon, where the PV export is


def test_the_live_simulator_carries_on_from_the_stored_registers(
    seeded: tuple[str, Plant, Seeded],
) -> None:
    url, plant, s = seeded
    sim = PlantSimulator(plant, SimOptions(opcua_port=None, start_values=s.registers))
    index = {m.id: i for i, m in enumerate(plant.meters)}
    meter = "assembly-grid"  # a counter with a register range
    with connect(url) as conn:
        last = conn.execute(
            "SELECT r.ts, r.value FROM readings r JOIN meters m ON m.key = r.meter"
            " WHERE m.id = %s ORDER BY r.ts DESC LIMIT 1",
            (meter,),
        ).fetchone()
    assert last is not None and sim.state[meter].value == pytest.approx(last[1])
    # A live reading a minute after the history ends, 1 000 kW x 1 min more than the last
    # stored register (80 x CT: 1000 / 80 / 60 raw): an ordinary interval from the last
    # stored reading, counted in full (16.67 kWh), neither a reset nor a jump.
    engine = Engine(plant, FactorLibrary.load(plant.factor_files), base_s=60)
    ts = int(END.timestamp()) * 1_000_000_000 + 60 * 1_000_000_000
    part = Part(
        np.array([index[meter]], dtype=np.int32),
        np.array([ts], dtype=np.int64),
        np.array([last[1] + 1000 / 80 / 60], dtype=np.float64),
        np.zeros(1, dtype=np.uint8),
    )
    with connect(url) as conn:
        conn.autocommit = False
        Committer(engine, sync_plant(conn, plant), lateness_s=3600).commit(conn, part, None)
        row = conn.execute(
            "SELECT sum(quantity), bit_or(flags) FROM emission_lines e JOIN meters m"
            " ON m.key = e.meter WHERE m.id = %s AND e.bucket >= %s",
            (meter, last[0]),
        ).fetchone()
    assert row is not None
    assert row[0] == pytest.approx(1000 / 60 / 1000, rel=1e-6)  # MWh
    assert not int(row[1]) & (Flag.RESET | Flag.IMPLAUSIBLE)
