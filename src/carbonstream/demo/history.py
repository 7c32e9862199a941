"""The demo's past weeks: simulated readings with planted waste, stored before it goes live.

The opportunity detectors look at the last four weeks of stored data; a demo that
starts from an empty database would show none. So the demo first stores
``HISTORY_DAYS`` of the simulator's readings up to now through ingest's own commit
path (the transactions the ingest service runs), with three patterns planted
(``sim.patterns``) on meters of the example plant:

* the warehouse feeder left on at weekends (``WEEKEND_KW``, a compressor);
* the foundry incomer drifting up by ``DRIFT`` from ``DRIFT_DAYS`` days ago (a
  fouling chiller on that feeder);
* a movable batch on the warehouse feeder: the forklift chargers, ``BATCH_KW`` for
  ``BATCH_HOURS`` from ``BATCH_AT_HOUR`` on weekdays, in the day shift's peak. The
  plant file names it as a flexible load (``energy.flexible_loads``), so the demo's
  ``/v1/flexible-loads`` plans it for tomorrow. It is no waste: it runs in production
  hours, and the simulator lets a batch meter idle at its standby otherwise, so the
  feeder's weekend load stays the only idle load on it.

The live simulator then carries on from each counter's last stored register, so
the seam is neither a reset nor a jump. The history is unsigned (no gateway sent
it): the evidence says so for those readings. It is bucketed per 15 minutes
(``BASE_S``, the detectors' resolution) where live data is per minute: storing
four weeks per minute took 20-30 s of the demo's start on a busy 2-core host,
per 15 minutes a few seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from carbonstream.config.plant import Measures, Plant
from carbonstream.core import Engine, FactorLibrary
from carbonstream.sim.patterns import Pattern
from carbonstream.sim.readings import SimOptions, simulate

HISTORY_DAYS = 28  # the detectors' default window
STEP_S = 900  # counters every 15 minutes: the detectors' resolution (rate meters: 60 s)
WEEKEND_METER, WEEKEND_KW = "warehouse-power", 40.0
DRIFT_METER, DRIFT, DRIFT_DAYS = "foundry-grid", 0.20, 8.0
# The chargers' batch; the plant file's flexible load of that meter has the same kW
# and hours (tests/test_demo_history.py holds them equal).
BATCH_METER, BATCH_KW, BATCH_HOURS, BATCH_AT_HOUR = "warehouse-power", 80.0, 3, 10.0
CHUNK = 20_000  # readings per transaction
BASE_S = 900  # the history's buckets (ingest's are 60 s)


@dataclass(frozen=True)
class Seeded:
    readings: int
    start: dt.datetime
    end: dt.datetime
    registers: dict[str, float]  # counter meter -> raw register at ``end``


def patterns(plant: Plant, end: dt.datetime) -> tuple[Pattern, ...]:
    """The planted patterns, on the meters of the plant that have those ids."""
    ids = {m.id for m in plant.meters}
    out = []
    if WEEKEND_METER in ids:
        out.append(Pattern("weekend_idle", WEEKEND_METER, kw=WEEKEND_KW))
    if DRIFT_METER in ids:
        start = end - dt.timedelta(days=DRIFT_DAYS)
        out.append(Pattern("drift", DRIFT_METER, start=start, ramp_days=1.0, fraction=DRIFT))
    if BATCH_METER in ids:
        batch = Pattern("batch", BATCH_METER, kw=BATCH_KW, at_hour=BATCH_AT_HOUR, hours=BATCH_HOURS)
        out.append(batch)
    return tuple(out)


def seed(db_url: str, plant: Plant, end: dt.datetime, days: int = HISTORY_DAYS) -> Seeded:
    """Store ``days`` of simulated readings ending at ``end`` (aware, a whole minute) in
    the migrated database with the plant synced; the plant's meter state must be empty."""
    from carbonstream.ingest.commit import Committer, Part
    from carbonstream.store.db import connect
    from carbonstream.store.plant import sync_plant

    start = end - dt.timedelta(days=days)
    df = simulate(
        plant,
        SimOptions(start=start, hours=days * 24, step_s=STEP_S, patterns=patterns(plant, end)),
    )
    index = {m.id: i for i, m in enumerate(plant.meters)}
    meter = np.array([index[x] for x in df["meter"].to_list()], dtype=np.int32)
    ts = df["ts"].cast(int).to_numpy().astype(np.int64) * 1000  # us -> ns
    value = df["value"].to_numpy().astype(np.float64)
    keep = ts < int(end.timestamp()) * 1_000_000_000  # the live simulator reads ``end`` on
    meter, ts, value = meter[keep], ts[keep], value[keep]
    with connect(db_url) as conn:
        conn.autocommit = False
        keys = sync_plant(conn, plant)
        engine = Engine(plant, FactorLibrary.load(plant.factor_files), base_s=BASE_S)
        committer = Committer(engine, keys, lateness_s=86_400 * (days + 1))
        for lo in range(0, len(ts), CHUNK):
            sl = slice(lo, lo + CHUNK)
            part = Part(meter[sl], ts[sl], value[sl], np.zeros(len(ts[sl]), dtype=np.uint8))
            committer.commit(conn, part, None)
    registers = {}
    for m in plant.meters:
        if m.measures is Measures.COUNTER:
            mine = np.flatnonzero(meter == index[m.id])
            if len(mine):
                registers[m.id] = float(value[mine[np.argmax(ts[mine])]])
    return Seeded(len(ts), start, end, registers)
